// W3's commit repeated on one page: the first batch of 10,000 (cold: V8 compiles
// and tiers up as it runs) against later ones (warm), median over fresh browsers.
// With several package dirs (comma-separated), their rounds are interleaved.
//   node bench/w3-repeat.mjs [pkg-dir[,pkg-dir…]] [rounds] [batches]
import { build } from 'vite'
import { chromium } from 'playwright-core'
import { join, resolve } from 'node:path'
import { pageConfig } from './vite.config.mjs'
import { serve } from './serve.mjs'
import { CHROMIUM_ARGS } from './chromium-args.mjs'

const rounds = Number(process.argv[3] ?? 5)
const batches = Number(process.argv[4] ?? 4)
const pkgs = (process.argv[2] ?? join(import.meta.dirname, '..', 'pkg')).split(',').map((p) => resolve(p))
const out = '/tmp/w3-repeat-dist'
for (const [i, pkg] of pkgs.entries()) {
  process.env.LIVESTORE_PKG_DIR = pkg
  const cfg = pageConfig('livestore-rs')
  cfg.root = join(import.meta.dirname, 'pages', 'ab-commit')
  cfg.base = `/p${i}/`
  cfg.build.outDir = join(out, `p${i}`)
  cfg.logLevel = 'warn'
  await build(cfg)
}
const server = await serve(out)
const args = [...CHROMIUM_ARGS, ...(process.env.CHROME_ARGS ?? '').split(' ').filter(Boolean)]
const byBatch = pkgs.map(() => Array.from({ length: batches }, () => []))
for (let r = 0; r < rounds * pkgs.length; r++) {
  const p = r % pkgs.length
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args })
  const page = await browser.newPage()
  await page.goto(`${server.url}/p${p}/index.html`)
  await page.waitForFunction(() => window.ready)
  await page.evaluate(() => window.prepareW3())
  const ms = await page.evaluate(async (batches) => {
    const { events } = window.lib
    const out = []
    for (let b = 0; b < batches; b++) {
      const batch = b === 0 ? window.batch : events.todosCreatedBatch({ items: window.batch.args.items.map((it) => ({ ...it, id: it.id + 'r' + b })) })
      const t = performance.now()
      window.store.commit(batch)
      out.push(performance.now() - t)
      await new Promise((r) => setTimeout(r, 50))
    }
    return out
  }, batches)
  ms.forEach((m, i) => byBatch[p][i].push(m))
  await browser.close()
}
await server.close()
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
for (const [p, pkg] of pkgs.entries()) {
  console.log(pkg)
  console.log(byBatch[p].map((xs, i) => `  batch ${i + 1}: ${median(xs).toFixed(1)} ms (${xs.map((x) => x.toFixed(0)).join(' ')})`).join('\n'))
}
