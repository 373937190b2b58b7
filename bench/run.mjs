#!/usr/bin/env node
// Benchmark runner: builds the pages (bench/vite.config.mjs), serves bench/dist
// on 127.0.0.1 with cross-origin isolation headers, drives the Debian Chromium
// with playwright-core, and for each run × workload × library variant opens a
// fresh browser context, loads the variant's page and calls
// window.runWorkload(name, params) in it (W6: prepares a persisted store in one
// page, then boots it in a new page of the same profile; W8: two clients of one
// store in two profiles through a sync server, then a third joins). Prints a
// table of medians (min–max) with the ratios LiveStore / livestore-rs for each
// storage (in-memory, OPFS, synced), writes results/latest.json and results/ratios.svg.
//
//   node run.mjs [--quick] [--runs N] [--only W1,W4] [--variants livestore-rs,livestore-memory]
//                [--context profile|incognito] [--no-build] [--out results]
//                [--w6-100k-livestore]      (W6-100k for LiveStore too: ~5 min per run)
//                [--set W2.yieldEvery=100]   (override a workload parameter; `--set n=500` for all)
//                [--merge results/latest.json]  (keep that file's results of the workloads not run now)
//                [--check-offline]           (W8: run the sync servers under strace, list where they connect)
//
// Use `bash bench/run` (installs the bench dependencies and builds ../pkg when missing).
// Nothing here asserts on time: a failed run is a run whose page threw.

import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { serve } from './serve.mjs'
import { BOOT_DONE } from './pages/shared/boot-done.js'
import { renderSvg } from './report/svg.mjs'
import { formatTable, summarize } from './report/table.mjs'
import { SYNCED, VARIANTS, pageConfig, pkgDir } from './vite.config.mjs'
import { CHROMIUM_ARGS } from './chromium-args.mjs'
import { buildServer, freePort, keepDir, loadgenBinary, makeTempDir, offlineReport, removeDir, startEcho, startRsServer, startSyncCf } from './sync/servers.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

export const LIBRARY_OF = {
  'livestore-rs': 'livestore-rs',
  'livestore-rs-opfs': 'livestore-rs',
  'livestore-rs-sync': 'livestore-rs',
  'livestore-memory': 'livestore',
  'livestore-opfs': 'livestore',
  'livestore-sync': 'livestore',
}
export const VARIANT_LABEL = {
  'livestore-rs': 'livestore-rs in-memory',
  'livestore-memory': 'LiveStore in-memory',
  'livestore-rs-opfs': 'livestore-rs OPFS',
  'livestore-opfs': 'LiveStore OPFS',
  'livestore-rs-sync': 'livestore-rs OPFS + its server',
  'livestore-sync': 'LiveStore OPFS + sync-cf',
}
const PERSISTED = ['livestore-rs-opfs', 'livestore-opfs']
/** The variants a workload runs on when it does not say (the synced ones only run W8). */
const PLAIN = VARIANTS.filter((v) => !SYNCED.includes(v))
const variantsOf = (w) => w.variants ?? PLAIN

// ---------------------------------------------------------------------------
// Workloads as the runner sees them. `page` is the name of the page workload
// (window.runWorkload); `variants` limits a workload to some variants; `memory`
// measures the main thread's memory before and after (W7 is measured on W2's
// page, after its 10,000 commits); `steps: 'boot'` is W6 (W6prepare in a first
// page, then a new page of the same profile boots the store: runBoot); `runs`
// caps the number of runs of a workload (a number, or per variant). A workload
// without `variants` runs on the in-memory and OPFS variants (PLAIN). `steps:
// 'sync'` is W8 (runSync: clients A and B of one store in two profiles, then a
// fresh client C); `steps: 'load'` is W8-load (the load generator against
// livestore-rs's server, no browser).

export const WORKLOADS = [
  { id: 'W1', page: 'W1', params: { n: 1000, warmup: 100 }, title: '1,000 separate commits' },
  { id: 'W2', page: 'W2', params: { n: 10_000, warmup: 100 }, title: '10,000 separate commits', memory: 'W7' },
  {
    id: 'W2-100k',
    page: 'W2',
    params: { n: 100_000, warmup: 100 },
    title: '100,000 separate commits (livestore-rs alone)',
    variants: ['livestore-rs', 'livestore-rs-opfs'],
    runs: { 'livestore-rs-opfs': 1 }, // its flush of 100,000 pending events takes ~30 s (±10% over 3 runs)
    group: 'W2',
  },
  { id: 'W3', page: 'W3', params: { n: 10_000, warmup: 100 }, title: 'one TodosCreatedBatch of 10,000 items' },
  { id: 'W4', page: 'W4', params: { rows: 10_000, n: 1000, warmup: 50 }, title: 'queries over 10,000 rows' },
  { id: 'W5', page: 'W5', params: { rows: 10_000, subs: 100, commits: 1000, warmup: 20 }, title: '100 subscriptions, 1,000 TodoCompleted' },
  {
    id: 'W6',
    steps: 'boot',
    params: { n: 10_000, batch: 1000 },
    title: 'boot of a persisted store with 10,000 events',
    variants: PERSISTED,
  },
  {
    id: 'W6-100k',
    steps: 'boot',
    params: { n: 100_000, batch: 1000 },
    title: 'boot of a persisted store with 100,000 events (livestore-rs alone)',
    variants: ['livestore-rs-opfs'], // LiveStore: --w6-100k-livestore (its page 1 alone takes ~5 min)
    notRun: { 'livestore-opfs': 'not run (~5 min/run)' },
    runs: 3,
    group: 'W6',
  },
  {
    id: 'W8',
    steps: 'sync',
    // echo: round trips to the echo server; warmup: paced commits before the
    // latency phase; commits × intervalMs: the latency phase; burst: commits in
    // a loop; join: events in the store when a fresh client joins (A adds the
    // rest, joinBatch per commit call); settleMs: idle between the phases.
    params: { echo: 200, warmup: 20, commits: 200, intervalMs: 20, burst: 1000, join: 10_000, joinBatch: 1000, settleMs: 500 },
    title: 'sync: two clients of one store through a local sync server, then a third joins',
    variants: SYNCED,
  },
  {
    id: 'W8-load',
    steps: 'load',
    params: { clients: 100, stores: 10, seconds: 5, warmup: 1 },
    title: "sync server under load: 100 clients on 10 stores (livestore-rs's server, its protocol)",
    variants: ['livestore-rs-sync'],
    notRun: { 'livestore-sync': 'n/a (rs protocol)' },
    group: 'W8',
  },
]

// What the table shows, per workload: metric key, label, unit, and how to format.
export const METRICS = [
  { w: 'W1', key: 'commitMeanUs', label: 'commit, mean per commit', unit: 'µs' },
  { w: 'W1', key: 'durableAfterLastCommitMs', label: 'durable after the last commit', unit: 'ms', durability: true },
  { w: 'W2', key: 'commitMeanUs', label: 'commit, mean per commit', unit: 'µs' },
  { w: 'W2', key: 'first1000MeanUs', label: 'first 1,000 commits, mean', unit: 'µs' },
  { w: 'W2', key: 'last1000MeanUs', label: 'last 1,000 commits, mean', unit: 'µs' },
  { w: 'W2', key: 'durableAfterLastCommitMs', label: 'durable after the last commit', unit: 'ms', durability: true },
  { w: 'W2-100k', key: 'commitMeanUs', label: '100k: commit, mean per commit', unit: 'µs' },
  { w: 'W2-100k', key: 'first1000MeanUs', label: '100k: first 1,000 commits, mean', unit: 'µs' },
  { w: 'W2-100k', key: 'last1000MeanUs', label: '100k: last 1,000 commits, mean', unit: 'µs' },
  { w: 'W2-100k', key: 'durableAfterLastCommitMs', label: '100k: durable after the last commit', unit: 'ms', durability: true },
  { w: 'W3', key: 'batchCommitMs', label: 'commit of the batch event', unit: 'ms' },
  { w: 'W3', key: 'batchDurableMs', label: 'batch durable (from commit)', unit: 'ms', durability: true },
  { w: 'W4', key: 'sameQueryUs', label: 'same query ×1,000, mean', unit: 'µs' },
  { w: 'W4', key: 'paramQueryUs', label: 'changing parameter ×1,000, mean', unit: 'µs' },
  { w: 'W4', key: 'countQueryUs', label: 'count() ×1,000, mean', unit: 'µs' },
  { w: 'W5', key: 'callbackLatencyMeanUs', label: 'commit → callback, mean', unit: 'µs' },
  { w: 'W5', key: 'callbackLatencyP99Us', label: 'commit → callback, p99', unit: 'µs' },
  { w: 'W5', key: 'noopCommitMeanUs', label: 'commit changing no result, mean', unit: 'µs' },
  { w: 'W5', key: 'unchangedResultCallbacks', label: 'callbacks with unchanged rows', unit: 'calls', noRatio: true },
  { w: 'W6', key: 'storeReadyMs', label: 'script start → store ready', unit: 'ms', persistedOnly: true },
  { w: 'W6', key: 'firstQueryMs', label: 'script start → first query (count) returned', unit: 'ms', persistedOnly: true },
  { w: 'W6', key: 'hundredRowsMs', label: 'script start → then 100-row query returned', unit: 'ms', persistedOnly: true },
  { w: 'W6', key: 'prepareMs', label: '(page 1) 10× commit 1,000 events + durable', unit: 'ms', persistedOnly: true },
  { w: 'W6-100k', key: 'storeReadyMs', label: '100k: script start → store ready', unit: 'ms', persistedOnly: true },
  { w: 'W6-100k', key: 'firstQueryMs', label: '100k: script start → first query (count)', unit: 'ms', persistedOnly: true },
  { w: 'W6-100k', key: 'hundredRowsMs', label: '100k: script start → then 100-row query', unit: 'ms', persistedOnly: true },
  { w: 'W6-100k', key: 'prepareMs', label: '100k: (page 1) 100× commit 1,000 + durable', unit: 'ms', persistedOnly: true },
  { w: 'W7', key: 'jsHeapBytes', label: 'main-thread JS heap after W2', unit: 'MB' },
  { w: 'W7', key: 'wasmMemoryBytes', label: 'main-thread wasm memory after W2', unit: 'MB' },
  { w: 'W7', key: 'mainThreadBytes', label: 'main thread, JS heap + wasm', unit: 'MB' },
  { w: 'W7', key: 'uaMemoryBytes', label: 'JS heaps, page + workers (UA memory)', unit: 'MB' },
  { w: 'W7', key: 'bundleRawBytes', label: 'bundle JS+wasm, raw', unit: 'KB' },
  { w: 'W7', key: 'bundleGzipBytes', label: 'bundle JS+wasm, gzip -9', unit: 'KB' },
  // W8: its own section of the table (the synced variants). higherIsBetter: the ratio is livestore-rs / LiveStore.
  { w: 'W8', key: 'echoRttP50Us', label: 'floor: WebSocket echo round trip, p50', unit: 'µs', noRatio: true, section: 'sync' },
  { w: 'W8', key: 'echoRttP99Us', label: 'floor: WebSocket echo round trip, p99', unit: 'µs', noRatio: true, section: 'sync' },
  { w: 'W8', key: 'latencyMeanMs', label: 'commit on A → callback on B, mean', unit: 'ms', section: 'sync' },
  { w: 'W8', key: 'latencyP50Ms', label: 'commit on A → callback on B, p50', unit: 'ms', section: 'sync' },
  { w: 'W8', key: 'latencyP99Ms', label: 'commit on A → callback on B, p99', unit: 'ms', section: 'sync' },
  { w: 'W8', key: 'burstMs', label: '1,000 commits on A → all on B', unit: 'ms', section: 'sync' },
  { w: 'W8', key: 'burstEventsPerS', label: 'burst: events/s on B (rs / LiveStore)', unit: 'events/s', higherIsBetter: true, section: 'sync' },
  { w: 'W8', key: 'joinAllRowsMs', label: 'new client, 10,000 events → all rows', unit: 'ms', section: 'sync' },
  { w: 'W8', key: 'joinReadyMs', label: 'new client: createStore resolved', unit: 'ms', section: 'sync' },
  { w: 'W8-load', key: 'ackedEventsPerS', label: '100 clients/10 stores, 1 event/push', unit: 'events/s', higherIsBetter: true, section: 'sync' },
  { w: 'W8-load', key: 'ackedBatchEventsPerS', label: '100 clients/10 stores, 100 events/push', unit: 'events/s', higherIsBetter: true, section: 'sync' },
]

// ---------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { sets: [], runs: 5, only: null, variants: [...VARIANTS], build: true, context: 'profile', out: join(here, 'results'), quick: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--quick') {
      opts.quick = true
      opts.runs = 2
    } else if (a.startsWith('--runs')) opts.runs = Number(value())
    else if (a.startsWith('--only')) opts.only = value().split(',').map((s) => s.trim().toUpperCase()).filter(Boolean)
    else if (a.startsWith('--variants')) opts.variants = value().split(',').map((s) => s.trim())
    else if (a.startsWith('--context')) opts.context = value()
    else if (a === '--no-build') opts.build = false
    else if (a === '--w6-100k-livestore') opts.w6LiveStore100k = true
    else if (a.startsWith('--merge')) opts.merge = resolve(process.env.BENCH_CWD ?? process.cwd(), value())
    else if (a === '--check-offline') opts.checkOffline = true
    else if (a.startsWith('--set')) {
      const [k, v] = value().split('=')
      const [w, param] = k.includes('.') ? k.split('.') : [null, k]
      if (!param || v === undefined || !Number.isFinite(Number(v))) throw new Error(`--set needs W.param=number or param=number, got ${k}=${v}`)
      opts.sets.push({ w: w && w.toUpperCase(), param, value: Number(v) })
    }
    else if (a.startsWith('--out')) opts.out = resolve(process.env.BENCH_CWD ?? process.cwd(), value())
    else if (a === '-h' || a === '--help') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 22).join('\n'))
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  if (!Number.isInteger(opts.runs) || opts.runs < 1) throw new Error('--runs needs a positive integer')
  for (const v of opts.variants) if (!VARIANTS.includes(v)) throw new Error(`unknown variant ${v} (known: ${VARIANTS.join(', ')})`)
  opts.variants = VARIANTS.filter((v) => opts.variants.includes(v)) // table order: livestore-rs first
  if (!['profile', 'incognito'].includes(opts.context)) throw new Error('--context is profile or incognito')
  return opts
}

function selectedWorkloads(only, sets) {
  let list = WORKLOADS
  if (only) {
    const want = new Set(only)
    if (want.has('W7')) want.add('W2') // W7 is measured after W2
    list = WORKLOADS.filter((w) => want.has(w.id.toUpperCase()) || (w.group && want.has(w.group)))
  }
  return list.map((w) => {
    const params = { ...w.params }
    for (const s of sets) if (!s.w || s.w === w.id.toUpperCase()) params[s.param] = s.value
    return { ...w, params }
  })
}

const log = (...a) => console.error('[bench]', ...a)

// ---------------------------------------------------------------------------
// Build + bundle sizes

async function buildPages(variants, servers) {
  const { build } = await import('vite')
  const ports = {}
  for (const v of variants) {
    const t = Date.now()
    await build(pageConfig(v, { syncUrl: servers?.[v]?.url }))
    if (servers?.[v]) ports[v] = servers[v].port
    log(`built ${v} (${Date.now() - t} ms)`)
  }
  // The synced pages have their server's URL built in: --no-build starts the servers on the same ports.
  if (Object.keys(ports).length) {
    const file = join(here, 'dist', 'sync-ports.json')
    let all = {}
    try {
      all = JSON.parse(readFileSync(file, 'utf8'))
    } catch {}
    writeFileSync(file, JSON.stringify({ ...all, ...ports }, null, 2) + '\n')
  }
}

function listFiles(dir) {
  const out = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...listFiles(p))
    else out.push(p)
  }
  return out
}

/** JS + wasm that a variant's build emitted (workers included), raw and gzip -9. */
function bundleSizes(variant) {
  const dir = join(here, 'dist', variant)
  const files = listFiles(dir).filter((f) => /\.(m?js|wasm)$/.test(f))
  const out = { bundleRawBytes: 0, bundleGzipBytes: 0, bundleJsBytes: 0, bundleWasmBytes: 0, files: {} }
  for (const f of files) {
    const buf = readFileSync(f)
    const gz = gzipSync(buf, { level: 9 }).length
    out.bundleRawBytes += buf.length
    out.bundleGzipBytes += gz
    if (f.endsWith('.wasm')) out.bundleWasmBytes += buf.length
    else out.bundleJsBytes += buf.length
    out.files[relative(dir, f)] = { raw: buf.length, gzip: gz }
  }
  return out
}

// ---------------------------------------------------------------------------
// Browser

async function openContext(chromium, browser, opts) {
  if (opts.context === 'incognito') {
    const context = await browser.newContext()
    return { context, close: () => context.close() }
  }
  // A fresh profile directory per context: OPFS is on disk as for a real user
  // (in Playwright's incognito contexts OPFS lives in memory).
  const dir = mkdtempSync(join(tmpdir(), 'livestore-bench-'))
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
  return {
    context,
    close: async () => {
      await context.close().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function mainThreadMemory(page, cdp) {
  await cdp.send('HeapProfiler.collectGarbage')
  await cdp.send('HeapProfiler.collectGarbage')
  const heap = await cdp.send('Runtime.getHeapUsage')
  const inPage = await page.evaluate(() => window.runWorkload('memory'))
  return {
    jsHeapBytes: heap.usedSize,
    wasmMemoryBytes: inPage.wasmMemoryBytes,
    mainThreadBytes: heap.usedSize + inPage.wasmMemoryBytes,
    uaMemoryBytes: inPage.uaMemoryBytes ?? undefined,
  }
}

function watchPage(page, errors) {
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`)
  })
  page.setDefaultTimeout(15 * 60_000)
}

async function openBenchPage(page, url) {
  await page.goto(url)
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 })
  const info = await page.evaluate(() => window.benchInfo)
  if (!info.crossOriginIsolated) throw new Error('the page is not cross-origin isolated')
  return info
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * W6 in one fresh profile: page 1 commits and persists the store (W6prepare,
 * which ends with the store's shutdown), a new page is opened and page 1 is
 * closed; after 1 s (page 1's workers are gone) the new page loads the variant
 * with `?boot=<storeId>&n=<n>`, which boots the store from its first script
 * statement and publishes the times (workloads.js, bootFromUrl).
 */
async function runBoot({ context, baseUrl, variant, workload, errors, run }) {
  const storeId = `boot-${workload.id.toLowerCase()}-${run}`
  const params = { ...workload.params, storeId }
  const page1 = context.pages()[0] ?? (await context.newPage())
  watchPage(page1, errors)
  const info = await openBenchPage(page1, `${baseUrl}/${variant}/`)
  const t = Date.now()
  const prepared = await page1.evaluate(([p]) => window.runWorkload('W6prepare', p), [params])
  const page2 = await context.newPage() // first, so that closing page 1 leaves the browser open
  watchPage(page2, errors)
  await page1.close()
  await sleep(1000)
  const t2 = Date.now()
  const done = page2.waitForEvent('console', { predicate: (m) => m.text() === BOOT_DONE, timeout: 15 * 60_000 })
  await page2.goto(`${baseUrl}/${variant}/?boot=${encodeURIComponent(storeId)}&n=${params.n}`)
  await done
  const booted = await page2.evaluate(() => window.__bootResult)
  if (booted.error) throw new Error(`boot page: ${booted.error}`)
  return {
    ok: true,
    metrics: { ...booted, prepareMs: prepared.prepareMs, shutdownMs: prepared.shutdownMs },
    wallMs: Date.now() - t,
    bootWallMs: Date.now() - t2,
    durability: info.durability,
    pageErrors: errors,
  }
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
const meanOf = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length

/**
 * W8 for one synced variant, in fresh profiles (one Chromium process each):
 *
 *  1. pages A and B load the variant; each estimates the offset of its clock
 *     from the echo server's (W8clock; again at the end of the burst, the two
 *     averaged); A measures the echo round trip (the floor);
 *  2. B opens store `storeId` with a subscription to its newest todo, then A
 *     opens it; A commits `warmup` todos paced like the latency phase and B
 *     waits for the last;
 *  3. latency: A commits `commits` todos, one every `intervalMs`; for each, the
 *     time from just before A's commit to B's first callback that shows it;
 *  4. burst: A commits `burst` todos in a loop; the time from before A's first
 *     commit until B's callback shows the last;
 *  5. A fills the store up to `join` events (`joinBatch` per commit call) and B
 *     waits until it has them all (so the server has them); A and B close;
 *  6. a fresh profile C opens the store: the time until createStore resolved
 *     and until all `join` rows are there (W8join).
 */
async function runSync({ chromium, browser, baseUrl, variant, workload, opts, run, servers }) {
  const p = workload.params
  const storeId = `w8-${run}-${Date.now().toString(36)}`
  const echoUrl = servers.echo.url
  const errors = []
  const opened = []
  const open = async (label) => {
    const ctx = await openContext(chromium, browser, opts)
    opened.push(ctx)
    const page = ctx.context.pages()[0] ?? (await ctx.context.newPage())
    const pageErrors = []
    watchPage(page, pageErrors)
    errors.push({ client: label, errors: pageErrors })
    await openBenchPage(page, `${baseUrl}/${variant}/`)
    return { page, close: ctx.close }
  }
  const call = (c, name, params) => c.page.evaluate(([n, q]) => window.runWorkload(n, q), [name, params])
  const t = Date.now()
  try {
    const A = await open('A')
    const B = await open('B')
    const clock0 = { A: await call(A, 'W8clock', { url: echoUrl }), B: await call(B, 'W8clock', { url: echoUrl }) }
    const echo = await call(A, 'W8echo', { url: echoUrl, n: p.echo })
    const openB = await call(B, 'W8open', { storeId, watch: true })
    const openA = await call(A, 'W8open', { storeId })

    const warm = await call(A, 'W8paced', { n: p.warmup, intervalMs: p.intervalMs, prefix: 'a' })
    await call(B, 'W8waitFor', { id: warm.ids[warm.ids.length - 1] })
    await sleep(p.settleMs)

    const paced = await call(A, 'W8paced', { n: p.commits, intervalMs: p.intervalMs, prefix: 'b' })
    await call(B, 'W8waitFor', { id: paced.ids[paced.ids.length - 1] })
    const arrivals = await call(B, 'W8arrivals', { ids: paced.ids })
    await sleep(p.settleMs)

    const burst = await call(A, 'W8burst', { n: p.burst, prefix: 'c' })
    const burstSeen = await call(B, 'W8waitFor', { id: burst.lastId })
    const clock1 = { A: await call(A, 'W8clock', { url: echoUrl }), B: await call(B, 'W8clock', { url: echoUrl }) }

    const before = p.warmup + p.commits + p.burst
    const tFill = Date.now()
    const fill = await call(A, 'W8fill', { n: p.join - before, batch: p.joinBatch, prefix: 'd' })
    await call(B, 'W8waitFor', { id: fill.lastId })
    const fillWallMs = Date.now() - tFill
    const rowsB = await call(B, 'W8rows')
    if (rowsB !== p.join) throw new Error(`W8: B has ${rowsB} rows, expected ${p.join}`)
    await A.close()
    await B.close()

    const C = await open('C')
    const join = await call(C, 'W8join', { storeId, n: p.join, lastId: fill.lastId })
    await C.close()

    // One clock: the echo server's. offset = server time − page time.
    const off = (k) => (clock0[k].offsetMs + clock1[k].offsetMs) / 2
    const onServerClock = (k, tPage) => tPage + off(k)
    const latencies = arrivals.map((tB, i) => onServerClock('B', tB) - onServerClock('A', paced.times[i])).sort((a, b) => a - b)
    const burstMs = onServerClock('B', burstSeen) - onServerClock('A', burst.t0)
    return {
      ok: true,
      metrics: {
        ...echo,
        latencyMeanMs: meanOf(latencies),
        latencyP50Ms: percentile(latencies, 50),
        latencyP99Ms: percentile(latencies, 99),
        latencyMinMs: latencies[0],
        latencyMaxMs: latencies[latencies.length - 1],
        latencySamples: latencies.length,
        burstMs,
        burstEventsPerS: (p.burst * 1000) / burstMs,
        burstCommitLoopMs: burst.t1 - burst.t0,
        fillWallMs,
        joinReadyMs: join.joinReadyMs,
        joinAllRowsMs: join.joinAllRowsMs,
        openAMs: openA.openMs,
        openBMs: openB.openMs,
        // The clocks: offset of the echo server's clock from each page's (ms), the
        // round trip of the best sample (the offset's error is at most half of it),
        // and how much the offset moved between the start and the end of the burst.
        clocks: Object.fromEntries(['A', 'B'].map((k) => [k, { offsetMs: off(k), rttMs: Math.max(clock0[k].rttMs, clock1[k].rttMs), driftMs: clock1[k].offsetMs - clock0[k].offsetMs }])),
        storeId,
      },
      wallMs: Date.now() - t,
      durability: servers[variant]?.storage,
      pageErrors: errors.filter((e) => e.errors.length),
    }
  } catch (e) {
    return { ok: false, error: String(e?.stack ?? e), pageErrors: errors.filter((x) => x.errors.length) }
  } finally {
    for (const c of opened) await c.close()
  }
}

/**
 * W8-load: the load generator (server/examples/loadgen.rs) against a fresh
 * livestore-rs server (its own SQLite file): `clients` clients on `stores`
 * stores for `seconds` (after `warmup`), first 1 event per push, then 100.
 */
async function runLoad({ workload, opts, servers }) {
  const p = workload.params
  const dir = join(servers.dir, `load-${Date.now().toString(36)}`)
  const t = Date.now()
  let server
  try {
    server = await startRsServer({ port: await freePort(), dir, name: 'livestore-rs-server (load)', strace: opts.checkOffline })
    const gen = (batch) => {
      const args = ['--url', server.url, '--clients', String(p.clients), '--stores', String(p.stores), '--batch', String(batch), '--seconds', String(p.seconds), '--warmup', String(p.warmup), '--store-prefix', `load-b${batch}`]
      const out = execFileSync(loadgenBinary(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
      return JSON.parse(out.trim().split('\n').pop())
    }
    const one = gen(1)
    const hundred = gen(100)
    return {
      ok: true,
      metrics: { ackedEventsPerS: one.ackedEventsPerS, ackedBatchEventsPerS: hundred.ackedEventsPerS, batch1: one, batch100: hundred },
      wallMs: Date.now() - t,
      durability: server.storage,
      pageErrors: [],
    }
  } catch (e) {
    return { ok: false, error: String(e?.stack ?? e), pageErrors: [] }
  } finally {
    await server?.stop()
    if (opts.checkOffline && server?.straceFile) (servers.straced ??= []).push({ name: server.name, report: offlineReport(server.straceFile) })
  }
}

async function runOne({ chromium, browser, baseUrl, variant, workload, opts, run, servers }) {
  if (workload.steps === 'load') return runLoad({ workload, opts, servers })
  if (workload.steps === 'sync') return runSync({ chromium, browser, baseUrl, variant, workload, opts, run, servers })
  const { context, close } = await openContext(chromium, browser, opts)
  const errors = []
  try {
    if (workload.steps === 'boot') return await runBoot({ context, baseUrl, variant, workload, errors, run })
    const page = context.pages()[0] ?? (await context.newPage())
    watchPage(page, errors)
    const info = await openBenchPage(page, `${baseUrl}/${variant}/`)
    let cdp
    let before
    if (workload.memory) {
      cdp = await context.newCDPSession(page)
      before = await mainThreadMemory(page, cdp)
    }
    const t = Date.now()
    const metrics = await page.evaluate(([name, params]) => window.runWorkload(name, params), [workload.page, workload.params])
    const wallMs = Date.now() - t
    let memory
    if (workload.memory) {
      await page.evaluate(() => window.runWorkload('settle'))
      const after = await mainThreadMemory(page, cdp)
      memory = { ...after }
      for (const [k, v] of Object.entries(before)) if (v !== undefined) memory[`baseline${k[0].toUpperCase()}${k.slice(1)}`] = v
    }
    return { ok: true, metrics, memory, wallMs, durability: info.durability, pageErrors: errors }
  } catch (e) {
    return { ok: false, error: String(e?.stack ?? e), pageErrors: errors }
  } finally {
    await close()
  }
}

// ---------------------------------------------------------------------------

function chromiumVersion() {
  try {
    return execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'unknown'
  }
}

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version
  } catch {
    return undefined
  }
}

/** Which livestore-rs build the pages were built from (taken right before the build). */
function pkgInfo() {
  const dir = pkgDir()
  try {
    const path = join(dir, 'livestore_rs_bg.wasm')
    const wasm = statSync(path)
    const sha256 = createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16)
    let version
    try {
      version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version
    } catch {}
    return { dir, version, wasmBuilt: wasm.mtime.toISOString(), wasmSha256: sha256 }
  } catch {
    return { dir }
  }
}

/**
 * Starts what the synced pages and W8-load need: the echo server, and each
 * synced variant's sync server (on the port its pages were built for when
 * --no-build reuses bench/dist). Everything lives in one temp directory.
 */
async function startServers({ pageVariants, needBinary, opts }) {
  const servers = { dir: makeTempDir(), started: [], straced: [] }
  try {
    if (needBinary) buildServer()
    const syncing = pageVariants.filter((v) => SYNCED.includes(v))
    if (syncing.length === 0) return servers
    let ports = {}
    if (!opts.build) {
      try {
        ports = JSON.parse(readFileSync(join(here, 'dist', 'sync-ports.json'), 'utf8'))
      } catch {
        throw new Error('--no-build: bench/dist/sync-ports.json is missing (the synced pages were never built)')
      }
    }
    servers.echo = await startEcho({ dir: servers.dir })
    servers.started.push(servers.echo)
    for (const v of syncing) {
      const port = ports[v] ?? (await freePort())
      const dir = join(servers.dir, v)
      const s = v === 'livestore-rs-sync' ? await startRsServer({ port, dir, strace: opts.checkOffline }) : await startSyncCf({ port, dir, strace: opts.checkOffline })
      servers[v] = s
      servers.started.push(s)
      log(`${v}: ${s.name} on ${s.url} (${s.storage})`)
    }
    log(`echo server on ${servers.echo.url}`)
  } catch (e) {
    await stopServers(servers, opts)
    throw e
  }
  return servers
}

async function stopServers(servers, opts, { keep = false } = {}) {
  if (!servers) return
  for (const s of servers.started.splice(0)) {
    await s.stop()
    if (opts.checkOffline && s.straceFile) servers.straced.push({ name: s.name, report: offlineReport(s.straceFile) })
  }
  if (keep) {
    keepDir(servers.dir)
    log(`server logs kept in ${servers.dir}`)
  } else removeDir(servers.dir)
}

/** Prints what the traced servers connected to; false when one went beyond the loopback. */
function printOfflineReport(straced) {
  let ok = true
  for (const { name, report } of straced) {
    const inet = Object.entries(report.inet).map(([a, n]) => `${a} ×${n}`).join(', ') || 'none'
    const other = Object.entries(report.other).map(([f, n]) => `${f} ×${n}`).join(', ')
    log(`offline check, ${name}: connect() to ${inet}; AF_UNIX ×${report.unix}${other ? `; ${other}` : ''} → ${report.offline ? 'loopback only' : `NOT OFFLINE: ${report.outside.join(', ')}`}`)
    ok &&= report.offline
  }
  return ok
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const workloads = selectedWorkloads(opts.only, opts.sets).map((w) =>
    w.id === 'W6-100k' && opts.w6LiveStore100k ? { ...w, variants: PERSISTED, title: 'boot of a persisted store with 100,000 events' } : w,
  )
  if (workloads.length === 0) throw new Error(`--only ${opts.only} selects no workload (known: ${WORKLOADS.map((w) => w.id).join(', ')}, W7)`)
  // Read the file to merge before the runs (a wrong path fails at once).
  const previous = opts.merge ? JSON.parse(readFileSync(opts.merge, 'utf8')) : null
  if (opts.checkOffline) {
    try {
      execFileSync('strace', ['-V'], { stdio: 'ignore' })
    } catch {
      throw new Error('--check-offline needs strace (Debian: apt-get install strace)')
    }
  }
  const started = Date.now()

  // The variants with a page to build and load (W8-load needs no page).
  const pageVariants = opts.variants.filter((v) => workloads.some((w) => w.steps !== 'load' && variantsOf(w).includes(v)))
  const needBinary = workloads.some((w) => (w.steps === 'sync' || w.steps === 'load') && opts.variants.some((v) => variantsOf(w).includes(v)))
  const servers = needBinary ? await startServers({ pageVariants, needBinary, opts }) : null

  const raw = {} // raw[workloadId][variant] = [run results]
  let bundles = {}
  const builtFrom = pkgInfo()
  try {
    if (opts.build) {
      await buildPages(pageVariants, servers)
    }
    // W7's bundle sizes: the plain variants (the synced ones only run W8).
    bundles = Object.fromEntries(pageVariants.filter((v) => !SYNCED.includes(v)).map((v) => [v, bundleSizes(v)]))

    const { chromium } = await import('playwright-core')
    const server = await serve(join(here, 'dist'))
    const browser = opts.context === 'incognito' ? await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true }) : null
    log(`serving ${server.url}; ${opts.runs} run(s) × ${workloads.length} workload(s); context: ${opts.context}`)
    try {
      for (let run = 0; run < opts.runs; run++) {
        for (const w of workloads) {
          const runsOf = (v) => (typeof w.runs === 'number' ? w.runs : w.runs?.[v]) ?? Infinity
          const variants = opts.variants.filter((v) => variantsOf(w).includes(v) && run < runsOf(v))
          if (variants.length === 0) continue
          // rotate the order of the libraries from run to run
          const order = variants.map((_, i) => variants[(i + run) % variants.length])
          for (const v of order) {
            const r = await runOne({ chromium, browser, baseUrl: server.url, variant: v, workload: w, opts, run, servers })
            ;((raw[w.id] ??= {})[v] ??= []).push({ run, ...r })
            if (r.ok) log(`run ${run + 1}/${opts.runs} ${w.id} ${v}: ${(r.wallMs / 1000).toFixed(1)} s`)
            else log(`run ${run + 1}/${opts.runs} ${w.id} ${v}: FAILED ${r.error.split('\n')[0]}`)
          }
        }
      }
    } finally {
      await browser?.close()
      await server.close()
    }
  } finally {
    const failedRuns = Object.values(raw).flatMap((byV) => Object.values(byV).flat()).some((r) => !r.ok)
    await stopServers(servers, opts, { keep: failedRuns })
  }

  const meta = {
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    runs: opts.runs,
    quick: opts.quick,
    overrides: opts.sets,
    context: opts.context,
    chromium: chromiumVersion(),
    chromiumArgs: CHROMIUM_ARGS,
    node: process.version,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
    versions: {
      'livestore-rs': opts.build ? builtFrom : { ...builtFrom, note: 'pages not rebuilt (--no-build)' },
      '@livestore/livestore': packageVersion('@livestore/livestore'),
      '@livestore/adapter-web': packageVersion('@livestore/adapter-web'),
      '@livestore/wa-sqlite': packageVersion('@livestore/wa-sqlite'),
      '@livestore/sync-cf': packageVersion('@livestore/sync-cf'),
      wrangler: packageVersion('wrangler'),
      effect: packageVersion('effect'),
      vite: packageVersion('vite'),
    },
  }
  if (servers) {
    meta.syncServers = Object.fromEntries(SYNCED.filter((v) => servers[v]).map((v) => [v, { name: servers[v].name, storage: servers[v].storage }]))
  }
  // Workloads with fewer runs than --runs (the table's title lists them).
  meta.fewerRuns = workloads.flatMap((w) =>
    opts.variants
      .filter((v) => variantsOf(w).includes(v))
      .map((v) => ({ w: w.id, variant: v, runs: Math.min(opts.runs, (typeof w.runs === 'number' ? w.runs : w.runs?.[v]) ?? Infinity) }))
      .filter((x) => x.runs < opts.runs),
  )
  let allWorkloads = workloads
  if (opts.merge) {
    // Keep the other workloads' results of an earlier run (e.g. a full run), so
    // that the table, the JSON and the chart show everything.
    const prev = previous
    const kept = Object.keys(prev.raw ?? {}).filter((id) => !raw[id])
    for (const id of kept) raw[id] = prev.raw[id]
    for (const [v, b] of Object.entries(prev.bundles ?? {})) if (!bundles[v]) bundles[v] = b
    const ids = new Set([...kept, ...workloads.map((w) => w.id)])
    allWorkloads = WORKLOADS.map((w) => workloads.find((x) => x.id === w.id) ?? prev.workloads?.find((x) => x.id === w.id)).filter((w) => w && ids.has(w.id))
    meta.fewerRuns = [...(prev.meta?.fewerRuns ?? []).filter((x) => kept.includes(x.w)), ...meta.fewerRuns]
    meta.merged = { from: opts.merge, date: prev.meta?.date, runs: prev.meta?.runs, chromium: prev.meta?.chromium, workloads: kept, versions: prev.meta?.versions }
    log(`merged the results of ${kept.join(', ') || 'no workload'} from ${opts.merge} (run of ${prev.meta?.date})`)
  }
  const summary = summarize({ raw, bundles, workloads: allWorkloads, variants: opts.variants, metrics: METRICS })
  if (servers?.straced.length) meta.offlineCheck = servers.straced
  const result = { meta, workloads: allWorkloads, metrics: METRICS, variants: opts.variants, labels: VARIANT_LABEL, bundles, summary, raw }

  console.log(formatTable({ summary, metrics: METRICS, variants: opts.variants, labels: VARIANT_LABEL, meta }))
  mkdirSync(opts.out, { recursive: true })
  writeFileSync(join(opts.out, 'latest.json'), JSON.stringify(result, null, 2) + '\n')
  writeFileSync(join(opts.out, 'ratios.svg'), renderSvg({ summary, metrics: METRICS, variants: opts.variants, labels: VARIANT_LABEL, meta }))
  log(`wrote ${relative(process.cwd(), join(opts.out, 'latest.json'))} and ${relative(process.cwd(), join(opts.out, 'ratios.svg'))} (${meta.durationS} s)`)
  const failed = Object.values(raw).flatMap((byV) => Object.values(byV).flat()).filter((r) => !r.ok)
  if (failed.length) {
    log(`${failed.length} run(s) failed; see "raw" in latest.json`)
    process.exitCode = 1
  }
  if (servers?.straced.length && !printOfflineReport(servers.straced)) process.exitCode = 1
}

main().catch((e) => {
  console.error(e?.stack ?? e)
  process.exit(1)
})
