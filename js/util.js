// Shared helpers of the livestore-rs JS layer: errors, brands, value encoding,
// deep equality. Internal module (not part of the public API).

/** Brand symbols (Symbol.for so that two copies of this package recognise each other's objects). */
export const BRAND = Object.freeze({
  queryBuilder: Symbol.for('livestore-rs/QueryBuilder'),
  writeBuilder: Symbol.for('livestore-rs/WriteBuilder'),
  table: Symbol.for('livestore-rs/TableDef'),
  column: Symbol.for('livestore-rs/ColumnDef'),
  event: Symbol.for('livestore-rs/EventDef'),
  liveDef: Symbol.for('livestore-rs/LiveQueryDef'),
  state: Symbol.for('livestore-rs/State'),
  schema: Symbol.for('livestore-rs/Schema'),
  document: Symbol.for('livestore-rs/DocumentQuery'),
  baseQuery: Symbol.for('livestore-rs/baseQuery'),
  adapter: Symbol.for('livestore-rs/Adapter'),
})

/**
 * Errors of livestore-rs: `name === 'LiveStoreError'` and a stable `code`.
 * `instanceof LiveStoreError` is also true for the errors thrown by the wasm core
 * (plain `Error`s with that name), so one check covers both layers.
 */
export class LiveStoreError extends Error {
  constructor(code, message, extra) {
    super(message)
    this.name = 'LiveStoreError'
    this.code = code
    if (extra) Object.assign(this, extra)
  }

  static [Symbol.hasInstance](value) {
    return value instanceof Error && value.name === 'LiveStoreError'
  }
}

export const fail = (code, message, extra) => {
  throw new LiveStoreError(code, message, extra)
}

export const isPlainObject = (v) => {
  if (v === null || typeof v !== 'object') return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/**
 * Turns a value into what crosses the wasm boundary: `Date` → epoch milliseconds,
 * recursively inside plain objects and arrays. Returns the same object when nothing
 * had to change (no copy on the hot path).
 */
export function encodeValue(v) {
  if (v === null || typeof v !== 'object') return v
  if (v instanceof Date) {
    const ms = v.getTime()
    if (Number.isNaN(ms)) fail('INVALID_ARGUMENT', 'Invalid Date cannot be stored')
    return ms
  }
  if (Array.isArray(v)) {
    let out = v
    for (let i = 0; i < v.length; i++) {
      const e = encodeValue(v[i])
      if (e !== v[i]) {
        if (out === v) out = v.slice()
        out[i] = e
      }
    }
    return out
  }
  if (isPlainObject(v)) {
    let out = v
    for (const k of Object.keys(v)) {
      const e = encodeValue(v[k])
      if (e !== v[k]) {
        if (out === v) out = { ...v }
        out[k] = e
      }
    }
    return out
  }
  return v // Uint8Array and other objects pass unchanged
}

/** Structural equality for query results, signal and computed values. */
export function deepEqual(a, b) {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && Object.is(a.getTime(), b.getTime())
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) return false
    if (a.byteLength !== b.byteLength) return false
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false
    return true
  }
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k))) return false
    return true
  }
  if (a instanceof Set || b instanceof Set) {
    if (!(a instanceof Set && b instanceof Set) || a.size !== b.size) return false
    for (const v of a) if (!b.has(v)) return false
    return true
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !deepEqual(a[k], b[k])) return false
  }
  return true
}

/** Deep-freezes a descriptor built entirely by this layer (never call it on user values). */
export function freezeDeep(v) {
  if (v !== null && typeof v === 'object' && (Array.isArray(v) || isPlainObject(v)) && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const k of Object.keys(v)) freezeDeep(v[k])
  }
  return v
}

/** Whether an ArgSchema contains a `date` anywhere (then values need decoding). */
export function schemaHasDate(s) {
  switch (s?.type) {
    case 'date':
      return true
    case 'array':
      return schemaHasDate(s.items)
    case 'optional':
    case 'nullable':
      return schemaHasDate(s.inner)
    case 'struct':
      return Object.values(s.fields).some(schemaHasDate)
    default:
      return false
  }
}

/**
 * Decodes a value coming out of the wasm core according to its ArgSchema:
 * `date` fields given as epoch milliseconds (or ISO strings) become `Date`s.
 * Copies only what changes; unknown shapes pass unchanged (the core validated them).
 */
export function decodeBySchema(s, v) {
  if (v === null || v === undefined) return v
  switch (s?.type) {
    case 'date':
      return typeof v === 'number' || typeof v === 'string' ? new Date(v) : typeof v === 'bigint' ? new Date(Number(v)) : v
    case 'optional':
    case 'nullable':
      return decodeBySchema(s.inner, v)
    case 'array': {
      if (!Array.isArray(v) || !schemaHasDate(s.items)) return v
      return v.map((x) => decodeBySchema(s.items, x))
    }
    case 'struct': {
      if (typeof v !== 'object' || Array.isArray(v)) return v
      let out = v
      for (const [k, fs] of Object.entries(s.fields)) {
        if (!(k in v) || !schemaHasDate(fs)) continue
        const d = decodeBySchema(fs, v[k])
        if (d !== v[k]) {
          if (out === v) out = { ...v }
          out[k] = d
        }
      }
      return out
    }
    default:
      return v
  }
}

/** A random id of 12 hex characters (client and session ids). */
export function randomId() {
  const c = globalThis.crypto
  if (c && typeof c.randomUUID === 'function') return c.randomUUID().replace(/-/g, '').slice(0, 12)
  const bytes = new Uint8Array(6)
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256)
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

export const describe = (v) => {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'function') return `a function${v.name ? ` (${v.name})` : ''}`
  if (typeof v === 'object') return isPlainObject(v) ? 'a plain object' : `an instance of ${v.constructor?.name ?? 'Object'}`
  return `${typeof v} ${JSON.stringify(v)}`
}
