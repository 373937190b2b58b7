// CPU profile of W3's commit (one TodosCreatedBatch of 10,000 items after a
// batch of 100) on the page of abt-commit.mjs, in a fresh browser per round:
// the median over rounds of each function's self and inclusive time. Wasm
// functions have names only in a build without --remove-name-section:
//   cargo build --release --lib --target wasm32-unknown-unknown
//   wasm-bindgen --target web --out-dir /tmp/pkg-prof --out-name livestore_rs \
//     target/wasm32-unknown-unknown/release/livestore_rs.wasm && cp -R js/. /tmp/pkg-prof/
//   node bench/profile-w3.mjs /tmp/pkg-prof [rounds]
// INTERVAL: sampling interval in µs (default 250; shorter intervals slow JS
// down more than wasm); TOP: rows of each list (default 30); MATCH: a regexp
// the inclusive list's function names must match; CHROME_ARGS: extra flags
// (e.g. --js-flags=--no-wasm-dynamic-tiering); BATCH: see below. The first round's profile is
// written to /tmp/profile-w3.cpuprofile (DevTools → Performance → load).
import { build } from 'vite'
import { chromium } from 'playwright-core'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pageConfig } from './vite.config.mjs'
import { serve } from './serve.mjs'
import { CHROMIUM_ARGS } from './chromium-args.mjs'

const rounds = Number(process.argv[3] ?? 5)
const top = Number(process.env.TOP ?? 30)
const match = new RegExp(process.env.MATCH ?? '.')
process.env.LIVESTORE_PKG_DIR = resolve(process.argv[2] ?? join(import.meta.dirname, '..', 'pkg'))
const out = '/tmp/profile-w3-dist'
const cfg = pageConfig('livestore-rs')
cfg.root = join(import.meta.dirname, 'pages', 'ab-commit')
cfg.base = '/p/'
cfg.build.outDir = join(out, 'p')
cfg.build.minify = false // JS function names as in the sources
await build(cfg)
const server = await serve(out)
const args = [...CHROMIUM_ARGS, ...(process.env.CHROME_ARGS ?? '').split(' ').filter(Boolean)]

/** Self and inclusive ms by function of one profile. */
function times(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map()
  const inclusive = new Map()
  const add = (m, k, dt) => m.set(k, (m.get(k) ?? 0) + dt)
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000
    const f = byId.get(id).callFrame
    if (f.functionName === '(idle)' || f.functionName === '(program)') return
    add(self, `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber}`, dt)
    const seen = new Set()
    for (let n = id; n !== undefined; n = parent.get(n)) {
      const name = byId.get(n).callFrame.functionName
      if (!seen.has(name)) seen.add(name) && add(inclusive, name, dt)
    }
  })
  return { self, inclusive }
}

const profiles = []
const wall = []
for (let r = 0; r < rounds; r++) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args })
  const page = await browser.newPage()
  await page.goto(`${server.url}/p/index.html`)
  await page.waitForFunction(() => window.ready)
  await page.evaluate(() => window.prepareW3())
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: Number(process.env.INTERVAL ?? 250) })
  // BATCH=n: profile the nth batch of 10,000 on the page (the first is cold:
  // V8 compiles and tiers up as it runs; later ones show the warm cost).
  for (let b = 1; b < Number(process.env.BATCH ?? 1); b++) {
    await page.evaluate((b) => window.store.commit(window.lib.events.todosCreatedBatch({ items: window.batch.args.items.map((it) => ({ ...it, id: `${it.id}r${b}` })) })), b)
    await page.waitForTimeout(100)
  }
  await cdp.send('Profiler.start')
  wall.push(await page.evaluate(() => { const t = performance.now(); window.store.commit(window.batch); return performance.now() - t }))
  const { profile } = await cdp.send('Profiler.stop')
  if (r === 0) writeFileSync('/tmp/profile-w3.cpuprofile', JSON.stringify(profile))
  profiles.push(times(profile))
  await browser.close()
}
await server.close()

const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1]
function report(title, kind, keep) {
  const names = new Set(profiles.flatMap((p) => [...p[kind].keys()]))
  const rows = [...names].filter(keep).map((k) => [k, median(profiles.map((p) => p[kind].get(k) ?? 0))])
  console.log(`\n${title}`)
  for (const [k, ms] of rows.sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(ms.toFixed(1).padStart(7), k.slice(0, 150))
}
console.log('commit wall ms by round:', wall.map((w) => w.toFixed(1)).join(' '))
report('self ms (median of rounds)', 'self', () => true)
report('inclusive ms (median of rounds)', 'inclusive', (k) => match.test(k))
