#!/usr/bin/env node
// Where livestore-rs's W8 latency goes: W8's latency phase (client A commits a
// todo every 20 ms, client B's subscription sees it), on a copy of ../pkg with
// timestamps at each hop and a count of the OPFS calls of both leader workers.
// A diagnostic, not part of `bench/run`:
//
//   node bench/sync/profile-rs.mjs [--commits 100] [--interval 20] [--join 10000] [--tmpfs] [--cpu-profile]
//
// --tmpfs puts the browser profiles and the server's file on /dev/shm, where
// fsync costs nothing: the difference is what durability costs. --join N:
// then A fills the store up to N events and a fresh client C joins (W8's
// last phase): when each page of the catch-up reaches C's leader, is
// committed, reaches C's session and is applied there. --cpu-profile (with
// --join): CPU profiles of the pages and leader workers of A and B during the
// timed commits and of C during the join, the functions with the most self
// time printed and the profiles written to bench/results/{A-paced,B-paced,
// join}-{page,worker}.cpuprofile (for function names, point LIVESTORE_PKG_DIR
// at a package built without --remove-name-section).
//
// Hops (each a timestamp, all on the echo server's clock):
//   A.commit      A's page, just before store.commit (as W8)
//   A.S.push      A's session posted the push to its leader (js/persist.js #pushNow)
//   A.L.recv      A's leader worker got it (js/worker.js, 'push')
//   A.L.appended  WasmLeader.push returned: eventlog and state committed to OPFS
//   A.W.send      the push went out on the WebSocket (js/sync-socket.js #apply)
//   B.W.recv      B's leader worker got the server's `events`
//   B.W.received  WasmLeader.syncReceive returned: eventlog and state committed to OPFS
//   B.W.applied   the rewrite was broadcast to B's sessions
//   B.S.recv      B's session got it (js/persist.js, 'rewrite')
//   B.callback    the bench page's subscription callback (as W8), called while
//                 the session applies the rewrite
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, makeTempDir, removeDir, startEcho, startRsServer } from './servers.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const bench = resolve(here, '..')
const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : dflt
}
const N = opt('commits', 100)
const INTERVAL = opt('interval', 20)
const TMPFS = args.includes('--tmpfs')
const JOIN = opt('join', 0)
const CPU_PROFILE = args.includes('--cpu-profile')
if (TMPFS) process.env.TMPDIR = '/dev/shm'

const { build } = await import('vite')
const { chromium } = await import('playwright-core')
const { serve } = await import('../serve.mjs')
const { profileCpu, topSelf } = await import('../cpu-profile.mjs')
const { pageConfig, pkgDir } = await import('../vite.config.mjs')

// ---- a copy of pkg/ with timestamps --------------------------------------------
const TRACE = "const __tc = new BroadcastChannel('bench-trace'); const __trace = (n, id) => __tc.postMessage([n, id, performance.timeOrigin + performance.now()]);\n"
const IO_HOOK = `
const __io = []
if (typeof FileSystemSyncAccessHandle !== 'undefined') {
  for (const k of ['flush', 'truncate', 'write', 'read']) {
    const f = FileSystemSyncAccessHandle.prototype[k]
    FileSystemSyncAccessHandle.prototype[k] = function (...a) { const t = performance.now(); const r = f.apply(this, a); __io.push(k, performance.now() - t); return r }
  }
  const dump = new BroadcastChannel('bench-trace-io')
  dump.onmessage = (e) => { if (e.data === 'dump') dump.postMessage(__io.slice()); else if (e.data === 'clear') __io.length = 0 }
}
`
function patch(file, edits) {
  let s = readFileSync(file, 'utf8')
  for (const [from, to] of edits) {
    if (!s.includes(from)) throw new Error(`profile-rs: ${file} no longer contains ${JSON.stringify(from.slice(0, 80))}: update the patch`)
    s = s.replace(from, to)
  }
  writeFileSync(file, s)
}
const work = mkdtempSync(join(tmpdir(), 'livestore-profile-'))
const pkg = join(work, 'pkg')
cpSync(pkgDir(), pkg, { recursive: true })
// The id of the last todo in a list of events, or in their JSON text (a rewrite from the leader).
const LAST_OF = "const __lastOf = (ev) => (typeof ev === 'string' ? [...ev.matchAll(/\"args\":\\{\"id\":\"([^\"]*)\"/g)].pop()?.[1] : ev[ev.length - 1]?.args?.id);\n"
patch(join(pkg, 'persist.js'), [
  ['', TRACE + LAST_OF],
  [
    "    this.#post({ type: 'push', storeId: this.#ids.storeId, sessionId: this.#ids.sessionId, batch: batch.json, generation: this.#generation })",
    "    this.#post({ type: 'push', storeId: this.#ids.storeId, sessionId: this.#ids.sessionId, batch: batch.json, generation: this.#generation })\n    __trace('A.S.push', __lastOf(batch.json))",
  ],
  [
    "      case 'rewrite':\n        this.#applyUpstream(m.events, m.base, m.generation)",
    "      case 'rewrite':\n        __trace('B.S.recv', __lastOf(m.events))\n        this.#applyUpstream(m.events, m.base, m.generation)\n        __trace('B.S.applied', __lastOf(m.events))",
  ],
])
patch(join(pkg, 'worker.js'), [
  ["import * as wasm from './livestore_rs.js'", TRACE + IO_HOOK + LAST_OF + "import * as wasm from './livestore_rs.js'"],
  ["        case 'push': {\n          let result", "        case 'push': {\n          const __id = __lastOf(m.batch)\n          __trace('A.L.recv', __id)\n          let result"],
  ['          if (result.accepted) {', "          __trace('A.L.appended', __id)\n          if (result.accepted) {"],
])
// The id of the last todo in a frame (events and push frames list events oldest first).
const LAST_ID = 'const lastId = (text) => { let id; for (const m of text.matchAll(/"args":\\{"id":"([^"]*)"/g)) id = m[1]; return id };\n'
patch(join(pkg, 'sync-socket.js'), [
  ['', TRACE + LAST_ID],
  [
    '        outcome = this.#leader.syncReceive(e.data)',
    "        var __id = lastId(e.data)\n        __trace('B.W.recv', __id)\n        outcome = this.#leader.syncReceive(e.data)\n        __trace('B.W.received', __id)",
  ],
  ['      this.#apply(outcome)\n      this.#on.status()', "      this.#apply(outcome)\n      __trace('B.W.applied', __id)\n      this.#on.status()"],
  ['    for (const text of outcome.send) this.#ws?.send(text)', "    for (const text of outcome.send) {\n      this.#ws?.send(text)\n      __trace('A.W.send', lastId(text))\n    }"],
])

// ---- servers, page, two clients ----------------------------------------------
const dir = makeTempDir()
const echo = await startEcho({ dir })
const rs = await startRsServer({ port: await freePort(), dir: join(dir, 'rs') })
process.env.LIVESTORE_PKG_DIR = pkg
const config = pageConfig('livestore-rs-sync', { syncUrl: rs.url })
config.build.outDir = join(work, 'dist', 'livestore-rs-sync')
await build(config)
const http = await serve(join(work, 'dist'))
const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
const contexts = []
async function open() {
  const profile = mkdtempSync(join(tmpdir(), 'livestore-profile-browser-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', args: ARGS, headless: true })
  contexts.push({ context, profile })
  const page = context.pages()[0] ?? (await context.newPage())
  page.on('pageerror', (e) => console.error('page error:', String(e)))
  await page.goto(`${http.url}/livestore-rs-sync/`)
  await page.waitForFunction(() => window.benchReady === true)
  await page.evaluate(() => {
    window.__traces = window.__traces ?? []
    window.__tch = new BroadcastChannel('bench-trace')
    window.__tch.onmessage = (e) => window.__traces.push(e.data)
    window.__io = new BroadcastChannel('bench-trace-io')
  })
  return page
}
/** Writes bench/results/<prefix>-{page,worker}.cpuprofile and prints their top functions. */
async function printProfiles(profiles, prefix, who, during) {
  for (const [k, p] of Object.entries(profiles)) {
    const file = resolve(bench, 'results', `${prefix}-${k}.cpuprofile`)
    writeFileSync(file, JSON.stringify(p))
    console.log(`\n${who} ${k} during ${during} (${file}):`)
    topSelf(p)
  }
}

const call = (p, n, q) => p.evaluate(([n, q]) => window.runWorkload(n, q), [n, q])
const ioOf = (p) => p.evaluate(() => new Promise((r) => ((window.__io.onmessage = (e) => r(e.data)), window.__io.postMessage('dump'))))
try {
  const A = await open()
  const B = await open()
  const clock = { A: await call(A, 'W8clock', { url: echo.url }), B: await call(B, 'W8clock', { url: echo.url }) }
  const origin = { A: await A.evaluate(() => performance.timeOrigin), B: await B.evaluate(() => performance.timeOrigin) }
  const storeId = `profile-${Date.now()}`
  await call(B, 'W8open', { storeId, watch: true })
  await call(A, 'W8open', { storeId })
  const warm = await call(A, 'W8paced', { n: 20, intervalMs: INTERVAL, prefix: 'a' })
  await call(B, 'W8waitFor', { id: warm.ids.at(-1) })
  await new Promise((r) => setTimeout(r, 500))
  for (const p of [A, B]) await p.evaluate(() => ((window.__traces = []), window.__io.postMessage('clear')))
  const stopProfiles = CPU_PROFILE ? { A: await profileCpu(A), B: await profileCpu(B) } : {}
  const paced = await call(A, 'W8paced', { n: N, intervalMs: INTERVAL, prefix: 'b' })
  await call(B, 'W8waitFor', { id: paced.ids.at(-1) })
  for (const [client, stop] of Object.entries(stopProfiles)) await printProfiles(await stop(), `${client}-paced`, `${client}'s`, 'the timed commits')
  const arrivals = await call(B, 'W8arrivals', { ids: paced.ids })
  const traces = { A: await A.evaluate(() => window.__traces), B: await B.evaluate(() => window.__traces) }
  const io = { A: await ioOf(A), B: await ioOf(B) }

  // Each hop of each todo on the echo server's clock (the first time it is seen).
  const at = {}
  const put = (id, hop, t) => ((at[id] ??= {})[hop] ??= t)
  paced.ids.forEach((id, i) => {
    put(id, 'A.commit', paced.times[i] + clock.A.offsetMs)
    put(id, 'B.callback', arrivals[i] + clock.B.offsetMs)
  })
  for (const k of ['A', 'B']) for (const [hop, id, abs] of traces[k]) if (hop.startsWith(k)) put(id, hop, abs - origin[k] + clock[k].offsetMs)
  const HOPS = ['A.commit', 'A.S.push', 'A.L.recv', 'A.L.appended', 'A.W.send', 'B.W.recv', 'B.W.received', 'B.W.applied', 'B.S.recv', 'B.callback']
  const stats = (xs) => {
    const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
    return { n: s.length, p50: s[Math.ceil(s.length * 0.5) - 1], p90: s[Math.ceil(s.length * 0.9) - 1], max: s[s.length - 1] }
  }
  const f = (x) => (x === undefined ? '-' : x.toFixed(2)).padStart(7)
  console.log(`${N} commits ${INTERVAL} ms apart; profiles and server file on ${TMPFS ? '/dev/shm (tmpfs: fsync is free)' : tmpdir()}`)
  console.log(`clock offsets: A ±${(clock.A.rttMs / 2).toFixed(2)} ms, B ±${(clock.B.rttMs / 2).toFixed(2)} ms\n`)
  console.log('hop                            p50      p90      max   (ms; a push or a page may carry several todos: a hop is timed for the last)')
  for (let i = 1; i < HOPS.length; i++) {
    const s = stats(paced.ids.map((id) => at[id][HOPS[i]] - at[id][HOPS[i - 1]]))
    console.log(`${HOPS[i - 1].padEnd(13)}→ ${HOPS[i].padEnd(13)} ${f(s.p50)}  ${f(s.p90)}  ${f(s.max)}`)
  }
  const total = stats(paced.ids.map((id) => at[id]['B.callback'] - at[id]['A.commit']))
  console.log(`${'total'.padEnd(29)} ${f(total.p50)}  ${f(total.p90)}  ${f(total.max)}\n`)
  console.log('OPFS calls of the leader workers (FileSystemSyncAccessHandle) during the timed commits:')
  for (const k of ['A', 'B']) {
    for (const op of ['flush', 'truncate', 'write', 'read']) {
      const xs = []
      for (let i = 0; i < io[k].length; i += 2) if (io[k][i] === op) xs.push(io[k][i + 1])
      if (!xs.length) continue
      const s = stats(xs)
      const sum = xs.reduce((a, b) => a + b, 0)
      console.log(`  ${k} ${op.padEnd(8)} ${(xs.length / N).toFixed(1).padStart(5)} per commit, p50 ${s.p50.toFixed(3)} ms, p90 ${s.p90.toFixed(3)} ms, ${(sum / N).toFixed(2)} ms per commit`)
    }
  }

  if (JOIN) {
    const before = 20 + N
    const fill = await call(A, 'W8fill', { n: JOIN - before, batch: 1000, prefix: 'd' })
    await call(B, 'W8waitFor', { id: fill.lastId })
    for (const c of contexts.splice(0)) {
      await c.context.close()
      rmSync(c.profile, { recursive: true, force: true })
    }
    const C = await open()
    const originC = await C.evaluate(() => performance.timeOrigin)
    const stopProfile = CPU_PROFILE ? await profileCpu(C) : null
    const join = await call(C, 'W8join', { storeId, n: JOIN, lastId: fill.lastId })
    if (stopProfile) await printProfiles(await stopProfile(), 'join', "C's", 'the join')
    const tr = await C.evaluate(() => window.__traces)
    const rel = (abs) => abs - originC - join.t0
    console.log(`\njoin: a fresh client C, ${JOIN} events on the server: createStore resolved at ${join.joinReadyMs.toFixed(1)} ms, all rows at ${join.joinAllRowsMs.toFixed(1)} ms`)
    console.log('  page (last id)  leader got it  committed  session got it  applied   (ms after createStore was called)')
    const pages = {}
    for (const [hop, id, abs] of tr) if (id && hop.startsWith('B.')) (pages[id] ??= {})[hop] ??= rel(abs)
    for (const [id, h] of Object.entries(pages)) {
      const g = (k) => (h[k] === undefined ? '-' : h[k].toFixed(1)).padStart(9)
      console.log(`  ${id.padEnd(14)} ${g('B.W.recv')}      ${g('B.W.received')}  ${g('B.S.recv')}       ${g('B.S.applied')}`)
    }
  }
} finally {
  for (const c of contexts) {
    await c.context.close().catch(() => {})
    rmSync(c.profile, { recursive: true, force: true })
  }
  await http.close()
  await echo.stop()
  await rs.stop()
  removeDir(dir)
  rmSync(work, { recursive: true, force: true })
}
