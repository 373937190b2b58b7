// A/B of two builds of the package on the commit path, by the main thread's
// CPU time from Chrome traces: unlike wall time, it holds on a machine shared
// with other work (run queue waits do not count). Windows: W1's (1,000 commits
// after 100 and 100 ms idle), 1,000 commits after 9,000, and W3 (one batch of
// 10,000 items after a batch of 100); `...bg`: the renderer's worker threads
// (tier-up compilation, GC helpers) in the same window.
//   node bench/abt-commit.mjs <pkgA> <pkgB> [rounds]     e.g. ../../main/pkg ../pkg 3
// ABT_ARGS_A / ABT_ARGS_B: extra Chromium flags for one arm (space-separated),
// e.g. ABT_ARGS_B=--js-flags=--no-wasm-dynamic-tiering to see the cost of tier-up.
// The page is pages/ab-commit/ (the benchmark's schema, nothing else).
import { build } from 'vite'
import { chromium } from 'playwright-core'
import { readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pageConfig } from './vite.config.mjs'
import { serve } from './serve.mjs'
import { CHROMIUM_ARGS } from './chromium-args.mjs'

const pkgs = process.argv.slice(2, 4).map((p) => resolve(p))
const rounds = Number(process.argv[4] ?? 3)
const out = '/tmp/abt-commit-dist'
for (const [i, pkg] of pkgs.entries()) {
  process.env.LIVESTORE_PKG_DIR = pkg
  const cfg = pageConfig('livestore-rs')
  cfg.root = join(import.meta.dirname, 'pages', 'ab-commit')
  cfg.base = `/${'ab'[i]}/`
  cfg.build.outDir = join(out, 'ab'[i])
  await build(cfg)
}
const server = await serve(out)
const traceFile = `/tmp/abt-trace-${process.pid}.json`

function mainCpu() {
  const ev = JSON.parse(readFileSync(traceFile, 'utf8')).traceEvents
  const names = new Map()
  for (const e of ev) if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}/${e.tid}`, e.args.name)
  let main = 0, bg = 0, wall = 0
  for (const e of ev) {
    if (e.ph !== 'X' || !e.tdur) continue
    const th = names.get(`${e.pid}/${e.tid}`)
    if (th === 'CrRendererMain' && e.name === 'ThreadControllerImpl::RunTask' && e.dur > 1000) { main += e.tdur; wall += e.dur }
    if (th?.startsWith('ThreadPoolForeground') && e.name === 'ThreadPool_RunTask') bg += e.tdur
  }
  // A trace that lost the task (rare) counts as missing, not as 0.
  return { main: main ? +(main / 1000).toFixed(1) : null, bg: +(bg / 1000).toFixed(1) }
}

async function traced(browser, page, fn, arg) {
  await browser.startTracing(page, { path: traceFile, categories: ['toplevel', 'v8', 'v8.wasm'] })
  await page.evaluate(fn, arg)
  await browser.stopTracing()
  return mainCpu()
}

const argsOf = (name) => [...CHROMIUM_ARGS, ...(process.env[`ABT_ARGS_${name.toUpperCase()}`] ?? '').split(' ').filter(Boolean)]

async function once(name) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: argsOf(name) })
  const page = await browser.newPage()
  await page.goto(`${server.url}/${name}/index.html`)
  await page.waitForFunction(() => window.ready)
  await page.evaluate(async () => {
    const { createStore, schema } = window.lib
    window.text = (i) => 'todo ' + ((i * 2654435761) >>> 0).toString(36).padStart(10, 'x').slice(0, 10)
    window.store = await createStore({ schema, storeId: 'p' + Date.now() })
    window.run = (from, to) => { const { events } = window.lib; for (let i = from; i < to; i++) window.store.commit(events.todoCreated({ id: 't' + i, text: window.text(i) })) }
    window.run(-100, 0)
    await new Promise((r) => setTimeout(r, 100))
  })
  const w1 = await traced(browser, page, () => window.run(0, 1000))
  await page.evaluate(() => window.run(1000, 9000))
  const late = await traced(browser, page, () => window.run(9000, 10000))
  await browser.close()
  // W3 in a fresh page
  const b2 = await chromium.launch({ executablePath: '/usr/bin/chromium', args: argsOf(name) })
  const p2 = await b2.newPage()
  await p2.goto(`${server.url}/${name}/index.html`)
  await p2.waitForFunction(() => window.ready)
  await p2.evaluate(() => window.prepareW3())
  const w3 = await traced(b2, p2, () => window.store.commit(window.batch))
  await b2.close()
  return { w1: w1.main, w1bg: w1.bg, late: late.main, w3: w3.main, w3bg: w3.bg }
}

const acc = [[], []]
for (let r = 0; r < rounds; r++) {
  for (const i of r % 2 ? [1, 0] : [0, 1]) {
    const res = await once('ab'[i])
    acc[i].push(res)
    console.log('ab'[i], JSON.stringify(res))
  }
}
const med = (xs) => {
  const v = xs.filter((x) => x !== null).sort((x, y) => x - y)
  return v.length ? v[v.length >> 1] : null
}
for (const i of [0, 1]) {
  const keys = Object.keys(acc[i][0])
  console.log(`${'ab'[i]} median main-thread CPU ms (w1, late: per 1,000 commits):`, keys.map((k) => `${k} ${med(acc[i].map((r) => r[k]))}`).join(' '))
}
rmSync(traceFile, { force: true })
await server.close()
