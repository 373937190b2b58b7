// Vite config of the demo (www/). `livestore-rs` resolves to the package that
// scripts/build writes to ../pkg (LIVESTORE_PKG_DIR overrides it), so the demo
// runs from a fresh clone after `scripts/dev` without any npm link.
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '..')
const pkg = process.env.LIVESTORE_PKG_DIR ? resolve(process.env.LIVESTORE_PKG_DIR) : join(repo, 'pkg')

export default defineConfig({
  root: here,
  plugins: [react()],
  resolve: {
    alias: [
      { find: /^livestore-rs$/, replacement: join(pkg, 'index.js') },
      { find: /^livestore-rs\/(.*)$/, replacement: join(pkg, '$1') },
    ],
  },
  // pkg/ is source to Vite (not a pre-bundled dependency): its wasm is loaded
  // with `new URL('livestore_rs_bg.wasm', import.meta.url)`.
  optimizeDeps: { exclude: ['livestore-rs'] },
  server: {
    host: '127.0.0.1',
    port: 5173,
    fs: { allow: [here, pkg, join(repo, 'node_modules')] },
  },
  preview: { host: '127.0.0.1' },
  build: {
    outDir: join(repo, 'target', 'www-dist'),
    emptyOutDir: true,
    // Two pages: the demo, and the devtools page that inspects its store.
    rollupOptions: { input: { main: join(here, 'index.html'), devtools: join(here, 'devtools', 'index.html') } },
  },
  clearScreen: false,
})
