#!/usr/bin/env node
// Where livestore-rs's W6 boot goes: W6 (a persisted store of N events, then
// a new page boots it) on a copy of ../pkg with a timestamp at each step of
// the boot, on the page and in the leader worker, plus a Chromium trace of
// the boot page (script evaluation, wasm compiles, tasks per thread).
// A diagnostic, not part of `bench/run`:
//
//   node bench/boot-timeline.mjs [--n 10000] [--runs 3] [--trace] [--quiet] [--pkg DIR]...
//
// With several --pkg (default: ../pkg or LIVESTORE_PKG_DIR), their runs
// alternate (A B A B …, the same conditions for each) and the medians are
// printed per package: an A/B comparison of two builds. Prints, per run
// (not with --quiet), every step in ms since the navigation start of the boot
// page (P = page, W = leader worker), then the median of each step over the
// runs. --trace also prints the long trace events (≥ 1 ms) per thread and
// writes the last run's trace to $TMPDIR/livestore-boot-trace.json (open it
// in the DevTools Performance panel). --cpu-profile: CPU profiles of the boot
// page and its worker (from its start). --opfs: each OPFS call of the worker.
// BOOT_CHROMIUM_ARGS adds Chromium flags. For function names in traces, point
// LIVESTORE_PKG_DIR at a package built without --remove-name-section.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : dflt
}
const N = opt('n', 10_000)
const RUNS = opt('runs', 3)
const TRACE = args.includes('--trace')
const QUIET = args.includes('--quiet')
const CPU = args.includes('--cpu-profile')
const PKGS = args.flatMap((a, i) => (args[i - 1] === '--pkg' ? [resolve(a)] : []))

const { build } = await import('vite')
const { chromium } = await import('playwright-core')
const { serve } = await import('./serve.mjs')
const { profileCpu, topSelf } = await import('./cpu-profile.mjs')
const { CHROMIUM_ARGS } = await import('./chromium-args.mjs')
const { BOOT_DONE } = await import('./pages/shared/boot-done.js')
const { pageConfig, pkgDir } = await import('./vite.config.mjs')

// ---- a copy of pkg/ with timestamps ----------------------------------------
const MARK = "const __mc = new BroadcastChannel('bench-boot'); const __mark = (n) => __mc.postMessage([n, performance.timeOrigin + performance.now()]); globalThis.__mark = __mark;\n"
function patch(file, edits) {
  let s = readFileSync(file, 'utf8')
  for (const [from, to] of edits) {
    if (s.includes(from)) s = s.replace(from, to)
    else console.error(`boot-timeline: ${file} has no ${JSON.stringify(from.slice(0, 70))}: that step is not marked`)
  }
  writeFileSync(file, s)
}
// Each edit: [text of the file, replacement]; `__mark(name)` records a step.
// An edit whose text a build lacks is skipped (with a note): A/B runs may
// compare builds whose boot differs.
// --opfs: every OPFS call of the worker (start and end).
const OPFS_HOOK = `for (const [cls, names] of [['FileSystemFileHandle', ['createSyncAccessHandle', 'getFile']], ['FileSystemDirectoryHandle', ['getDirectoryHandle', 'getFileHandle', 'removeEntry']], ['StorageManager', ['getDirectory']]]) {
  for (const k of names) {
    const f = globalThis[cls]?.prototype?.[k]
    if (f) globalThis[cls].prototype[k] = function (...a) { const n = \`\${k}(\${typeof a[0] === 'string' ? a[0] : this.name ?? ''})\`; __mark('W > ' + n); const p = f.apply(this, a); p.then(() => __mark('W < ' + n), () => {}); return p }
  }
}`
const after = (text, name) => [text, `${text}\n;__mark(${JSON.stringify(name)});`]
const MARKS = {
  'wasm.js': [
    ["  if (source === undefined) source = new URL('livestore_rs_bg.wasm', import.meta.url)", "  __mark('compile start');\n  if (source === undefined) source = new URL('livestore_rs_bg.wasm', import.meta.url)"],
    ['  source = await source\n', "  source = await source\n  __mark('wasm response');\n"],
    ['      return WebAssembly.compileStreaming(source)', "      return WebAssembly.compileStreaming(source).then((m) => (__mark('compiled'), m))"],
  ],
  'persist.js': [
    after('  const missing = missingFeature()', 'P bootPersisted'),
    after('  const worker = startWorker(adapter.worker, storeId)', 'P worker created'),
    ['    identity = await resolveIdentity(storeId, { clientId, sessionId })', "    identity = await resolveIdentity(storeId, { clientId, sessionId })\n    __mark('P identity')"],
    ['    const ready = module.then(initWasm).then(() => wasm.prepareSchema?.(schema.desc))', "    const ready = module.then(initWasm).then(() => (__mark('P instantiated'), wasm.prepareSchema?.(schema.desc), __mark('P schema prepared')))"],
    ['      .then(initWasm)\n      .then(() => wasm.prepareSchema?.(schema.desc))', "      .then(initWasm)\n      .then(() => (__mark('P instantiated'), wasm.prepareSchema?.(schema.desc), __mark('P schema prepared')))"],
    ['    const rehearse = () => instantiated.then(() => wasm.rehearseBoot?.(schema.desc))', "    const rehearse = () => instantiated.then(() => (__mark('P rehearsal'), wasm.rehearseBoot?.(schema.desc), __mark('P rehearsed')))"],
    ['    const ready = instantiated.then(() => wasm.prepareSchema?.(schema.desc))', "    const ready = instantiated.then(() => (__mark('P instantiated'), wasm.prepareSchema?.(schema.desc), __mark('P schema prepared')))"],
    ["    onStatus({ stage: 'syncing' })", "    __mark('P snapshot + schema ready')\n    onStatus({ stage: 'syncing' })"],
    ['    const link = new LeaderLink(', "    __mark('P fromSnapshot done')\n    const link = new LeaderLink("],
    ['      snapshot = m\n', "      snapshot = m\n      __mark('P snapshot received')\n"],
    ['    module.then((wasm) => signal?.aborted || worker.postMessage({ type: \'init\'', "    module.then((wasm) => signal?.aborted || (__mark('P init posted'), 0) || worker.postMessage({ type: 'init'"],
    ["\n  worker.postMessage({ type: 'init',", "\n  __mark('P init posted')\n  worker.postMessage({ type: 'init',"],
    ["    module.then((wasm) => signal?.aborted || worker.postMessage({ type: 'module',", "    module.then((wasm) => signal?.aborted || (__mark('P module posted'), 0) || worker.postMessage({ type: 'module',"],
  ],
  'worker.js': [
    ...(args.includes('--opfs') ? [['import * as wasm', `${OPFS_HOOK}\nimport * as wasm`]] : []),
    ['export function makeWorker(options) {', "__mark('W script evaluated')\nexport function makeWorker(options) {"],
    ["    if (m?.type === 'init' && !worker) {", "    if (m?.type === 'init' && !worker) {\n      __mark('W init received')"],
    ['      worker?.moduleArrived(m)', "      __mark('W module received')\n      worker?.moduleArrived(m)"],
    ['    const loaded = initWasm(this.#wasmSource).then(() => {', "    const loaded = initWasm(this.#wasmSource).then(() => {\n      __mark('W instantiated')"],
    ['    const loaded = this.#wasmSource.then(initWasm).then(() => {', "    const loaded = this.#wasmSource.then(initWasm).then(() => {\n      __mark('W instantiated')"],
    ['    const lead = (greet) => async () => {', "    const lead = (greet) => async () => {\n      __mark('W lock granted')"],
    ["    const onStatus = (status) => this.#toTab({ type: 'status', status })", "    const onStatus = (status) => (__mark(`W status ${status.stage}`), this.#toTab({ type: 'status', status }))"],
    ['        const leader = await wasm.WasmLeader.open(', "        __mark('W WasmLeader.open')\n        const leader = await wasm.WasmLeader.open("],
    ['    this.#channel = new BroadcastChannel(channelName(this.#storeId))', "    __mark('W leader open')\n    this.#channel = new BroadcastChannel(channelName(this.#storeId))"],
    ['      const { bytes, head, syncHead } = this.#leader.snapshot()\n      const message', "      __mark('W snapshot start')\n      const { bytes, head, syncHead } = this.#leader.snapshot()\n      __mark('W snapshot made')\n      const message"],
    ['      this.#greeted = sessionId\n', "      this.#greeted = sessionId\n      __mark('W snapshot posted')\n"],
  ],
}
const work = mkdtempSync(join(tmpdir(), 'livestore-boot-'))
const sources = PKGS.length ? PKGS : [pkgDir()]
for (const [i, source] of sources.entries()) {
  const pkg = join(work, `pkg${i}`)
  cpSync(source, pkg, { recursive: true })
  for (const [file, edits] of Object.entries(MARKS)) patch(join(pkg, file), [['', MARK], ...edits])
  process.env.LIVESTORE_PKG_DIR = pkg
  const config = pageConfig('livestore-rs-opfs')
  config.build.outDir = join(work, 'dist', `b${i}`)
  config.base = `/b${i}/`
  await build(config)
}
const http = await serve(join(work, 'dist'))
const ARGS = [...CHROMIUM_ARGS, ...(process.env.BOOT_CHROMIUM_ARGS ?? '').split(' ').filter(Boolean)] // e.g. --js-flags=--no-wasm-lazy-compilation
const CATEGORIES = ['devtools.timeline', 'v8', 'v8.wasm', 'toplevel', 'blink.user_timing', 'disabled-by-default-devtools.timeline', 'disabled-by-default-v8.compile']

async function traced(page, fn) {
  const cdp = await page.context().newCDPSession(page)
  const chunks = []
  cdp.on('Tracing.dataCollected', ({ value }) => chunks.push(...value))
  const complete = new Promise((r) => cdp.once('Tracing.tracingComplete', r))
  await cdp.send('Tracing.start', { categories: CATEGORIES.join(','), transferMode: 'ReportEvents' })
  await fn()
  await cdp.send('Tracing.end')
  await complete
  return chunks
}

async function oneRun(run, build) {
  const profile = mkdtempSync(join(tmpdir(), 'livestore-boot-browser-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', args: ARGS, headless: true })
  try {
    const storeId = `boot-${run}`
    const page1 = context.pages()[0] ?? (await context.newPage())
    page1.on('pageerror', (e) => console.error('page error:', String(e)))
    await page1.goto(`${http.url}/b${build}/`)
    await page1.waitForFunction(() => window.benchReady === true)
    await page1.evaluate(([p]) => window.runWorkload('W6prepare', p), [{ n: N, batch: 1000, storeId }])
    const page2 = await context.newPage()
    page2.on('pageerror', (e) => console.error('page error:', String(e)))
    await page1.close()
    await new Promise((r) => setTimeout(r, 1000))
    await page2.addInitScript(() => {
      window.__marks = []
      new BroadcastChannel('bench-boot').onmessage = (e) => window.__marks.push(e.data)
    })
    const stopProfiles = CPU ? await profileCpu(page2, { pauseWorkers: true }) : null
    let result
    const go = async () => {
      const done = page2.waitForEvent('console', { predicate: (m) => m.text() === BOOT_DONE, timeout: 120_000 })
      await page2.goto(`${http.url}/b${build}/?boot=${storeId}&n=${N}`)
      await done
      await new Promise((r) => setTimeout(r, 200)) // the last marks
      result = await page2.evaluate(() => {
        // The module's fetch as the network saw it (not when the page's thread got to it).
        const wasm = performance.getEntriesByType('resource').find((e) => e.name.endsWith('.wasm'))
        const at = (n, t) => (t ? [[n, performance.timeOrigin + t]] : [])
        const net = wasm ? [...at('net: wasm request', wasm.requestStart), ...at('net: wasm first byte', wasm.responseStart), ...at('net: wasm last byte', wasm.responseEnd)] : []
        return { r: window.__bootResult, marks: [...window.__marks, ...net], origin: performance.timeOrigin }
      })
    }
    const trace = TRACE ? await traced(page2, go) : (await go(), null)
    if (result.r.error) throw new Error(result.r.error)
    if (stopProfiles) {
      for (const [who, p] of Object.entries(await stopProfiles())) {
        console.log(`\n${who}, the whole boot:`)
        topSelf(p, { n: 30, skipIdle: true })
      }
    }
    const steps = [['P.scriptStart', result.r.scriptStartMs]]
    for (const [name, abs] of result.marks) steps.push([name, abs - result.origin])
    steps.push(['P.storeReady', result.r.scriptStartMs + result.r.storeReadyMs], ['P.firstQuery', result.r.scriptStartMs + result.r.firstQueryMs])
    steps.sort((a, b) => a[1] - b[1])
    return { steps, trace, result: result.r }
  } finally {
    await context.close().catch(() => {})
    rmSync(profile, { recursive: true, force: true })
  }
}

function printTrace(events) {
  const names = new Map()
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}/${e.tid}`, e.args.name)
  const nav = events.find((e) => e.name === 'navigationStart' && e.args?.data?.isLoadingMainFrame && e.args.data.documentLoaderURL?.includes('boot='))
  const t0 = nav?.ts ?? Math.min(...events.filter((e) => e.ts > 0).map((e) => e.ts))
  const interesting = new Set(['CrRendererMain', 'DedicatedWorker thread', 'V8 DefaultWorker', 'ThreadPoolForegroundWorker'])
  const rows = []
  for (const e of events) {
    if (e.ph !== 'X' || !e.dur || e.dur < 1000 || e.ts < t0) continue
    const th = names.get(`${e.pid}/${e.tid}`) ?? '?'
    if (![...interesting].some((n) => th.startsWith(n))) continue
    rows.push([(e.ts - t0) / 1000, e.dur / 1000, `${th.slice(0, 26)}#${e.tid}`, e.name, e.args?.data?.url?.split('/').pop() ?? e.args?.data?.functionName ?? ''])
  }
  rows.sort((a, b) => a[0] - b[0])
  for (const [at, dur, th, name, what] of rows.slice(0, 200)) console.log(`${at.toFixed(1).padStart(8)} +${dur.toFixed(1).padStart(6)}  ${th.padEnd(32)} ${name} ${what}`)
}

const all = sources.map(() => [])
for (let run = 0; run < RUNS; run++) {
  for (const b of sources.keys()) {
    const { steps, trace, result } = await oneRun(run, b)
    all[b].push(steps)
    if (!QUIET) {
      console.log(`\nrun ${run + 1}${sources.length > 1 ? ` of ${sources[b]}` : ''}: store ready ${result.storeReadyMs.toFixed(1)} ms, first query ${result.firstQueryMs.toFixed(1)} ms after the script start (ms since navigation start):`)
      let prev = 0
      for (const [name, at] of steps) {
        console.log(`${at.toFixed(1).padStart(8)}  (+${(at - prev).toFixed(1).padStart(5)})  ${name}`)
        prev = at
      }
    }
    if (trace) {
      writeFileSync(join(tmpdir(), 'livestore-boot-trace.json'), JSON.stringify({ traceEvents: trace }))
      printTrace(trace)
    }
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
for (const [b, runs] of all.entries()) {
  const byName = new Map()
  for (const steps of runs) {
    const start = steps.find(([n]) => n === 'P.scriptStart')[1]
    for (const [name, at] of steps) byName.set(name, [...(byName.get(name) ?? []), at - start])
    // The part after the page's compile (which varies most with the machine's load).
    const at = (n) => steps.find(([m]) => m === n)?.[1]
    if (at('compiled') !== undefined) byName.set('(compiled → first query)', [...(byName.get('(compiled → first query)') ?? []), at('P.firstQuery') - at('compiled')])
  }
  console.log(`\n${sources[b]}: medians over ${RUNS} runs, ms since the page script's start (min–max):`)
  for (const [name, ats] of [...byName].sort((x, y) => med(x[1]) - med(y[1]))) {
    console.log(`${med(ats).toFixed(1).padStart(8)}  (${Math.min(...ats).toFixed(0)}–${Math.max(...ats).toFixed(0)})  ${name}`)
  }
}
await http.close()
rmSync(work, { recursive: true, force: true })
