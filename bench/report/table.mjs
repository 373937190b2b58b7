// Summaries (median, min, max per metric and variant; ratio LiveStore / livestore-rs
// within each pair of the same kind of storage) and the text table that bench/run.mjs prints.
// A metric with `higherIsBetter` (events/s) has the ratio livestore-rs / LiveStore,
// so that > 1 always means livestore-rs does better.

/**
 * The pairs compared: each LiveStore variant against the livestore-rs variant
 * with the same storage. `ratios[other]` = median(other) / median(base).
 */
export const PAIRS = [
  { other: 'livestore-memory', base: 'livestore-rs', label: 'in-memory' },
  { other: 'livestore-opfs', base: 'livestore-rs-opfs', label: 'OPFS' },
  { other: 'livestore-sync', base: 'livestore-rs-sync', label: 'synced' },
]
const IN_MEMORY = new Set(['livestore-rs', 'livestore-memory'])
/** The pairs of which both variants are in `variants`. */
export const pairsIn = (variants) => PAIRS.filter((p) => variants.includes(p.other) && variants.includes(p.base))

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function stats(values) {
  const xs = values.filter((x) => typeof x === 'number' && Number.isFinite(x))
  if (xs.length === 0) return undefined
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length, values: xs }
}

/** One value list per metric × variant, taken from the runs (W7 from W2's memory, bundles from the build). */
function valuesOf({ raw, bundles }, metric, variant) {
  if (metric.key.startsWith('bundle')) {
    const b = bundles?.[variant]?.[metric.key]
    return { values: b === undefined ? [] : [b], runs: [] }
  }
  const source = metric.w === 'W7' ? 'W2' : metric.w
  const runs = raw?.[source]?.[variant] ?? []
  const values = runs.filter((r) => r.ok).map((r) => (metric.w === 'W7' ? r.memory?.[metric.key] : r.metrics?.[metric.key]))
  return { values, runs }
}

export function summarize({ raw, bundles, variants, metrics, workloads = [] }) {
  const out = {}
  for (const m of metrics) {
    const workload = workloads.find((w) => w.id === m.w)
    const byVariant = {}
    for (const v of variants) {
      const { values, runs } = valuesOf({ raw, bundles }, m, v)
      const s = stats(values)
      if (s) byVariant[v] = s
      else if (runs.length) {
        const failed = runs.filter((r) => !r.ok).length
        byVariant[v] = { note: failed === runs.length ? 'failed' : m.durability ? (runs.find((r) => r.ok)?.durability ?? 'n/a') : 'n/a' }
      } else if (m.persistedOnly && workload && IN_MEMORY.has(v)) byVariant[v] = { note: 'n/a (in-memory)' }
      else if (workload?.notRun?.[v] && !workload.variants?.includes(v)) byVariant[v] = { note: workload.notRun[v] }
    }
    const ratios = {}
    if (!m.noRatio) {
      for (const { other, base } of pairsIn(variants)) {
        const b = byVariant[base]?.median
        const x = byVariant[other]?.median
        if (typeof b !== 'number' || typeof x !== 'number') continue
        if (m.higherIsBetter) {
          if (x > 0) ratios[other] = b / x
        } else if (b > 0) ratios[other] = x / b
      }
    }
    if (Object.keys(byVariant).length) out[`${m.w}.${m.key}`] = { w: m.w, key: m.key, label: m.label, unit: m.unit, higherIsBetter: m.higherIsBetter, byVariant, ratios }
  }
  return out
}

const UNIT_SCALE = { MB: 1 / 2 ** 20, KB: 1 / 2 ** 10 }
export const UNIT_LABEL = { MB: 'MiB', KB: 'KiB' }

export function fmtNumber(x) {
  const a = Math.abs(x)
  if (a >= 10_000) return Math.round(x).toLocaleString('en-US')
  if (a >= 100) return x.toFixed(0)
  if (a >= 10) return x.toFixed(1)
  if (a >= 1) return x.toFixed(2)
  if (a === 0) return '0'
  return x.toPrecision(2)
}

function cell(s, unit) {
  if (!s) return ''
  if (s.note) return s.note
  const k = UNIT_SCALE[unit] ?? 1
  if (s.n === 1) return fmtNumber(s.median * k)
  return `${fmtNumber(s.median * k)} (${fmtNumber(s.min * k)}–${fmtNumber(s.max * k)})`
}

export const fmtRatio = (r) => (r === undefined ? '' : `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`)

/**
 * The table: one section per `metric.section` (W1–W7, then W8 with the synced
 * variants), each with the columns of the variants that have a value in it.
 */
export function formatTable({ summary, metrics, variants, labels, meta }) {
  const sections = []
  for (const m of metrics) {
    const name = m.section ?? 'main'
    let sec = sections.find((x) => x.name === name)
    if (!sec) sections.push((sec = { name, metrics: [] }))
    sec.metrics.push(m)
  }
  const blocks = []
  const shown = new Set()
  for (const sec of sections) {
    const cols = variants.filter((v) => sec.metrics.some((m) => summary[`${m.w}.${m.key}`]?.byVariant[v]))
    if (cols.length === 0) continue
    for (const v of cols) shown.add(v)
    const pairs = pairsIn(cols)
    const head = ['', 'metric', 'unit', ...cols.map((v) => labels[v] ?? v), ...pairs.map((p) => `${p.label}: LiveStore / rs`)]
    const rows = []
    let lastW
    for (const m of sec.metrics) {
      const s = summary[`${m.w}.${m.key}`]
      if (!s) continue
      const row = [m.w === lastW ? '' : m.w, m.label, UNIT_LABEL[m.unit] ?? m.unit, ...cols.map((v) => cell(s.byVariant[v], m.unit))]
      row.push(...pairs.map((p) => fmtRatio(s.ratios[p.other])))
      rows.push(row)
      lastW = m.w
    }
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
    const line = (r) => r.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()
    const sep = widths.map((w) => '-'.repeat(w)).join('  ')
    blocks.push([line(head), sep, ...rows.map(line)].join('\n'))
  }
  const pairs = pairsIn(variants.filter((v) => shown.has(v)))
  const title =
    `median (min–max) of ${meta.runs} run(s), each in a fresh browser context; ${meta.chromium}; ` +
    `LiveStore ${meta.versions['@livestore/livestore']}; ratio = LiveStore / livestore-rs with the same storage ` +
    `(${pairs.map((p) => `${labels[p.other] ?? p.other} / ${labels[p.base] ?? p.base}`).join('; ') || 'no pair selected'}; > 1: livestore-rs lower; ` +
    `events/s: livestore-rs / LiveStore, > 1: livestore-rs higher)`
  const merged = meta.merged ? [`${meta.merged.workloads.join(', ')}: from the run of ${meta.merged.date} (${meta.merged.runs} run(s); ${meta.merged.from})`] : []
  const fewer = (meta.fewerRuns ?? []).map((x) => `${x.w} ${labels[x.variant] ?? x.variant}: ${x.runs}`)
  const foot = [...merged, ...(fewer.length ? [`fewer runs: ${fewer.join('; ')}`] : [])]
  return [title, '', blocks.join('\n\n'), ...(foot.length ? ['', ...foot] : [])].join('\n')
}
