// Serves the demo (www/) with the Vite dev server on 127.0.0.1 and prints its URL.
//   node scripts/serve-www.mjs [--port N]     (PORT=N works too; default 5173,
//                                              the next free one if taken)
// VITE_SYNC_URL (set by scripts/dev) is the sync server the demo syncs with.
// Used by scripts/dev (after setup + build) and by tests/e2e/demo.test.mjs.
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Starts the demo's Vite dev server. Returns { url, server, close }.
 * `port: 0` with strictPort picks any free port.
 */
export async function startDemoServer({ port = 5173, strictPort = false, logLevel = 'info', syncUrl = process.env.VITE_SYNC_URL } = {}) {
  const { createServer } = await import('vite')
  const server = await createServer({
    configFile: join(repo, 'www', 'vite.config.js'),
    // The sync server's URL, for the demo's leader worker (undefined: no sync).
    define: { 'import.meta.env.VITE_SYNC_URL': JSON.stringify(syncUrl ?? '') },
    logLevel,
    server: { host: '127.0.0.1', port, strictPort },
  })
  await server.listen()
  const addr = server.httpServer.address()
  const url = `http://127.0.0.1:${addr.port}/`
  return { url, server, close: () => server.close() }
}

async function main() {
  const i = process.argv.indexOf('--port')
  const port = Number(i >= 0 ? process.argv[i + 1] : (process.env.PORT ?? 5173))
  const { url, close } = await startDemoServer({ port })
  console.log(`\nlivestore-rs demo: ${url}\n(Ctrl+C to stop)`)
  const stop = async () => {
    await close()
    process.exit(0)
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
