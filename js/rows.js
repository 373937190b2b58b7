// Query result rows from the flat arrays the wasm core hands over in one call
// (src/bindings/rows.rs): one object per row, keyed by column name.
//
//   width    the number of columns
//   kinds    one per cell, row after row: 0 null, 1 number, 2 true, 3 false,
//            4 text, 5 a value from `others`, 6 JSON text, 7 a Date (epoch ms)
//   numbers  the numbers of kinds 1 and 7, in order
//   text     the column names, then the text of kinds 4 and 6, back to back
//   ends     where each of those ends in `text` (UTF-16 offsets)
//   others   the values of kind 5, in order (undefined when there are none)
//
// `kinds`, `numbers` and `ends` may be views on the wasm memory: they are read
// here, before anything else runs, and not kept.

export function buildRows(width, kinds, numbers, text, ends, others) {
  const keys = new Array(width)
  let start = 0
  let t = 0
  for (; t < width; t++) {
    keys[t] = text.slice(start, ends[t])
    start = ends[t]
  }
  const count = width === 0 ? 0 : kinds.length / width
  const rows = new Array(count)
  let k = 0
  let n = 0
  let o = 0
  for (let r = 0; r < count; r++) {
    const row = {}
    for (let c = 0; c < width; c++) {
      let v
      switch (kinds[k++]) {
        case 0:
          v = null
          break
        case 1:
          v = numbers[n++]
          break
        case 2:
          v = true
          break
        case 3:
          v = false
          break
        case 4:
          v = text.slice(start, ends[t])
          start = ends[t++]
          break
        case 5:
          v = others[o++]
          break
        case 6:
          v = parseJson(text.slice(start, ends[t]))
          start = ends[t++]
          break
        case 7:
          v = new Date(numbers[n++])
          break
      }
      row[keys[c]] = v
    }
    rows[r] = row
  }
  return rows
}

/** A JSON column's value; text that is not JSON stays text. */
function parseJson(s) {
  try {
    return JSON.parse(s)
  } catch {
    return s
  }
}
