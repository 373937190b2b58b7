// The JSON form of what crosses into the wasm core on every commit: the events
// (name and args) and the writes a materializer returns. One string crosses
// the boundary instead of a call into JS per field, and JSON.stringify and
// the core's parser are fast. Internal module.
//
// JSON is used only where it is exact: the text must decode in the core to
// what its field-by-field conversion of the same JS value gives, errors
// included. Values without an exact JSON form (bytes, bigints, NaN, integers
// beyond 2^53, functions, symbols, objects other than plain ones, invalid
// Dates, strings with a lone surrogate) make the caller fall back to handing
// over the values themselves.

import { encodeValue } from './util.js'

// Strings are checked in the JSON text, once: JSON.stringify writes a lone
// surrogate (which the core's parser refuses; its own conversion replaces it)
// as the escape `\udXXX`, and writes `\ud` for nothing else but an escaped
// backslash before "ud", which takes the other path too, needlessly but rarely.
const hasLoneSurrogate = (json) => json.includes('\\ud')

const UNSAFE = 0
const PLAIN = 1
const HAS_DATES = 2

/**
 * UNSAFE, PLAIN, or HAS_DATES (plain once its Dates are encoded as epoch ms);
 * PLAIN still needs its JSON text checked with hasLoneSurrogate.
 */
function jsonKind(v) {
  switch (typeof v) {
    case 'string': // lone surrogates: see hasLoneSurrogate
    case 'boolean':
    case 'undefined': // skipped in objects, null in arrays: as the core does
      return PLAIN
    case 'number':
      return Number.isSafeInteger(v) || (Number.isFinite(v) && !Number.isInteger(v)) ? PLAIN : UNSAFE
    case 'object': {
      if (v === null) return PLAIN
      let kind = PLAIN
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const k = jsonKind(v[i])
          if (k === UNSAFE) return UNSAFE
          if (k > kind) kind = k
        }
        return kind
      }
      const proto = Object.getPrototypeOf(v)
      if (proto === Date.prototype) return Number.isNaN(v.getTime()) ? UNSAFE : HAS_DATES
      if (proto !== Object.prototype && proto !== null) return UNSAFE
      for (const key of Object.keys(v)) {
        const k = jsonKind(v[key])
        if (k === UNSAFE) return UNSAFE
        if (k > kind) kind = k
      }
      return kind
    }
    default: // function, symbol, bigint
      return UNSAFE
  }
}

/**
 * Whether a value (with its Dates already encoded) has an exact JSON form,
 * but for lone surrogates in its strings (writesJson checks its text for them).
 */
export const exactJsonValue = (v) => jsonKind(v) === PLAIN

// Write descriptors the builders made of values they checked as they encoded
// them (`markExactJson`, before freezing them): writesJson does not walk them
// again. The mark is a private field: invisible to the app, and no weak
// table for the garbage collector to trace as a WeakSet would be.
class Stamped {
  constructor(o) {
    return o
  }
}
class ExactJson extends Stamped {
  #exact = true
  static has(o) {
    return #exact in o
  }
}

export function markExactJson(desc) {
  new ExactJson(desc)
}

const isExact = (w) => typeof w === 'object' && w !== null && ExactJson.has(w)

/** A value as JSON text with Dates as epoch ms, or undefined where that is not exact. */
function valueJson(v) {
  const kind = jsonKind(v)
  if (kind === UNSAFE) return undefined
  return JSON.stringify(kind === HAS_DATES ? encodeValue(v) : v) ?? 'null'
}

/**
 * Events `[{ name, args }]` as the JSON text of `WasmSession.commitJson`, or
 * undefined when some args have no exact JSON form.
 */
export function eventsJson(events) {
  let text = '['
  for (let i = 0; i < events.length; i++) {
    const args = valueJson(events[i].args)
    if (args === undefined) return undefined
    text += `${i ? ',' : ''}{"name":${JSON.stringify(events[i].name)},"args":${args}}`
  }
  return hasLoneSurrogate(text) ? undefined : text + ']'
}

/**
 * Normalized writes (write descriptors and SQL text) as a JSON array of
 * descriptors (SQL text as `{ kind: 'sql', sql }`), or undefined when a value
 * has no exact JSON form. The descriptors' values are already encoded (no Dates).
 *
 * A run of plain inserts the builders made into the same table with the same
 * columns (a batch) goes as one `{ kind: 'insertRows', table, columns, rows }`,
 * each row its values in the columns' order: the core reads no key per value.
 */
export function writesJson(writes) {
  let sql = false
  let exact = 0
  for (let i = 0; i < writes.length; i++) {
    const w = writes[i]
    if (typeof w === 'string') sql = true
    else if (isExact(w)) exact++
    else if (jsonKind(w) !== PLAIN) return undefined
  }
  const text = JSON.stringify(
    exact > 1 ? withRuns(writes) : sql ? writes.map((w) => (typeof w === 'string' ? { kind: 'sql', sql: w } : w)) : writes,
  )
  return hasLoneSurrogate(text) ? undefined : text
}

/** `writes` (checked) with their runs of plain inserts as insertRows. */
function withRuns(writes) {
  const out = []
  let run = null // the insertRows at the end of `out`, if any
  let single = -1 // else the index in `out` of a plain insert a run could start from
  let singleColumns
  for (let i = 0; i < writes.length; i++) {
    const w = writes[i]
    if (!isExact(w)) {
      run = null
      single = -1
      out.push(typeof w === 'string' ? { kind: 'sql', sql: w } : w)
      continue
    }
    const columns = Object.keys(w.values)
    if (run !== null && run.table === w.table && sameColumns(run.columns, columns)) {
      run.rows.push(rowOf(w.values, columns))
    } else if (single >= 0 && out[single].table === w.table && sameColumns(singleColumns, columns)) {
      run = { kind: 'insertRows', table: w.table, columns, rows: [rowOf(out[single].values, columns), rowOf(w.values, columns)] }
      out[single] = run
      single = -1
    } else {
      run = null
      single = out.length
      singleColumns = columns
      out.push(w)
    }
  }
  return out
}

function sameColumns(a, b) {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function rowOf(values, columns) {
  const row = new Array(columns.length)
  for (let i = 0; i < columns.length; i++) row[i] = values[columns[i]]
  return row
}
