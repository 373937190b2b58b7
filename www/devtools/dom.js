// Small DOM and formatting helpers of the devtools page.

/** `el('td', { className: 'x', dataset: { seq } }, child, 'text')` */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(node.dataset, v)
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v)
    else node[k] = v
  }
  node.append(...children.filter((c) => c !== undefined && c !== null && c !== false))
  return node
}

/** `e3`, `e3.1` (client-only), `e3r1` (rebased once): as the project prints seqNums. */
export function seqText(s) {
  if (!s) return '–'
  return `e${s.global}${s.client ? `.${s.client}` : ''}${s.rebaseGeneration ? `r${s.rebaseGeneration}` : ''}`
}

const MAX_TEXT = 160

/** A cell's text: NULL, dates in ISO, bytes by size, objects as JSON (shortened). */
export function valueText(v) {
  if (v === null || v === undefined) return 'NULL'
  if (v instanceof Date) return v.toISOString()
  if (v instanceof Uint8Array) return `<${v.length} bytes>`
  const text = typeof v === 'object' ? JSON.stringify(v, (_, x) => (x instanceof Uint8Array ? `<${x.length} bytes>` : x)) : String(v)
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text
}

/** A table of `rows` (objects) under `columns`; `rowProps(row)` adds attributes to each <tr>. */
export function dataTable(columns, rows, { rowProps, cell } = {}) {
  const head = el('tr', {}, ...columns.map((c) => el('th', { scope: 'col' }, c)))
  const body = rows.map((row) =>
    el(
      'tr',
      rowProps?.(row) ?? {},
      ...columns.map((c) => {
        const custom = cell?.(c, row)
        if (custom) return custom
        const v = row[c]
        return el('td', { className: v === null || v === undefined ? 'null' : '', title: valueText(v) }, valueText(v))
      }),
    ),
  )
  return el('table', { className: 'data' }, el('thead', {}, head), el('tbody', {}, ...body))
}

/** An error as the store gave it: its code, then its message. */
export function errorBox(err) {
  return el('div', { className: 'error', role: 'alert', dataset: { code: err?.code ?? '' } }, el('b', {}, err?.code ?? 'ERROR'), ' ', err?.message ?? String(err))
}

export function bytesText(n) {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`
}

export const msText = (ms) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1))
