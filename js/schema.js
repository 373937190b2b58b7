// Schema DSL: argument schemas (Schema.*), tables and client documents
// (State.SQLite.*), event definitions (Events.*), and makeSchema, which turns
// all of it into the plain SchemaDesc of the wasm boundary plus the map of JS
// materializer functions (wrapped so that the core only ever sees descriptors).

import { BRAND, LiveStoreError, isPlainObject, encodeValue, freezeDeep, describe, schemaHasDate, decodeBySchema } from './util.js'
import { QueryBuilder, documentFinish, normalizeWrites, toQuery } from './query-builder.js'
import { writesJson } from './wire.js'

const schemaError = (message, extra) => new LiveStoreError('INVALID_SCHEMA', message, extra)
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/

// ---------------------------------------------------------------------------
// Schema: argument schemas → ArgSchema descriptors

const ARG_TYPES = new Set(['string', 'number', 'boolean', 'date', 'json', 'literal', 'array', 'struct', 'optional', 'nullable'])

function checkArgSchema(s, where, allowOptional = false) {
  if (!isPlainObject(s) || !ARG_TYPES.has(s.type)) {
    throw schemaError(`${where}: expected a livestore-rs Schema (Schema.String, Schema.Struct({...}), …), got ${describe(s)}`)
  }
  if (s.type === 'optional' && !allowOptional) {
    throw schemaError(`${where}: Schema.optional(...) is only allowed as a field of Schema.Struct`)
  }
  return s
}

const prim = (type) => Object.freeze({ type })
const JSON_SCHEMA = prim('json')

function Literal(...values) {
  if (values.length === 0) throw schemaError('Schema.Literal: give at least one value')
  for (const v of values) {
    const ok = v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
    if (!ok) throw schemaError(`Schema.Literal: values must be strings, finite numbers, booleans or null, got ${describe(v)}`)
  }
  return Object.freeze({ type: 'literal', values: Object.freeze([...values]) })
}

function ArraySchema(items) {
  return Object.freeze({ type: 'array', items: checkArgSchema(items, 'Schema.Array') })
}

function Struct(fields) {
  if (!isPlainObject(fields)) throw schemaError(`Schema.Struct: expected an object of field schemas, got ${describe(fields)}`)
  const out = {}
  for (const [k, f] of Object.entries(fields)) out[k] = checkArgSchema(f, `Schema.Struct field '${k}'`, true)
  return Object.freeze({ type: 'struct', fields: Object.freeze(out) })
}

function optional(inner) {
  checkArgSchema(inner, 'Schema.optional', true)
  return inner.type === 'optional' ? inner : Object.freeze({ type: 'optional', inner })
}

function NullOr(inner) {
  checkArgSchema(inner, 'Schema.NullOr')
  return inner.type === 'nullable' ? inner : Object.freeze({ type: 'nullable', inner })
}

/**
 * Argument schemas for events and client documents. Each is a plain ArgSchema
 * descriptor; validation happens in the wasm core.
 */
export const Schema = Object.freeze({
  String: prim('string'),
  Number: prim('number'),
  Boolean: prim('boolean'),
  Date: prim('date'),
  Json: JSON_SCHEMA,
  Any: JSON_SCHEMA,
  Unknown: JSON_SCHEMA,
  Literal,
  Array: ArraySchema,
  Struct,
  optional,
  NullOr,
  nullable: NullOr,
})

// ---------------------------------------------------------------------------
// Columns and tables

const COLUMN_OPTIONS = new Set(['primaryKey', 'nullable', 'default', 'schema'])

function columnFactory(type) {
  const make = (options = {}) => {
    if (!isPlainObject(options)) throw schemaError(`State.SQLite.${type}: expected an options object, got ${describe(options)}`)
    for (const k of Object.keys(options)) {
      if (!COLUMN_OPTIONS.has(k)) throw schemaError(`State.SQLite.${type}: unknown option '${k}' (known: primaryKey, nullable, default${type === 'json' ? ', schema' : ''})`)
    }
    const col = { type }
    if (options.primaryKey) col.primaryKey = true
    if (options.nullable) col.nullable = true
    if (options.default !== undefined) {
      if (options.default === null && !options.nullable) throw schemaError(`State.SQLite.${type}: default null needs nullable: true`)
      if (typeof options.default === 'function') throw schemaError(`State.SQLite.${type}: default must be a value, not a function`)
      col.default = encodeValue(options.default)
    }
    if (options.schema !== undefined) {
      if (type !== 'json') throw schemaError(`State.SQLite.${type}: the schema option is only for json columns`)
      col.schema = checkArgSchema(options.schema, 'State.SQLite.json schema')
    }
    Object.defineProperty(col, BRAND.column, { value: true })
    return Object.freeze(col)
  }
  Object.defineProperty(make, 'name', { value: type })
  return make
}

const isColumn = (c) => c != null && c[BRAND.column] === true

function tableDescOf(name, columns, indexes) {
  const desc = {
    name,
    columns: Object.entries(columns).map(([colName, c]) => {
      const d = { name: colName, type: c.type }
      if (c.primaryKey) d.primaryKey = true
      if (c.nullable) d.nullable = true
      if ('default' in c) d.default = c.default
      return Object.freeze(d)
    }),
  }
  if (indexes.length) desc.indexes = indexes
  return desc
}

function checkTableArgs(where, name, columns) {
  if (typeof name !== 'string' || !IDENT.test(name)) {
    throw schemaError(`${where}: name must be an SQL identifier (letters, digits, _), got ${describe(name)}`)
  }
  if (!isPlainObject(columns) || Object.keys(columns).length === 0) {
    throw schemaError(`${where} '${name}': columns must be a non-empty object of State.SQLite column definitions`)
  }
  for (const [k, c] of Object.entries(columns)) {
    if (!IDENT.test(k)) throw schemaError(`${where} '${name}': column name ${JSON.stringify(k)} is not an SQL identifier`)
    if (!isColumn(c)) {
      const hint = typeof c === 'function' ? ' (did you forget the call, e.g. State.SQLite.text()?)' : ''
      throw schemaError(`${where} '${name}': column '${k}' is not a column definition${hint}`)
    }
  }
}

function checkIndexes(name, columns, indexes) {
  if (indexes === undefined) return []
  if (!Array.isArray(indexes)) throw schemaError(`table '${name}': indexes must be an array`)
  return indexes.map((ix, i) => {
    if (!isPlainObject(ix) || typeof ix.name !== 'string' || !IDENT.test(ix.name)) {
      throw schemaError(`table '${name}': index #${i} needs a name that is an SQL identifier`)
    }
    if (!Array.isArray(ix.columns) || ix.columns.length === 0) throw schemaError(`table '${name}': index '${ix.name}' needs columns`)
    for (const c of ix.columns) {
      if (!Object.prototype.hasOwnProperty.call(columns, c)) {
        throw schemaError(`table '${name}': index '${ix.name}' names unknown column ${JSON.stringify(c)}`)
      }
    }
    const d = { name: ix.name, columns: Object.freeze([...ix.columns]) }
    if (ix.unique) d.unique = true
    return Object.freeze(d)
  })
}

/** Builds the table definition object shared by table() and clientDocument(). */
function makeTableDef(name, columns, indexes, extra = {}) {
  const def = {}
  let base // created once def has its name and columns
  const desc = tableDescOf(name, columns, indexes)
  if (extra.clientDocument) desc.clientDocument = extra.clientDocument
  Object.assign(def, {
    name,
    columns: Object.freeze({ ...columns }),
    indexes: Object.freeze(indexes),
    tableDesc: Object.freeze(desc),
    where: (...a) => base.where(...a),
    select: (...a) => base.select(...a),
    orderBy: (...a) => base.orderBy(...a),
    limit: (n) => base.limit(n),
    offset: (n) => base.offset(n),
    first: (o) => base.first(o),
    count: () => base.count(),
    insert: (values) => base.insert(values),
    update: (set) => base.update(set),
    delete: () => base.delete(),
    ...extra,
  })
  base = new QueryBuilder(def)
  Object.defineProperty(def, 'desc', { get: () => base.desc, enumerable: false })
  Object.defineProperty(def, 'table', { value: def, enumerable: false })
  Object.defineProperty(def, BRAND.table, { value: true })
  Object.defineProperty(def, BRAND.baseQuery, { value: base })
  return def
}

function table({ name, columns, indexes, ...rest } = {}) {
  const unknown = Object.keys(rest)
  if (unknown.length) throw schemaError(`State.SQLite.table: unknown option '${unknown[0]}' (known: name, columns, indexes)`)
  checkTableArgs('State.SQLite.table', name, columns)
  const def = makeTableDef(name, columns, checkIndexes(name, columns, indexes))
  return Object.freeze(def)
}

const SESSION_ID = '__session__'

function partialOf(schema) {
  if (schema.type !== 'struct') return schema
  const fields = {}
  for (const [k, f] of Object.entries(schema.fields)) fields[k] = optional(f)
  return Struct(fields)
}

function clientDocument({ name, schema, default: dflt, ...rest } = {}) {
  const unknown = Object.keys(rest)
  if (unknown.length) throw schemaError(`State.SQLite.clientDocument: unknown option '${unknown[0]}' (known: name, schema, default)`)
  if (typeof name !== 'string' || !IDENT.test(name)) {
    throw schemaError(`State.SQLite.clientDocument: name must be an SQL identifier, got ${describe(name)}`)
  }
  checkArgSchema(schema, `clientDocument '${name}' schema`)
  if (!isPlainObject(dflt) || !('value' in dflt)) {
    throw schemaError(`clientDocument '${name}': give default: { value: … } (and optionally id)`)
  }
  const defaultId = dflt.id ?? SESSION_ID
  if (typeof defaultId !== 'string' || defaultId === '') throw schemaError(`clientDocument '${name}': default.id must be a non-empty string`)

  const valueSchema = schema
  const setName = `${name}Set`
  const setSchema = Struct({ id: Schema.String, value: partialOf(valueSchema) })
  const set = (value, id = defaultId) => {
    if (typeof id !== 'string') throw new LiveStoreError('INVALID_ARGUMENT', `${setName}: id must be a string, got ${describe(id)}`)
    return Object.freeze({ name: setName, args: { id, value } })
  }
  Object.defineProperty(set, 'name', { value: setName })
  Object.defineProperty(set, BRAND.event, { value: true })
  Object.defineProperty(set, 'clientDocumentTable', { value: name, enumerable: true })
  set.schema = setSchema
  set.clientOnly = true
  Object.freeze(set)

  const finish = documentFinish(valueSchema)
  const getCache = new Map()
  const columns = {
    id: columnFactory('text')({ primaryKey: true }),
    value: columnFactory('json')({ schema: valueSchema }),
  }
  const info = Object.freeze({ default: encodeValue(dflt.value), valueSchema })
  let def
  const get = (id = defaultId) => {
    if (typeof id !== 'string') throw new LiveStoreError('INVALID_ARGUMENT', `${name}.get: id must be a string, got ${describe(id)}`)
    let q = getCache.get(id)
    if (!q) {
      // The query is the descriptor itself, with the helpers as hidden properties.
      q = { kind: 'document', table: name, id }
      Object.defineProperty(q, 'desc', { value: Object.freeze({ kind: 'document', table: name, id }) })
      Object.defineProperty(q, 'finish', { value: finish })
      Object.defineProperty(q, 'tableDef', { value: def })
      Object.defineProperty(q, BRAND.document, { value: true })
      getCache.set(id, Object.freeze(q))
    }
    return q
  }
  def = makeTableDef(name, columns, [], { clientDocument: info, set, get, default: Object.freeze({ id: defaultId, value: dflt.value }), valueSchema })
  return Object.freeze(def)
}

export const isTableDef = (t) => t != null && t[BRAND.table] === true

// ---------------------------------------------------------------------------
// Events

const isEventDef = (e) => e != null && typeof e === 'function' && e[BRAND.event] === true

function makeEventDef(kind, { name, schema, ...rest } = {}) {
  const where = `Events.${kind}`
  const unknown = Object.keys(rest)
  if (unknown.length) throw schemaError(`${where}: unknown option '${unknown[0]}' (known: name, schema)`)
  if (typeof name !== 'string' || name === '') throw schemaError(`${where}: name must be a non-empty string, got ${describe(name)}`)
  checkArgSchema(schema, `${where} '${name}' schema`)
  const emptyArgs = schema.type === 'struct' && Object.values(schema.fields).every((f) => f.type === 'optional')
  const def = (args) => Object.freeze({ name, args: args === undefined && emptyArgs ? {} : args })
  Object.defineProperty(def, 'name', { value: name })
  Object.defineProperty(def, BRAND.event, { value: true })
  def.schema = schema
  def.clientOnly = kind === 'clientOnly'
  return Object.freeze(def)
}

/** Event definitions. `def(args)` builds the event object `{ name, args }` to commit. */
export const Events = Object.freeze({
  synced: (options) => makeEventDef('synced', options),
  clientOnly: (options) => makeEventDef('clientOnly', options),
})

function eventList(events, where) {
  const list = Array.isArray(events) ? events : isPlainObject(events) ? Object.values(events) : undefined
  if (!list) throw schemaError(`${where}: events must be an object (or array) of event definitions, got ${describe(events)}`)
  const out = []
  for (const e of list) {
    if (!isEventDef(e)) throw schemaError(`${where}: ${describe(e)} is not an event definition (Events.synced / Events.clientOnly / doc.set)`)
    if (!out.includes(e)) out.push(e)
  }
  return out
}

function checkMaterializerMap(events, map, where) {
  if (!isPlainObject(map)) throw schemaError(`${where}: materializers must be an object mapping event names to functions or SQL strings`)
  const names = new Set(events.map((e) => e.name))
  for (const [k, v] of Object.entries(map)) {
    if (!names.has(k)) {
      throw schemaError(
        `${where}: '${k}' is not the name of a known event (known: ${[...names].map((n) => `'${n}'`).join(', ') || 'none'})`,
        { event: k },
      )
    }
    if (typeof v !== 'function' && (typeof v !== 'string' || v.trim() === '')) {
      throw schemaError(`${where}: the materializer of '${k}' must be a function or a non-empty SQL string, got ${describe(v)}`, { event: k })
    }
  }
}

/**
 * `State.SQLite.materializers(events, map)`: checks that every key of `map` is
 * the name of an event in `events` and returns the map.
 */
function materializers(events, map) {
  const list = eventList(events, 'State.SQLite.materializers')
  try {
    checkMaterializerMap(list, map, 'State.SQLite.materializers')
  } catch (e) {
    // Friendlier hint when the key is the property name instead of the event name.
    if (isPlainObject(events) && e.event && events[e.event] && isEventDef(events[e.event])) {
      e.message += `; did you mean '${events[e.event].name}' (keys are event names, not property names)?`
    }
    throw e
  }
  return Object.freeze({ ...map })
}

function makeState({ tables, materializers: mats = {}, ...rest } = {}) {
  const unknown = Object.keys(rest)
  if (unknown.length) throw schemaError(`State.SQLite.makeState: unknown option '${unknown[0]}' (known: tables, materializers)`)
  const list = Array.isArray(tables) ? tables : isPlainObject(tables) ? Object.values(tables) : undefined
  if (!list) throw schemaError('State.SQLite.makeState: tables must be an object (or array) of table definitions')
  const seen = new Map()
  for (const t of list) {
    if (!isTableDef(t)) throw schemaError(`State.SQLite.makeState: ${describe(t)} is not a table definition`)
    if (seen.has(t.name) && seen.get(t.name) !== t) throw schemaError(`State.SQLite.makeState: two tables are named '${t.name}'`)
    seen.set(t.name, t)
  }
  if (!isPlainObject(mats)) throw schemaError('State.SQLite.makeState: materializers must be an object')
  const state = { tables: Object.freeze([...seen.values()]), materializers: mats }
  Object.defineProperty(state, BRAND.state, { value: true })
  return Object.freeze(state)
}

/** State definitions: SQLite tables, client documents, materializers. */
export const State = Object.freeze({
  SQLite: Object.freeze({
    text: columnFactory('text'),
    integer: columnFactory('integer'),
    real: columnFactory('real'),
    blob: columnFactory('blob'),
    boolean: columnFactory('boolean'),
    json: columnFactory('json'),
    datetime: columnFactory('datetime'),
    table,
    clientDocument,
    materializers,
    makeState,
  }),
})

// ---------------------------------------------------------------------------
// makeSchema

const seqText = (global, client, generation) => `e${global}${client ? `.${client}` : ''}${generation ? `r${generation}` : ''}`

/**
 * A materializer's `ctx`: one object per call, whose accessors are shared
 * (no closures made for every event committed; `query` makes its function
 * only when read).
 */
class MaterializerCtx {
  #name
  #tables
  #ctx
  #seq
  #event
  constructor(name, tables, ctx, seqGlobal, seqClient, seqGeneration, clientId, sessionId) {
    this.#name = name
    this.#tables = tables
    this.#ctx = ctx
    this.#seq = seqGlobal === undefined ? undefined : [seqGlobal, seqClient, seqGeneration, clientId, sessionId]
  }

  /** Built when read: most materializers never do. */
  get event() {
    if (this.#event === undefined) {
      const s = this.#seq
      this.#event = s === undefined ? this.#ctx?.event : { name: this.#name, seqNum: seqText(s[0], s[1], s[2]), clientId: s[3], sessionId: s[4] }
    }
    return this.#event
  }

  /** A function of its own (made when read), so that `const { query } = ctx` works too. */
  get query() {
    const ctx = this.#ctx
    const name = this.#name
    const tables = this.#tables
    return (q) => {
      if (!ctx || typeof ctx.query !== 'function') {
        throw new LiveStoreError('UNSUPPORTED', `ctx.query is not available in the materializer of '${name}'`, { event: name })
      }
      const { desc, finish } = toQuery(q, tables)
      return finish(ctx.query(desc))
    }
  }
}

// The wrapped function speaks JSON with the core (`encodesWrites`; see
// src/bindings/materialize.rs): it gets the app's args object, or else the
// eventlog's args as JSON text, and the parts of ctx.event; it returns its
// writes as JSON text (or as descriptors when a value has no exact JSON form,
// such as bytes).
function wrapMaterializer(fn, def, tables) {
  const needsDecode = schemaHasDate(def.schema)
  const name = def.name
  const wrapped = function materialize(args, ctx, argsJson, seqGlobal, seqClient, seqGeneration, clientId, sessionId) {
    const given = argsJson === undefined ? args : JSON.parse(argsJson)
    const a = needsDecode ? decodeBySchema(def.schema, given) : given
    const c = new MaterializerCtx(name, tables, ctx, seqGlobal, seqClient, seqGeneration, clientId, sessionId)
    const writes = normalizeWrites(fn(a, c), name)
    return writesJson(writes) ?? writes
  }
  Object.defineProperty(wrapped, 'name', { value: `materialize ${name}` })
  wrapped.encodesWrites = true
  return wrapped
}

/**
 * `makeSchema({ events, state })` → the schema object that createStore takes:
 * `desc` (the SchemaDesc of the wasm boundary), `materializers` (event name →
 * wrapped JS function), `tables` and `events` (Maps by name).
 */
export function makeSchema({ events, state, onRebase, ...rest } = {}) {
  const unknown = Object.keys(rest)
  if (unknown.length) throw schemaError(`makeSchema: unknown option '${unknown[0]}' (known: events, state, onRebase)`)
  if (onRebase !== undefined && typeof onRebase !== 'function') {
    throw schemaError(`makeSchema: onRebase must be a function (event, ctx) => undefined | 'keep' | 'drop' | event, got ${describe(onRebase)}`)
  }
  if (!state || state[BRAND.state] !== true) throw schemaError('makeSchema: state must come from State.SQLite.makeState({ tables, materializers })')
  const defs = eventList(events ?? {}, 'makeSchema')
  const tables = new Map(state.tables.map((t) => [t.name, t]))

  // Client document tables bring their `${name}Set` event, registered even when
  // the app did not list it in `events`.
  for (const t of state.tables) {
    if (t.clientDocument && !defs.includes(t.set)) defs.push(t.set)
  }
  const byName = new Map()
  for (const d of defs) {
    if (byName.has(d.name)) throw schemaError(`makeSchema: two event definitions are named '${d.name}'`, { event: d.name })
    byName.set(d.name, d)
    if (d.clientDocumentTable && !tables.has(d.clientDocumentTable)) {
      throw schemaError(`makeSchema: event '${d.name}' belongs to client document '${d.clientDocumentTable}', which is not in state.tables`, { event: d.name })
    }
  }

  const mats = state.materializers
  checkMaterializerMap(defs, mats, 'makeSchema')
  const missing = []
  const descMats = {}
  const fns = {}
  for (const d of defs) {
    const m = mats[d.name]
    if (d.clientDocumentTable) {
      if (m !== undefined) {
        throw schemaError(`makeSchema: '${d.name}' is materialized by the store (client document upsert); remove its materializer`, { event: d.name })
      }
      continue
    }
    if (m === undefined) missing.push(d.name)
    else if (typeof m === 'string') descMats[d.name] = Object.freeze({ sql: m })
    else {
      descMats[d.name] = Object.freeze({ source: m.toString() })
      fns[d.name] = wrapMaterializer(m, d, tables)
    }
  }
  if (missing.length) {
    throw schemaError(`makeSchema: no materializer for event${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}`, {
      event: missing[0],
    })
  }

  const desc = freezeDeep({
    tables: state.tables.map((t) => t.tableDesc),
    events: defs.map((d) => ({ name: d.name, clientOnly: d.clientOnly, schema: d.schema })),
    materializers: descMats,
  })
  const schema = { desc, materializers: Object.freeze(fns), tables, events: byName, state, onRebase }
  Object.defineProperty(schema, BRAND.schema, { value: true })
  return Object.freeze(schema)
}

export const isSchema = (s) => s != null && s[BRAND.schema] === true
