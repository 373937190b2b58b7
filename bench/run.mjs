#!/usr/bin/env node
// Benchmark runner: builds the pages (bench/vite.config.mjs), serves bench/dist
// on 127.0.0.1 with cross-origin isolation headers, drives the Debian Chromium
// with playwright-core, and for each run × workload × library variant opens a
// fresh browser context, loads the variant's page and calls
// window.runWorkload(name, params) in it (W6: prepares a persisted store in one
// page, then boots it in a new page of the same profile). Prints a table of
// medians (min–max) with the ratios LiveStore / livestore-rs for each storage
// (in-memory, OPFS), writes results/latest.json and results/ratios.svg.
//
//   node run.mjs [--quick] [--runs N] [--only W1,W4] [--variants livestore-rs,livestore-memory]
//                [--context profile|incognito] [--no-build] [--out results]
//                [--w6-100k-livestore]      (W6-100k for LiveStore too: ~5 min per run)
//                [--set W2.yieldEvery=100]   (override a workload parameter; `--set n=500` for all)
//
// Use `bash bench/run` (installs the bench dependencies and builds ../pkg when missing).
// Nothing here asserts on time: a failed run is a run whose page threw.

import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { serve } from './serve.mjs'
import { renderSvg } from './report/svg.mjs'
import { formatTable, summarize } from './report/table.mjs'
import { VARIANTS, pageConfig, pkgDir } from './vite.config.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // performance.measureUserAgentSpecificMemory() answers at once instead of at the next GC (up to ~20 s)
  '--enable-blink-features=ForceEagerMeasureMemory',
]

export const LIBRARY_OF = { 'livestore-rs': 'livestore-rs', 'livestore-rs-opfs': 'livestore-rs', 'livestore-memory': 'livestore', 'livestore-opfs': 'livestore' }
export const VARIANT_LABEL = {
  'livestore-rs': 'livestore-rs in-memory',
  'livestore-memory': 'LiveStore in-memory',
  'livestore-rs-opfs': 'livestore-rs OPFS',
  'livestore-opfs': 'LiveStore OPFS',
}
const PERSISTED = ['livestore-rs-opfs', 'livestore-opfs']

// ---------------------------------------------------------------------------
// Workloads as the runner sees them. `page` is the name of the page workload
// (window.runWorkload); `variants` limits a workload to some variants; `memory`
// measures the main thread's memory before and after (W7 is measured on W2's
// page, after its 10,000 commits); `steps: 'boot'` is W6 (W6prepare in a first
// page, then a new page of the same profile boots the store: runBoot); `runs`
// caps the number of runs of a workload (a number, or per variant). W8 (sync) slots in here with its own steps.

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
  // W8: sync through a local sync backend (push/pull latency, rebase) — later.
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
    else if (a.startsWith('--set')) {
      const [k, v] = value().split('=')
      const [w, param] = k.includes('.') ? k.split('.') : [null, k]
      if (!param || v === undefined || !Number.isFinite(Number(v))) throw new Error(`--set needs W.param=number or param=number, got ${k}=${v}`)
      opts.sets.push({ w: w && w.toUpperCase(), param, value: Number(v) })
    }
    else if (a.startsWith('--out')) opts.out = value()
    else if (a === '-h' || a === '--help') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 18).join('\n'))
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

async function buildPages(variants) {
  const { build } = await import('vite')
  for (const v of variants) {
    const t = Date.now()
    await build(pageConfig(v))
    log(`built ${v} (${Date.now() - t} ms)`)
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
  await page2.goto(`${baseUrl}/${variant}/?boot=${encodeURIComponent(storeId)}&n=${params.n}`)
  await page2.waitForFunction(() => window.__bootResult !== undefined, null, { timeout: 15 * 60_000 })
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

async function runOne({ chromium, browser, baseUrl, variant, workload, opts, run }) {
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

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const workloads = selectedWorkloads(opts.only, opts.sets).map((w) =>
    w.id === 'W6-100k' && opts.w6LiveStore100k ? { ...w, variants: PERSISTED, title: 'boot of a persisted store with 100,000 events' } : w,
  )
  if (workloads.length === 0) throw new Error(`--only ${opts.only} selects no workload (known: ${WORKLOADS.map((w) => w.id).join(', ')}, W7)`)
  const started = Date.now()

  const builtFrom = pkgInfo()
  if (opts.build) await buildPages(opts.variants)
  const bundles = Object.fromEntries(opts.variants.map((v) => [v, bundleSizes(v)]))

  const { chromium } = await import('playwright-core')
  const server = await serve(join(here, 'dist'))
  const browser = opts.context === 'incognito' ? await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true }) : null
  log(`serving ${server.url}; ${opts.runs} run(s) × ${workloads.length} workload(s); context: ${opts.context}`)

  // raw[workloadId][variant] = [run results]
  const raw = {}
  try {
    for (let run = 0; run < opts.runs; run++) {
      for (const w of workloads) {
        const runsOf = (v) => (typeof w.runs === 'number' ? w.runs : w.runs?.[v]) ?? Infinity
        const variants = opts.variants.filter((v) => (!w.variants || w.variants.includes(v)) && run < runsOf(v))
        if (variants.length === 0) continue
        // rotate the order of the libraries from run to run
        const order = variants.map((_, i) => variants[(i + run) % variants.length])
        for (const v of order) {
          const r = await runOne({ chromium, browser, baseUrl: server.url, variant: v, workload: w, opts, run })
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

  const summary = summarize({ raw, bundles, workloads, variants: opts.variants, metrics: METRICS })
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
      effect: packageVersion('effect'),
      vite: packageVersion('vite'),
    },
  }
  // Workloads with fewer runs than --runs (the table's title lists them).
  meta.fewerRuns = workloads.flatMap((w) =>
    opts.variants
      .filter((v) => !w.variants || w.variants.includes(v))
      .map((v) => ({ w: w.id, variant: v, runs: Math.min(opts.runs, (typeof w.runs === 'number' ? w.runs : w.runs?.[v]) ?? Infinity) }))
      .filter((x) => x.runs < opts.runs),
  )
  const result = { meta, workloads, metrics: METRICS, variants: opts.variants, labels: VARIANT_LABEL, bundles, summary, raw }

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
}

main().catch((e) => {
  console.error(e?.stack ?? e)
  process.exit(1)
})
