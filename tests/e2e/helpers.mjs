// Shared helpers of the end-to-end tests (node:test + playwright-core).
//
// - Chromium is the Debian one (/usr/bin/chromium, or $CHROMIUM_PATH); nothing
//   downloads a browser. Playwright gives every launch a fresh temporary profile
//   (user-data-dir) and removes it on close.
// - Servers listen on 127.0.0.1 only, on a free port.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, mkdir, readFile, stat, symlink } from 'node:fs/promises'
import { createServer } from 'node:http'
import { connect as netConnect, createServer as createNetServer } from 'node:net'
import { dirname, extname, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The built npm package (scripts/build). LIVESTORE_PKG_DIR overrides it. */
export const PKG_DIR = process.env.LIVESTORE_PKG_DIR
  ? resolve(process.env.LIVESTORE_PKG_DIR)
  : join(REPO_ROOT, 'pkg')

export const RESULTS_DIR = join(REPO_ROOT, 'test-results')

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

/** The Chromium flags of the project's tests (see shared DESIGN.md, Conventions). */
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/** Throws a clear error unless scripts/build has produced the package. */
export function assertPkgBuilt() {
  for (const f of ['package.json', 'livestore_rs.js', 'livestore_rs_bg.wasm']) {
    if (!existsSync(join(PKG_DIR, f))) {
      throw new Error(`${join(PKG_DIR, f)} is missing: run scripts/build first`)
    }
  }
}

/** Launches the Debian Chromium headless with a fresh profile (and `extraArgs`). */
export async function launchChromium(extraArgs = []) {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} not found: run scripts/setup (Debian package chromium)`)
  }
  const { chromium } = await import('playwright-core')
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs], headless: true, timeout: 60_000 })
}

/**
 * Opens a page that records uncaught errors and console errors, so that a
 * failing assertion can show what went wrong inside the page.
 */
export async function openPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } })
  const page = await context.newPage()
  const problems = []
  watchPage(page, problems)
  return { context, page, problems }
}

/** Collects the page's errors, failed requests and HTTP errors into `problems`. */
export function watchPage(page, problems) {
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.stack || err.message}`))
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console.error: ${msg.text()}`)
  })
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`))
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`)
  })
  return page
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createNetServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolvePort(port))
    })
  })
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
}

/**
 * Serves `dir` statically on 127.0.0.1 (a free port). Returns { url, close }.
 * `.wasm` is served as application/wasm (for WebAssembly.instantiateStreaming).
 * `routes` maps a path to a function `(req) => [status, contentType, body]`
 * answered instead of a file (a stand-in for an app's backend).
 */
export async function startStaticServer(dir, { port = 0, routes = {} } = {}) {
  const root = resolve(dir)
  const server = createServer(async (req, res) => {
    try {
      const pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname)
      if (Object.hasOwn(routes, pathname)) {
        const [status, type, body] = await routes[pathname](req)
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body)
        return
      }
      let file = normalize(join(root, pathname))
      if (file !== root && !file.startsWith(root + sep)) {
        res.writeHead(403).end()
        return
      }
      let st = await stat(file).catch(() => null)
      if (st?.isDirectory()) {
        file = join(file, 'index.html')
        st = await stat(file).catch(() => null)
      }
      if (!st?.isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
        return
      }
      const body = await readFile(file)
      res.writeHead(200, {
        'content-type': MIME[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      })
      res.end(req.method === 'HEAD' ? undefined : body)
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err))
    }
  })
  await new Promise((ok, fail) => {
    server.once('error', fail)
    server.listen(port, '127.0.0.1', ok)
  })
  const url = `http://127.0.0.1:${server.address().port}/`
  return {
    url,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections?.()
        server.close(() => ok())
      }),
  }
}

/** A TCP proxy to `port` on 127.0.0.1 that can be cut (its clients are offline) and restored. */
export async function startProxy(port) {
  const sockets = new Set()
  let up = true
  const server = createNetServer((client) => {
    if (!up) return client.destroy()
    const upstream = netConnect(port, '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {})
    }
    client.pipe(upstream)
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok))
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    cut() {
      up = false
      for (const s of sockets) s.destroy()
    },
    restore() {
      up = true
    },
    close: () => new Promise((ok) => server.close(ok)),
  }
}

/** Polls `url` until it answers with a status below 500, or throws after `timeoutMs`. */
export async function waitForUrl(url, { timeoutMs = 30_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs
  let last
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      await res.arrayBuffer()
      if (res.status < 500) return res
      last = new Error(`HTTP ${res.status}`)
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms: ${last?.message ?? last}`)
}

/** The environment for child npm/vite processes: without npm's run-script variables. */
export function childEnv(extra = {}) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k)) env[k] = v
  }
  return { ...env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1', ...extra }
}

/**
 * Runs a command to completion; resolves with its output, rejects (with the
 * output in the message) on a non-zero exit or after `timeoutMs`.
 */
export function run(cmd, args, { cwd, env = childEnv(), timeoutMs = 180_000 } = {}) {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      fail(err)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) ok(out)
      else fail(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited with ${code ?? signal}:\n${out}`))
    })
  })
}

/**
 * Starts a long-running process (e.g. a dev server) and returns { child, output, stop }.
 * `stop` ends it (and its process group) and waits for it to exit.
 */
export function startProcess(cmd, args, { cwd, env = childEnv() } = {}) {
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const output = { text: '' }
  child.stdout.on('data', (d) => (output.text += d))
  child.stderr.on('data', (d) => (output.text += d))
  const exited = new Promise((ok) => child.on('close', ok))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM')
      } catch {}
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL')
        } catch {}
      }, 5_000)
      await exited
      clearTimeout(t)
    }
  }
  return { child, output, stop }
}

/** Path of a file in test-results/ (created on demand). */
export async function resultPath(name) {
  await mkdir(RESULTS_DIR, { recursive: true })
  return join(RESULTS_DIR, name)
}

/** Formats the problems a page recorded, for an assertion message. */
export function describeProblems(problems) {
  return problems.length ? `\npage problems:\n  ${problems.join('\n  ')}` : ''
}

/**
 * Copies the Vite app `tests/<name>` into `dir`/app, links pkg/ as its
 * `livestore-rs` (what `npm install <repo>/pkg` makes, without npm), links
 * `links` (package names) from the workspace's node_modules, and builds it once
 * per entry of `builds` ({ outDir, env }).
 */
export async function buildTestApp(name, dir, builds, links = []) {
  const app = join(dir, 'app')
  await cp(join(REPO_ROOT, 'tests', name), app, {
    recursive: true,
    filter: (src) => !/[\\/](node_modules|dist)([\\/]|$)/.test(src.slice(REPO_ROOT.length)),
  })
  await mkdir(join(app, 'node_modules'), { recursive: true })
  await symlink(PKG_DIR, join(app, 'node_modules', 'livestore-rs'), 'dir')
  for (const name of links) {
    await mkdir(dirname(join(app, 'node_modules', name)), { recursive: true })
    await symlink(join(REPO_ROOT, 'node_modules', name), join(app, 'node_modules', name), 'dir')
  }
  const vite = join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js')
  for (const { outDir, env } of builds) {
    await run(process.execPath, [vite, 'build', '--logLevel', 'warn', '--outDir', outDir, '--emptyOutDir'], { cwd: app, env: childEnv(env) })
  }
  return app
}
