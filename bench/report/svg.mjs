// The ratio chart (results/ratios.svg): one row per metric, one bar per pair
// that has a value in that row (LiveStore in-memory / livestore-rs in-memory,
// LiveStore OPFS / livestore-rs OPFS, LiveStore synced / livestore-rs synced),
// ratio of the medians on a log scale (1× = equal; events/s: livestore-rs /
// LiveStore, so that > 1 means livestore-rs does better everywhere).
import { UNIT_LABEL, fmtRatio, pairsIn } from './table.mjs'

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const COLORS = { 'livestore-memory': '#4c78a8', 'livestore-opfs': '#f58518', 'livestore-sync': '#54a24b' }

export function renderSvg({ summary, metrics, variants, labels, meta }) {
  const pairs = pairsIn(variants)
  const others = pairs.map((p) => p.other)
  const baseOf = Object.fromEntries(pairs.map((p) => [p.other, p.base]))
  const rows = metrics
    .map((m) => ({ m, s: summary[`${m.w}.${m.key}`] }))
    .filter(({ s }) => s && others.some((v) => s.ratios[v] !== undefined))
  const all = rows.flatMap(({ s }) => others.map((v) => s.ratios[v]).filter((r) => r !== undefined))
  const lo = Math.min(0.5, ...all.map((r) => r / 1.3))
  const hi = Math.max(2, ...all.map((r) => r * 1.3))
  const lmin = Math.floor(Math.log10(lo))
  const lmax = Math.ceil(Math.log10(hi))

  const W = 980
  const left = 340
  const right = 70
  const top = 78
  const barH = 11
  // The pairs each row shows: those with a ratio or a note in it.
  const inRow = (s) => others.filter((v) => s.ratios[v] !== undefined || s.byVariant[v]?.note)
  const heightOf = (s) => Math.max(20, inRow(s).length * (barH + 3) + 6)
  const H = top + rows.reduce((a, { s }) => a + heightOf(s), 0) + 46
  const x = (r) => left + ((Math.log10(r) - lmin) / (lmax - lmin)) * (W - left - right)

  const out = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`)
  out.push(`<text x="16" y="24" font-size="15" font-weight="600">LiveStore ${esc(meta.versions['@livestore/livestore'] ?? '')} / livestore-rs, same storage — ratio of medians (log scale)</text>`)
  out.push(`<text x="16" y="42" fill="#555">&gt; 1×: livestore-rs takes less time / memory / bytes (events/s: more). Medians of ${meta.runs} run(s)${meta.merged && meta.merged.runs !== meta.runs ? esc(` (${meta.merged.workloads.join(', ')}: ${meta.merged.runs})`) : ''}${meta.fewerRuns?.length ? ' (fewer: ' + esc([...new Set(meta.fewerRuns.map((x) => x.w))].join(', ')) + ')' : ''}, a fresh browser context each.</text>`)
  let lx = 16
  for (const v of others) {
    const text = `${labels[v] ?? v} / ${labels[baseOf[v]] ?? baseOf[v]}`
    out.push(`<rect x="${lx}" y="52" width="12" height="12" fill="${COLORS[v] ?? '#888'}"/><text x="${lx + 16}" y="62">${esc(text)}</text>`)
    lx += 16 + text.length * 6.2 + 18
  }
  // grid
  for (let e = lmin; e <= lmax; e++) {
    for (const k of [1, 2, 5]) {
      const r = k * 10 ** e
      if (r < 10 ** lmin || r > 10 ** lmax) continue
      const gx = x(r).toFixed(1)
      const major = k === 1
      out.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${H - 40}" stroke="${r === 1 ? '#222' : major ? '#ccc' : '#eee'}" stroke-width="${r === 1 ? 1.5 : 1}"/>`)
      if (major || lmax - lmin <= 3) out.push(`<text x="${gx}" y="${H - 26}" text-anchor="middle" fill="#555">${r >= 1 ? r : r.toPrecision(1)}×</text>`)
    }
  }
  let lastW
  let y0 = top
  rows.forEach(({ m, s }, i) => {
    const rowH = heightOf(s)
    if (i % 2 === 0) out.push(`<rect x="8" y="${y0 - 2}" width="${W - 16}" height="${rowH}" fill="#f7f7f7"/>`)
    const unit = UNIT_LABEL[m.unit] ?? m.unit
    const label = `${m.w === lastW ? '' : m.w + '  '}${m.label} (${unit})`
    lastW = m.w
    out.push(`<text x="${left - 8}" y="${y0 + rowH / 2 + 2}" text-anchor="end">${esc(label)}</text>`)
    inRow(s).forEach((v, j) => {
      const r = s.ratios[v]
      const by = y0 + 3 + j * (barH + 3)
      if (r === undefined) {
        const note = s.byVariant[v]?.note
        if (note) out.push(`<text x="${x(1) + 4}" y="${by + barH - 2}" fill="#999" font-size="10">${esc(note)}</text>`)
        return
      }
      const x1 = x(1)
      const x2 = x(r)
      out.push(`<rect x="${Math.min(x1, x2).toFixed(1)}" y="${by}" width="${Math.max(1, Math.abs(x2 - x1)).toFixed(1)}" height="${barH}" fill="${COLORS[v] ?? '#888'}"/>`)
      const tx = r >= 1 ? x2 + 4 : x2 - 4
      out.push(`<text x="${tx.toFixed(1)}" y="${by + barH - 1}" font-size="10" text-anchor="${r >= 1 ? 'start' : 'end'}">${fmtRatio(r)}</text>`)
    })
    y0 += rowH
  })
  out.push(`<text x="16" y="${H - 8}" fill="#999" font-size="10">${esc(meta.chromium.match(/Chromium [0-9.]+/)?.[0] ?? meta.chromium)}, ${meta.machine?.cpus ?? '?'} CPUs; ${esc(meta.date.slice(0, 10))}${meta.merged ? esc(`; ${meta.merged.workloads.join(', ')} from the run of ${meta.merged.date?.slice(0, 10)}`) : ''}</text>`)
  out.push(`<text x="${W - 16}" y="${H - 8}" text-anchor="end" fill="#999" font-size="10">bench/run.mjs — bench/results/latest.json</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}
