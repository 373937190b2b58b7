// What Vite's `vite/client` types declare for `?worker` imports (this app has no vite in its node_modules).
declare module '*?worker' {
  const WorkerConstructor: { new (options?: { name?: string }): Worker }
  export default WorkerConstructor
}
