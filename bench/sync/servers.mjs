// The servers of W8, started by bench/run.mjs on 127.0.0.1 and stopped at the end:
//
//   - livestore-rs's sync server: the real binary (`cargo build --profile server
//     -p livestore-rs-server`), storage in a SQLite file in a temp directory;
//   - LiveStore's own sync backend, @livestore/sync-cf (sync-cf/worker.js: a
//     Worker and its Durable Object), under `wrangler dev --local`, offline
//     (see startSyncCf for what keeps wrangler and miniflare off the network);
//   - the WebSocket echo server (echo-server.mjs): the loopback round trip as
//     the floor, and the clock both browser processes are compared on.
//
// With `strace: true` each server runs under `strace -f -e trace=connect` and
// `offlineReport()` lists every address its processes connected to.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const bench = resolve(here, '..')
const repo = resolve(bench, '..')
const log = (...a) => console.error('[bench]', ...a)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

export const WRANGLER_VERSION = '4.42.2'

export const targetDir = () => (process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repo, 'target'))
export const serverBinary = () => join(targetDir(), 'server', 'livestore-rs-server')
export const loadgenBinary = () => join(targetDir(), 'server', 'examples', 'loadgen')

/** Builds the sync server and the load generator (cargo: a no-op when they are up to date). */
export function buildServer() {
  const t = Date.now()
  execFileSync('cargo', ['build', '--profile', 'server', '-p', 'livestore-rs-server', '--bin', 'livestore-rs-server', '--example', 'loadgen', '--features', 'loadgen'], {
    cwd: repo,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  log(`cargo build --profile server -p livestore-rs-server (${Date.now() - t} ms)`)
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer()
    s.once('error', rej)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => res(port))
    })
  })
}

function portOpen(port) {
  return new Promise((res) => {
    const c = connect({ host: '127.0.0.1', port })
    c.once('connect', () => {
      c.destroy()
      res(true)
    })
    c.once('error', () => res(false))
  })
}

// The process groups started here, ended when this process exits (also on
// Ctrl-C: they are in groups of their own, so the terminal's SIGINT misses them).
const running = new Set()
const tempDirs = new Set() // removed on exit unless removed or kept before
let exitHooked = false
function endOnExit(pid) {
  running.add(pid)
  if (exitHooked) return
  exitHooked = true
  process.on('exit', () => {
    for (const p of running) {
      try {
        process.kill(-p, 'SIGTERM')
      } catch {}
    }
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
  })
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(130))
}

/**
 * Starts a process in its own process group (so that stopping it reaches
 * its children: wrangler runs workerd and esbuild), optionally under strace.
 * Output goes to `logFile`.
 */
function startProcess(name, cmd, args, { cwd, env, logFile, strace }) {
  let file = cmd
  let argv = args
  let straceFile
  if (strace) {
    straceFile = `${logFile}.strace`
    file = 'strace'
    argv = ['-f', '-qq', '-e', 'trace=connect', '-e', 'signal=none', '-o', straceFile, cmd, ...args]
  }
  const out = []
  const proc = spawn(file, argv, { cwd, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
  const write = (d) => {
    out.push(d)
    if (logFile) writeFileSync(logFile, d, { flag: 'a' })
  }
  proc.stdout.on('data', write)
  proc.stderr.on('data', write)
  let exited = null
  endOnExit(proc.pid)
  const exit = new Promise((r) =>
    proc.once('exit', (code, signal) => {
      running.delete(proc.pid)
      r((exited = { code, signal }))
    }),
  )
  return {
    name,
    proc,
    straceFile,
    output: () => Buffer.concat(out).toString(),
    exited: () => exited,
    async stop() {
      if (exited) return
      try {
        process.kill(-proc.pid, 'SIGTERM') // its process group: the one we started
      } catch {}
      const t = setTimeout(() => {
        try {
          process.kill(-proc.pid, 'SIGKILL')
        } catch {}
      }, 10_000)
      await exit
      clearTimeout(t)
    },
  }
}

async function waitFor(p, check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (p.exited()) throw new Error(`${p.name} exited (${JSON.stringify(p.exited())}) before ${what}:\n${p.output().slice(-3000)}`)
    if (await check()) return
    if (Date.now() > deadline) {
      await p.stop()
      throw new Error(`${p.name}: no ${what} after ${timeoutMs} ms:\n${p.output().slice(-3000)}`)
    }
    await sleep(100)
  }
}

/** livestore-rs's sync server on `port`, its SQLite file in `dir`. */
export async function startRsServer({ port, dir, strace = false, name = 'livestore-rs-server' }) {
  const bin = serverBinary()
  if (!existsSync(bin)) throw new Error(`no ${bin}: cargo build --profile server -p livestore-rs-server`)
  mkdirSync(dir, { recursive: true })
  const data = join(dir, 'sync.db')
  const p = startProcess(name, bin, ['--host', '127.0.0.1', '--port', String(port), '--data', data], {
    cwd: dir,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info' },
    logFile: join(dir, 'server.log'),
    strace,
  })
  await waitFor(p, () => portOpen(port), 15_000, `listening on ${port}`)
  return { ...p, url: `ws://127.0.0.1:${port}`, port, storage: `SQLite file (${data})` }
}

/**
 * LiveStore's sync backend under `wrangler dev --local` on `port`, offline:
 *   - no CLOUDFLARE_* variables; WRANGLER_SEND_METRICS=false, WRANGLER_SEND_ERROR_REPORTS=false;
 *   - wrangler's update check (a request to the npm registry) finds a fresh
 *     answer in its cache, `$TMPDIR/update-check/wrangler-latest.json`, with
 *     TMPDIR a temp directory of ours;
 *   - miniflare fetches https://workers.cloudflare.com/cf.json (the
 *     `request.cf` object) unless `node_modules/.mf/cf.json`, relative to its
 *     working directory, exists and is less than 30 days old: a placeholder
 *     is written there (bench/node_modules/.mf/cf.json) before each start;
 *   - its global config and logs (XDG_CONFIG_HOME, WRANGLER_LOG_PATH) and the
 *     Durable Object's state (--persist-to) go to the temp directory;
 *   - no config watching, no interactive session, the inspector on a free port of 127.0.0.1.
 */
export async function startSyncCf({ port, dir, strace = false }) {
  mkdirSync(join(dir, 'tmp', 'update-check'), { recursive: true })
  writeFileSync(join(dir, 'tmp', 'update-check', 'wrangler-latest.json'), JSON.stringify({ latest: WRANGLER_VERSION, lastUpdate: Date.now() }))
  const cfJson = join(bench, 'node_modules', '.mf', 'cf.json')
  mkdirSync(dirname(cfJson), { recursive: true })
  writeFileSync(cfJson, JSON.stringify({ colo: 'LOCAL', country: 'XX', city: 'bench', asn: 0, httpProtocol: 'HTTP/1.1', tlsVersion: 'none', note: 'placeholder written by bench/sync/servers.mjs so that miniflare does not fetch it' }) + '\n')
  const nowS = Date.now() / 1000
  utimesSync(cfJson, nowS, nowS)
  const env = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CLOUDFLARE_') && !k.startsWith('CF_')) env[k] = v
  Object.assign(env, {
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_SEND_ERROR_REPORTS: 'false',
    WRANGLER_CI_DISABLE_CONFIG_WATCHING: 'true',
    TMPDIR: join(dir, 'tmp'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    WRANGLER_LOG_PATH: join(dir, 'logs'),
    NO_COLOR: '1',
    CI: '1',
  })
  const wrangler = join(bench, 'node_modules', 'wrangler', 'bin', 'wrangler.js')
  if (!existsSync(wrangler)) throw new Error(`no ${wrangler}: npm ci in bench/`)
  const inspectorPort = await freePort()
  const args = [
    wrangler,
    'dev',
    '--config', join(here, '..', 'sync-cf', 'wrangler.toml'),
    '--local',
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--inspector-port', String(inspectorPort),
    '--persist-to', join(dir, 'state'),
    '--show-interactive-dev-session=false',
    '--log-level', 'warn',
  ]
  const p = startProcess('wrangler dev (@livestore/sync-cf)', process.execPath, args, { cwd: bench, env, logFile: join(dir, 'wrangler.log'), strace })
  // Ready once the Worker answers (it says what it is on GET /).
  const ready = async () => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`)
      const text = await r.text()
      return r.ok && /sync-cf/.test(text)
    } catch {
      return false
    }
  }
  await waitFor(p, ready, 120_000, `Worker answering on ${port}`)
  return { ...p, url: `ws://127.0.0.1:${port}`, port, storage: 'Durable Object SQLite (wrangler dev --local, --persist-to a temp directory)' }
}

/** The echo server (echo-server.mjs) on a free port. */
export async function startEcho({ dir }) {
  const p = startProcess('echo server', process.execPath, [join(here, 'echo-server.mjs'), '0'], { cwd: dir, env: process.env, logFile: join(dir, 'echo.log') })
  let port
  await waitFor(p, () => (port = /"port":(\d+)/.exec(p.output())?.[1]) !== undefined, 10_000, 'port')
  return { ...p, url: `ws://127.0.0.1:${port}`, port: Number(port) }
}

/** A fresh temp directory for the servers of this run of the bench (removed on exit unless kept). */
export function makeTempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'livestore-bench-sync-'))
  tempDirs.add(dir)
  return dir
}
export function removeDir(dir) {
  tempDirs.delete(dir)
  rmSync(dir, { recursive: true, force: true })
}
/** Keeps a temp directory from makeTempDir (e.g. the logs of a failed run). */
export const keepDir = (dir) => tempDirs.delete(dir)

/**
 * What the processes traced with strace connected to: AF_INET/AF_INET6
 * addresses (with counts), the number of AF_UNIX connects, other families
 * (e.g. AF_UNSPEC, which dissolves an association). `offline` is true when
 * every internet-family connect went to a loopback address.
 */
export function offlineReport(straceFile) {
  const text = readFileSync(straceFile, 'utf8')
  const inet = {}
  let unix = 0
  const other = {}
  for (const line of text.split('\n')) {
    if (!line.includes('connect(')) continue
    const fam = /sa_family=(AF_[A-Z0-9]+)/.exec(line)?.[1]
    if (fam === 'AF_UNIX') unix++
    else if (fam === 'AF_INET') {
      const addr = /inet_addr\("([^"]+)"\)/.exec(line)?.[1]
      const port = /htons\((\d+)\)/.exec(line)?.[1]
      inet[`${addr}:${port}`] = (inet[`${addr}:${port}`] ?? 0) + 1
    } else if (fam === 'AF_INET6') {
      const addr = /inet_pton\(AF_INET6, "([^"]+)"/.exec(line)?.[1]
      const port = /htons\((\d+)\)/.exec(line)?.[1]
      inet[`[${addr}]:${port}`] = (inet[`[${addr}]:${port}`] ?? 0) + 1
    } else other[fam] = (other[fam] ?? 0) + 1
  }
  const loopback = (a) => a.startsWith('127.') || a.startsWith('[::1]') || a.startsWith('[::ffff:127.')
  const outside = Object.keys(inet).filter((a) => !loopback(a))
  return { inet, unix, other, outside, offline: outside.length === 0 }
}
