// Query builder: immutable, frozen builders that serialize to the QueryDesc /
// WriteDesc objects of the wasm boundary (docs/ARCHITECTURE.md).
//
// Decision: builders are JS objects with a `.desc` property holding the plain,
// frozen descriptor. The Rust side never sees a builder: everything this layer
// hands to the wasm core (store.query, subscribeQuery, materializer results,
// ctx.query) is turned into a descriptor here first (`toQuery`, `normalizeWrites`).

import { BRAND, LiveStoreError, fail, isPlainObject, encodeValue, decodeBySchema, describe } from './util.js'
import { exactJsonValue, markExactJson } from './wire.js'

const WHERE_OPS = new Set(['=', '!=', '<', '>', '<=', '>=', 'IN', 'NOT IN', 'LIKE'])
const CONFLICT_ACTIONS = new Set(['ignore', 'replace', 'update'])

// Codes as the Rust core uses them, so an app sees one code per kind of mistake.
const queryError = (message) => new LiveStoreError('INVALID_QUERY', message)

function checkColumn(table, col, what) {
  if (typeof col !== 'string' || !Object.prototype.hasOwnProperty.call(table.columns, col)) {
    throw new LiveStoreError(
      'UNKNOWN_COLUMN',
      `${what}: table '${table.name}' has no column ${JSON.stringify(col)} (columns: ${Object.keys(table.columns).join(', ')})`,
    )
  }
}

function normalizeOp(op) {
  const o = typeof op === 'string' ? op.trim().toUpperCase().replace(/\s+/g, ' ') : op
  if (o === '<>') return '!='
  if (o === '==') return '='
  if (!WHERE_OPS.has(o)) throw queryError(`unknown where operator ${JSON.stringify(op)} (use one of ${[...WHERE_OPS].join(', ')})`)
  return o
}

function normalizeCondition(table, col, op, value) {
  checkColumn(table, col, 'where')
  const o = normalizeOp(op)
  if ((o === 'IN' || o === 'NOT IN') && !Array.isArray(value)) {
    throw queryError(`where: operator ${o} on '${col}' needs an array value, got ${describe(value)}`)
  }
  return o === '=' ? encodeValue(value) : { op: o, value: encodeValue(value) }
}

const isOpObject = (v) =>
  isPlainObject(v) && typeof v.op === 'string' && 'value' in v && Object.keys(v).length === 2

/** Normalizes a user `where` object into a new Where descriptor (columns checked, Dates encoded). */
export function normalizeWhere(table, w) {
  if (!isPlainObject(w)) throw queryError(`where: expected an object like { column: value }, got ${describe(w)}`)
  const out = {}
  for (const [k, v] of Object.entries(w)) {
    if (v === undefined) continue
    if (k === '$and' || k === '$or') {
      if (!Array.isArray(v)) throw queryError(`where: ${k} needs an array of where objects`)
      out[k] = v.map((x) => normalizeWhere(table, x))
      continue
    }
    out[k] = isOpObject(v) ? normalizeCondition(table, k, v.op, v.value) : normalizeCondition(table, k, '=', v)
  }
  return out
}

function whereArgs(table, args) {
  if (args.length === 1) return normalizeWhere(table, args[0])
  if (args.length === 2) return { [args[0]]: normalizeCondition(table, args[0], '=', args[1]) }
  if (args.length === 3) return { [args[0]]: normalizeCondition(table, args[0], args[1], args[2]) }
  throw queryError(`where: expected (object), (column, value) or (column, op, value), got ${args.length} arguments`)
}

const combineWhere = (list) => (list.length === 0 ? undefined : list.length === 1 ? list[0] : { $and: list })

function checkCount(n, what) {
  if (!Number.isSafeInteger(n) || n < 0) throw queryError(`${what}: expected a non-negative integer, got ${describe(n)}`)
  return n
}

const EMPTY_STATE = Object.freeze({
  where: Object.freeze([]),
  select: undefined,
  orderBy: Object.freeze([]),
  limit: undefined,
  offset: undefined,
  result: 'rows',
  fallback: undefined,
})

/**
 * Decoders per table for the values SQLite cannot represent natively: boolean
 * columns given as 0/1 become booleans, datetime columns given as epoch ms become
 * Dates. Idempotent, so it is harmless when the core already decoded them.
 */
function rowDecoder(table) {
  const cols = Object.entries(table.columns).filter(([, c]) => c.type === 'boolean' || c.type === 'datetime')
  if (cols.length === 0) return (row) => row
  return (row) => {
    if (row === null || typeof row !== 'object') return row
    for (const [name, c] of cols) {
      const v = row[name]
      if (v === null || v === undefined) continue
      if (c.type === 'boolean') {
        if (typeof v === 'number' || typeof v === 'bigint') row[name] = v != 0 // eslint-disable-line eqeqeq
      } else if (typeof v === 'number' || typeof v === 'string') row[name] = new Date(v)
      else if (typeof v === 'bigint') row[name] = new Date(Number(v))
    }
    return row
  }
}

const decoders = new WeakMap()
export function decoderFor(table) {
  let d = decoders.get(table)
  if (!d) decoders.set(table, (d = rowDecoder(table)))
  return d
}

/** Read query over one table. Create it from a table: `todos.where({ completed: false })`. */
export class QueryBuilder {
  #s
  #table
  constructor(table, state = EMPTY_STATE) {
    this.#table = table
    this.#s = state
    Object.defineProperty(this, 'desc', { value: buildSelectDesc(table, state), enumerable: true })
    Object.defineProperty(this, BRAND.queryBuilder, { value: true })
    Object.freeze(this)
  }

  /** The table definition this query reads. */
  get table() {
    return this.#table
  }

  #next(patch) {
    return new QueryBuilder(this.#table, Object.freeze({ ...this.#s, ...patch }))
  }

  #assertNotCount(what) {
    if (this.#s.result === 'count') throw queryError(`${what}() cannot follow count()`)
  }

  where(...args) {
    return this.#next({ where: Object.freeze([...this.#s.where, whereArgs(this.#table, args)]) })
  }

  select(...cols) {
    this.#assertNotCount('select')
    if (cols.length === 1 && Array.isArray(cols[0])) cols = cols[0]
    for (const c of cols) checkColumn(this.#table, c, 'select')
    return this.#next({ select: cols.length === 0 ? undefined : Object.freeze([...cols]) })
  }

  orderBy(colOrList, direction = 'asc') {
    this.#assertNotCount('orderBy')
    const list = Array.isArray(colOrList) ? colOrList : [{ column: colOrList, direction }]
    const entries = list.map((e) => {
      const column = typeof e === 'string' ? e : (e?.column ?? e?.col)
      const dir = typeof e === 'string' ? 'asc' : (e?.direction ?? 'asc')
      checkColumn(this.#table, column, 'orderBy')
      const d = typeof dir === 'string' ? dir.toLowerCase() : dir
      if (d !== 'asc' && d !== 'desc') throw queryError(`orderBy: direction must be 'asc' or 'desc', got ${describe(dir)}`)
      return Object.freeze({ column, direction: d })
    })
    return this.#next({ orderBy: Object.freeze([...this.#s.orderBy, ...entries]) })
  }

  limit(n) {
    this.#assertNotCount('limit')
    if (this.#s.result === 'first') throw queryError('limit() cannot follow first()')
    return this.#next({ limit: checkCount(n, 'limit') })
  }

  offset(n) {
    this.#assertNotCount('offset')
    return this.#next({ offset: checkCount(n, 'offset') })
  }

  first(options) {
    this.#assertNotCount('first')
    if (this.#s.limit !== undefined) throw queryError(`first() cannot follow limit()`)
    const fallback = options?.fallback
    if (fallback !== undefined && typeof fallback !== 'function') throw queryError('first: fallback must be a function')
    return this.#next({ result: 'first', fallback })
  }

  count() {
    if (this.#s.result !== 'rows') throw queryError(`count() cannot follow ${this.#s.result}()`)
    if (this.#s.select || this.#s.limit !== undefined || this.#s.offset !== undefined) {
      throw queryError('count() cannot follow select(), limit() or offset()')
    }
    return this.#next({ result: 'count', orderBy: EMPTY_STATE.orderBy })
  }

  /** `todos.where({ id }).update({ text })`: an update of the rows this query's where selects. */
  update(set) {
    return new WriteBuilder(this.#table, { kind: 'update', set: writeValues(this.#table, set, 'update'), where: this.#s.where })
  }

  /** `todos.where({ completed: true }).delete()`. */
  delete() {
    return new WriteBuilder(this.#table, { kind: 'delete', where: this.#s.where })
  }

  insert(values) {
    const v = writeValues(this.#table, values, 'insert')
    return new WriteBuilder(this.#table, { kind: 'insert', values: v }, valuesExact)
  }

  /** Turns a raw result of the wasm core into this query's result (decoding, pluck, first, fallback). */
  finish(value) {
    const s = this.#s
    if (s.result === 'count') return typeof value === 'bigint' ? Number(value) : value
    const decode = decoderFor(this.#table)
    const pluck = s.select && s.select.length === 1 ? s.select[0] : undefined
    const one = (row) => {
      const r = decode(row)
      return pluck !== undefined && r !== null && typeof r === 'object' ? r[pluck] : r
    }
    if (s.result === 'first') {
      const row = Array.isArray(value) ? value[0] : value
      if (row === null || row === undefined) return s.fallback ? s.fallback() : undefined
      return one(row)
    }
    if (!Array.isArray(value)) return value
    for (let i = 0; i < value.length; i++) value[i] = one(value[i])
    return value
  }

  toString() {
    return `QueryBuilder(${JSON.stringify(this.desc)})`
  }

  toJSON() {
    return this.desc
  }
}

function buildSelectDesc(table, s) {
  const desc = { kind: 'select', table: table.name }
  if (s.select && s.result !== 'count') desc.select = s.select
  const where = combineWhere(s.where)
  if (where) desc.where = where
  if (s.orderBy.length && s.result !== 'count') desc.orderBy = s.orderBy
  if (s.limit !== undefined) desc.limit = s.limit
  if (s.offset !== undefined) desc.offset = s.offset
  desc.result = s.result
  return Object.freeze(desc)
}

// Whether the values of the last writeValues call have an exact JSON form
// (set as it returns, so a getter of the values calling it again does not matter).
let valuesExact = false

/** The values of a write, checked against the table's columns and encoded (Dates as epoch ms). */
function writeValues(table, values, what) {
  if (!isPlainObject(values)) throw queryError(`${what}: expected an object of column values, got ${describe(values)}`)
  const out = {}
  let exact = true
  const keys = Object.keys(values) // not entries: no array per column on the path of every row written
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]
    const v = values[k]
    if (v === undefined) continue
    if (!Object.prototype.hasOwnProperty.call(table.columns, k)) checkColumn(table, k, what)
    // Primitives inline: this runs for every row a batch writes.
    if (typeof v === 'string' || typeof v === 'boolean' || v === null) {
      out[k] = v
    } else {
      const e = encodeValue(v)
      out[k] = e
      if (exact && !exactJsonValue(e)) exact = false
    }
  }
  valuesExact = exact // but for lone surrogates, which writesJson finds in its text
  return Object.freeze(out)
}

/** Write (insert / update / delete) on one table; what a materializer returns. */
export class WriteBuilder {
  #table
  #s
  /** `exact`: the state's values have an exact JSON form (see wire.js). */
  constructor(table, state, exact = false) {
    this.#table = table
    this.#s = Object.freeze(state)
    // A plain field, read-only once frozen: cheaper than defineProperty for every row written.
    this.desc = buildWriteDesc(table, this.#s, exact && state.kind === 'insert' && !state.onConflict)
    Object.freeze(this)
  }

  get table() {
    return this.#table
  }

  where(...args) {
    if (this.#s.kind === 'insert') throw queryError('where() cannot be used on insert()')
    return new WriteBuilder(this.#table, { ...this.#s, where: Object.freeze([...this.#s.where, whereArgs(this.#table, args)]) })
  }

  onConflict(target, action, update) {
    if (this.#s.kind !== 'insert') throw queryError('onConflict() can only follow insert()')
    const targets = Array.isArray(target) ? [...target] : [target]
    if (targets.length === 0) throw queryError('onConflict: give at least one target column')
    for (const t of targets) checkColumn(this.#table, t, 'onConflict')
    if (!CONFLICT_ACTIONS.has(action)) throw queryError(`onConflict: action must be 'ignore', 'replace' or 'update', got ${describe(action)}`)
    const oc = { target: Object.freeze(targets), action }
    if (action === 'update') {
      if (update === undefined) throw queryError(`onConflict(..., 'update', values): the update values are missing`)
      oc.update = writeValues(this.#table, update, 'onConflict update')
    }
    return new WriteBuilder(this.#table, { ...this.#s, onConflict: Object.freeze(oc) })
  }

  toString() {
    return `WriteBuilder(${JSON.stringify(this.desc)})`
  }

  toJSON() {
    return this.desc
  }
}

// The brand on the prototype: one property less to define per builder.
Object.defineProperty(WriteBuilder.prototype, BRAND.writeBuilder, { value: true })

/** `exactJson`: mark it as such (see wire.js). */
function buildWriteDesc(table, s, exactJson = false) {
  const desc = { kind: s.kind, table: table.name }
  if (s.kind === 'insert') {
    desc.values = s.values
    if (s.onConflict) desc.onConflict = s.onConflict
    if (exactJson) markExactJson(desc)
  } else {
    if (s.kind === 'update') desc.set = s.set
    const where = combineWhere(s.where)
    if (where) desc.where = where
  }
  return Object.freeze(desc)
}

// ---------------------------------------------------------------------------
// Conversions used by the store and the materializer wrapper

const identity = (v) => v
const firstOrUndefined = (v) => (Array.isArray(v) ? v[0] : (v ?? undefined))

export const isQueryBuilder = (q) => q != null && q[BRAND.queryBuilder] === true
export const isWriteBuilder = (q) => q != null && q[BRAND.writeBuilder] === true
export const isTable = (q) => q != null && q[BRAND.table] === true
export const isDocumentQuery = (q) => q != null && q[BRAND.document] === true
export const isRawQuery = (q) => isPlainObject(q) && typeof q.query === 'string'

/**
 * Resolves anything a user can query into `{ desc, finish }`: `desc` is the plain
 * QueryDesc for the wasm core, `finish(raw)` turns the core's result into the
 * value the user sees. `tables` (Map name → table) is used for descriptors
 * given directly as plain objects.
 */
export function toQuery(q, tables) {
  if (isQueryBuilder(q)) return { desc: q.desc, finish: (v) => q.finish(v) }
  if (isTable(q)) return toQuery(q[BRAND.baseQuery], tables)
  if (isDocumentQuery(q)) return { desc: q.desc, finish: q.finish }
  if (isRawQuery(q)) {
    const desc = { kind: 'sql', sql: q.query }
    if (q.bindValues !== undefined) desc.bind = encodeValue(q.bindValues)
    if (q.result !== undefined) {
      if (q.result !== 'rows' && q.result !== 'first') throw queryError(`raw query: result must be 'rows' or 'first'`)
      desc.result = q.result
    }
    const pick = q.result === 'first' ? firstOrUndefined : identity
    const schema = q.schema
    return { desc: Object.freeze(desc), finish: schema ? (v) => decodeBySchema(schema, pick(v)) : pick }
  }
  if (isPlainObject(q) && (q.kind === 'select' || q.kind === 'sql' || q.kind === 'document')) {
    const table = q.kind === 'select' ? tables?.get(q.table) : undefined
    if (q.kind === 'select' && (q.result ?? 'rows') !== 'count' && table) {
      const decode = decoderFor(table)
      if (q.result === 'first') return { desc: q, finish: (v) => { const r = firstOrUndefined(v); return r === undefined ? r : decode(r) } }
      return { desc: q, finish: (v) => (Array.isArray(v) ? v.map(decode) : v) }
    }
    if (q.kind === 'document' && tables?.get(q.table)?.clientDocument) {
      return { desc: q, finish: documentFinish(tables.get(q.table).clientDocument.valueSchema) }
    }
    return { desc: q, finish: q.result === 'first' ? firstOrUndefined : identity }
  }
  throw queryError(
    `cannot query ${describe(q)}: expected a table query (todos.where(...)), a client document get(), { query: 'SELECT …', bindValues }, queryDb(...), computed(...) or signal(...)`,
  )
}

/** Builds the finish function of a client document get(): decodes dates of the value. */
export function documentFinish(valueSchema) {
  return (v) => decodeBySchema(valueSchema, v)
}

const WRITE_KINDS = new Set(['insert', 'update', 'delete', 'sql'])

/**
 * Normalizes what a JS materializer returned into an array of WriteDesc or SQL
 * strings (strings keep their `:name` parameters, bound from the args by the core).
 */
export function normalizeWrites(result, eventName, out = []) {
  if (result === undefined || result === null) return out
  if (Array.isArray(result)) {
    for (let i = 0; i < result.length; i++) {
      const r = result[i]
      // Builders inline: an array of them is how a batch writes its rows.
      if (isWriteBuilder(r)) out.push(r.desc)
      else normalizeWrites(r, eventName, out)
    }
    return out
  }
  if (typeof result === 'string') {
    out.push(result)
    return out
  }
  if (isWriteBuilder(result)) {
    out.push(result.desc)
    return out
  }
  if (isQueryBuilder(result) || isTable(result)) {
    throw new LiveStoreError(
      'MATERIALIZER_INVALID',
      `the materializer of '${eventName}' returned a read query; return a write (table.insert/update/delete), a SQL string or an array of these`,
      { event: eventName },
    )
  }
  if (isPlainObject(result)) {
    if (WRITE_KINDS.has(result.kind)) {
      const d = { ...result }
      if (d.values) d.values = encodeValue(d.values)
      if (d.set) d.set = encodeValue(d.set)
      if (d.where) d.where = encodeValue(d.where)
      if (d.bind) d.bind = encodeValue(d.bind)
      if (d.onConflict?.update) d.onConflict = { ...d.onConflict, update: encodeValue(d.onConflict.update) }
      out.push(d)
      return out
    }
    if (typeof result.sql === 'string') {
      // LiveStore's `{ sql, bindValues }` form
      const d = { kind: 'sql', sql: result.sql }
      const bind = result.bindValues ?? result.bind
      if (bind !== undefined) d.bind = encodeValue(bind)
      out.push(d)
      return out
    }
  }
  throw new LiveStoreError(
    'MATERIALIZER_INVALID',
    `the materializer of '${eventName}' returned ${describe(result)}; return a write (table.insert/update/delete), a SQL string, { sql, bindValues } or an array of these`,
    { event: eventName },
  )
}
