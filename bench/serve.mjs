// A tiny static server for bench/dist on 127.0.0.1 with the headers that
// cross-origin isolation needs (SharedArrayBuffer, precise timers,
// performance.measureUserAgentSpecificMemory) and that OPFS workers accept.
import { createServer } from 'node:http'
import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, resolve, sep } from 'node:path'

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
}

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
}

/** Serves `root` on 127.0.0.1 (port 0: any free port). Resolves to { url, close }. */
export function serve(root, { port = 0 } = {}) {
  const base = resolve(root)
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://127.0.0.1')
      let path = normalize(join(base, decodeURIComponent(url.pathname)))
      if (path !== base && !path.startsWith(base + sep)) {
        res.writeHead(403).end()
        return
      }
      let s = await stat(path).catch(() => null)
      if (s?.isDirectory()) {
        path = join(path, 'index.html')
        s = await stat(path).catch(() => null)
      }
      if (!s) {
        res.writeHead(404, ISOLATION_HEADERS).end('not found')
        return
      }
      const body = await readFile(path)
      res.writeHead(200, {
        ...ISOLATION_HEADERS,
        'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream',
        'Content-Length': body.length,
        'Cache-Control': 'no-store',
      })
      res.end(req.method === 'HEAD' ? undefined : body)
    } catch (e) {
      res.writeHead(500).end(String(e))
    }
  })
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const { port: p } = server.address()
      resolvePromise({
        url: `http://127.0.0.1:${p}`,
        close: () => new Promise((r) => server.close(() => r())),
      })
    })
  })
}
