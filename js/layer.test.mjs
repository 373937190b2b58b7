// Tests of the JS layer alone, against an in-memory stand-in for the wasm
// WasmSession (same boundary as docs/ARCHITECTURE.md). Run: node --test js/layer.test.mjs
// The real end-to-end test against pkg/ lives with the other tests.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, copyFileSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

// ---------------------------------------------------------------------------
// A minimal WasmSession: tables as arrays of rows, booleans stored as 0/1 and
// datetimes as epoch ms (as SQLite would), live queries re-run on every commit.

const encodeArgs = (v) =>
  v instanceof Date ? v.getTime() : Array.isArray(v) ? v.map(encodeArgs) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeArgs(x)])) : v

// What a wrapped materializer returned: JSON text of descriptors (SQL as { kind: 'sql' }), or descriptors.
const writesOf = (r) => (typeof r === 'string' ? JSON.parse(r).map((w) => (w.kind === 'sql' ? w.sql : w)) : r)

const closedError = () => Object.assign(new Error('store is closed'), { name: 'LiveStoreError', code: 'STORE_CLOSED' })

class MockSession {
  constructor(schema, materializers, options) {
    this.schemaDesc = schema
    this.fns = materializers
    this.options = options
    this.tables = new Map(schema.tables.map((t) => [t.name, []]))
    this.tableDescs = new Map(schema.tables.map((t) => [t.name, t]))
    this.events = new Map(schema.events.map((e) => [e.name, e]))
    this.log = []
    this.live = new Map()
    this.nextLive = 1
    this.closed = false
    this.schemaHash = 'mock-' + schema.tables.length
    this.stats = { subscribe: 0, unsubscribe: 0, query: 0 }
    MockSession.last = this
  }
  #open() {
    if (this.closed) throw closedError()
  }
  #encode(table, col, v) {
    const c = this.tableDescs.get(table).columns.find((x) => x.name === col)
    if (!c) throw Object.assign(new Error(`no column ${col}`), { name: 'LiveStoreError', code: 'UNKNOWN_COLUMN' })
    if (c.type === 'boolean' && typeof v === 'boolean') return v ? 1 : 0
    if (c.type === 'datetime' && v instanceof Date) throw new Error('Date crossed the boundary')
    return v
  }
  #match(table, row, where) {
    if (!where) return true
    return Object.entries(where).every(([k, cond]) => {
      if (k === '$and') return cond.every((w) => this.#match(table, row, w))
      if (k === '$or') return cond.some((w) => this.#match(table, row, w))
      const isOp = cond !== null && typeof cond === 'object' && !Array.isArray(cond) && 'op' in cond
      const op = isOp ? cond.op : '='
      const raw = isOp ? cond.value : cond
      const v = Array.isArray(raw) ? raw.map((x) => this.#encode(table, k, x)) : this.#encode(table, k, raw)
      const x = row[k]
      switch (op) {
        case '=': return x === v
        case '!=': return x !== v
        case '<': return x < v
        case '>': return x > v
        case '<=': return x <= v
        case '>=': return x >= v
        case 'IN': return v.includes(x)
        case 'NOT IN': return !v.includes(x)
        case 'LIKE': return new RegExp('^' + String(v).replace(/%/g, '.*') + '$', 'i').test(String(x))
        default: throw new Error('op ' + op)
      }
    })
  }
  #run(q) {
    if (q.kind === 'document') {
      const t = this.tableDescs.get(q.table)
      const id = q.id === '__session__' ? this.options.sessionId : q.id
      const row = this.tables.get(q.table).find((r) => r.id === id)
      return { ...t.clientDocument.default, ...(row ? row.value : {}) }
    }
    if (q.kind === 'sql') {
      const m = /^SELECT \* FROM (\w+)(?: WHERE (\w+) = :(\w+))?$/i.exec(q.sql.trim())
      if (!m) throw new Error('mock: unsupported SQL ' + q.sql)
      let rows = this.tables.get(m[1]).map((r) => ({ ...r }))
      if (m[2]) rows = rows.filter((r) => r[m[2]] === q.bind[m[3]])
      return q.result === 'first' ? rows[0] ?? null : rows
    }
    let rows = this.tables.get(q.table).filter((r) => this.#match(q.table, r, q.where))
    if (q.result === 'count') return rows.length
    for (const o of [...(q.orderBy ?? [])].reverse()) {
      rows = [...rows].sort((a, b) => (a[o.column] < b[o.column] ? -1 : a[o.column] > b[o.column] ? 1 : 0) * (o.direction === 'desc' ? -1 : 1))
    }
    if (q.offset) rows = rows.slice(q.offset)
    if (q.limit !== undefined) rows = rows.slice(0, q.limit)
    rows = rows.map((r) => (q.select ? Object.fromEntries(q.select.map((c) => [c, r[c]])) : { ...r }))
    return q.result === 'first' ? rows[0] ?? null : rows
  }
  #write(w, args) {
    if (typeof w === 'string') {
      const m = /^UPDATE (\w+) SET (\w+) = :(\w+) WHERE (\w+) = (\d+)$/.exec(w.trim())
      if (!m) throw new Error('mock: unsupported SQL ' + w)
      for (const r of this.tables.get(m[1])) if (r[m[4]] === Number(m[5])) r[m[2]] = args[m[3]]
      return
    }
    const rows = this.tables.get(w.table)
    const t = this.tableDescs.get(w.table)
    if (w.kind === 'insert') {
      const row = {}
      for (const c of t.columns) row[c.name] = 'default' in c ? this.#encode(w.table, c.name, c.default) : null
      for (const [k, v] of Object.entries(w.values)) row[k] = this.#encode(w.table, k, v)
      const pk = t.columns.find((c) => c.primaryKey).name
      const existing = rows.find((r) => r[pk] === row[pk])
      if (existing) {
        if (w.onConflict?.action === 'ignore') return
        if (w.onConflict?.action === 'replace') return void Object.assign(existing, row)
        if (w.onConflict?.action === 'update') {
          for (const [k, v] of Object.entries(w.onConflict.update)) existing[k] = this.#encode(w.table, k, v)
          return
        }
        throw Object.assign(new Error('UNIQUE constraint failed'), { name: 'LiveStoreError', code: 'SQLITE_CONSTRAINT' })
      }
      rows.push(row)
    } else if (w.kind === 'update') {
      for (const r of rows) if (this.#match(w.table, r, w.where)) for (const [k, v] of Object.entries(w.set)) r[k] = this.#encode(w.table, k, v)
    } else if (w.kind === 'delete') {
      this.tables.set(w.table, rows.filter((r) => !this.#match(w.table, r, w.where)))
    } else throw new Error('mock: write kind ' + w.kind)
  }
  commit(events) {
    this.#open()
    const snapshot = new Map([...this.tables].map(([k, rows]) => [k, rows.map((r) => ({ ...r }))]))
    const logLen = this.log.length
    try {
      for (const e of events) {
        const def = this.events.get(e.name)
        if (!def) throw Object.assign(new Error(`unknown event ${e.name}`), { name: 'LiveStoreError', code: 'UNKNOWN_EVENT', event: e.name })
        const args = encodeArgs(e.args) // as the core does: Dates → epoch ms
        const doc = this.schemaDesc.tables.find((t) => t.clientDocument && `${t.name}Set` === e.name)
        if (doc) {
          const id = args.id === '__session__' ? this.options.sessionId : args.id
          const rows = this.tables.get(doc.name)
          const row = rows.find((r) => r.id === id)
          if (row) row.value = { ...row.value, ...args.value }
          else rows.push({ id, value: { ...doc.clientDocument.default, ...args.value } })
        } else {
          const m = this.schemaDesc.materializers[e.name]
          const ctx = { event: { name: e.name, seqNum: this.log.length + 1 }, query: (q) => this.#run(q) }
          const out = m.sql ? [m.sql] : writesOf(this.fns[e.name](structuredClone(args), ctx))
          for (const w of out) this.#write(w, args)
        }
        this.log.push({ name: e.name, args, seqNum: { global: this.log.length + 1, client: 0, rebaseGeneration: 0 } })
      }
    } catch (err) {
      this.tables = snapshot
      this.log.length = logLen
      throw err
    }
    const changed = []
    for (const [id, l] of this.live) {
      const next = this.#run(l.desc)
      if (JSON.stringify(next) !== JSON.stringify(l.result)) {
        l.result = next
        changed.push(id)
      }
    }
    return new Uint32Array(changed)
  }
  // The JSON form of the events (as the core parses it): args already encoded.
  commitJson(text, args) {
    assert.equal(args.length, JSON.parse(text).length)
    return this.commit(JSON.parse(text))
  }
  query(q) {
    this.#open()
    this.stats.query++
    return this.#run(q)
  }
  subscribeQuery(q) {
    this.#open()
    this.stats.subscribe++
    const id = this.nextLive++
    this.live.set(id, { desc: q, result: this.#run(q) })
    return id
  }
  unsubscribeQuery(id) {
    this.#open()
    this.stats.unsubscribe++
    this.live.delete(id)
  }
  liveResult(id) {
    this.#open()
    return structuredClone(this.live.get(id).result)
  }
  eventlog() {
    this.#open()
    return this.log.map((e) => ({ ...e }))
  }
  close() {
    this.#open()
    this.closed = true
  }
}

// ---------------------------------------------------------------------------
// Load the layer next to a stand-in livestore_rs.js

globalThis.__LIVESTORE_MOCK__ = MockSession
const here = dirname(fileURLToPath(import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'livestore-js-'))
for (const f of readdirSync(here)) if (f.endsWith('.js')) copyFileSync(join(here, f), join(dir, f))
writeFileSync(
  join(dir, 'livestore_rs.js'),
  'export default async function init() {}\nexport const WasmSession = globalThis.__LIVESTORE_MOCK__\n',
)
const L = await import(pathToFileURL(join(dir, 'index.js')).href)
after(() => rmSync(dir, { recursive: true, force: true }))
const { Events, Schema, State, makeSchema, createStore, queryDb, computed, signal, LiveStoreError } = L

function makeTodoSchema() {
  const todos = State.SQLite.table({
    name: 'todos',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      text: State.SQLite.text({ default: '' }),
      completed: State.SQLite.boolean({ default: false }),
      deletedAt: State.SQLite.datetime({ nullable: true }),
    },
    indexes: [{ name: 'todos_completed', columns: ['completed'] }],
  })
  const uiState = State.SQLite.clientDocument({
    name: 'uiState',
    schema: Schema.Struct({ newTodoText: Schema.String, filter: Schema.Literal('all', 'active', 'completed') }),
    default: { value: { newTodoText: '', filter: 'all' } },
  })
  const events = {
    todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: Schema.Struct({ id: Schema.String, text: Schema.String }) }),
    todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: Schema.Struct({ id: Schema.String }) }),
    todoRenamed: Events.synced({ name: 'v1.TodoRenamed', schema: Schema.Struct({ id: Schema.String, text: Schema.String }) }),
    todoClearedCompleted: Events.synced({ name: 'v1.TodoClearedCompleted', schema: Schema.Struct({ deletedAt: Schema.Date }) }),
    todoDeleted: Events.synced({ name: 'v1.TodoDeleted', schema: Schema.Struct({ id: Schema.String, at: Schema.Date }) }),
    uiStateSet: uiState.set,
  }
  const seen = []
  const materializers = State.SQLite.materializers(events, {
    'v1.TodoCreated': ({ id, text }) => todos.insert({ id, text }),
    'v1.TodoCompleted': ({ id }) => todos.update({ completed: true }).where({ id }),
    'v1.TodoRenamed': ({ id, text }, { query }) => {
      const before = query(todos.where({ id }).first()) // ctx's query works destructured too
      seen.push(before)
      return [todos.update({ text }).where('id', id)]
    },
    'v1.TodoClearedCompleted': 'UPDATE todos SET deletedAt = :deletedAt WHERE completed = 1',
    'v1.TodoDeleted': ({ id, at }) => {
      assert.ok(at instanceof Date, 'materializer gets a Date')
      return todos.update({ deletedAt: at }).where({ id })
    },
  })
  const schema = makeSchema({ events, state: State.SQLite.makeState({ tables: { todos, uiState }, materializers }) })
  return { todos, uiState, events, schema, seen }
}

test('schema desc follows the boundary', () => {
  const { schema } = makeTodoSchema()
  const d = schema.desc
  assert.deepEqual(d.tables[0], {
    name: 'todos',
    columns: [
      { name: 'id', type: 'text', primaryKey: true },
      { name: 'text', type: 'text', default: '' },
      { name: 'completed', type: 'boolean', default: false },
      { name: 'deletedAt', type: 'datetime', nullable: true },
    ],
    indexes: [{ name: 'todos_completed', columns: ['completed'] }],
  })
  assert.deepEqual(d.tables[1].columns, [
    { name: 'id', type: 'text', primaryKey: true },
    { name: 'value', type: 'json' },
  ])
  assert.deepEqual(d.tables[1].clientDocument.default, { newTodoText: '', filter: 'all' })
  const set = d.events.find((e) => e.name === 'uiStateSet')
  assert.deepEqual(set, {
    name: 'uiStateSet',
    clientOnly: true,
    schema: {
      type: 'struct',
      fields: {
        id: { type: 'string' },
        value: {
          type: 'struct',
          fields: {
            newTodoText: { type: 'optional', inner: { type: 'string' } },
            filter: { type: 'optional', inner: { type: 'literal', values: ['all', 'active', 'completed'] } },
          },
        },
      },
    },
  })
  assert.deepEqual(d.materializers['v1.TodoClearedCompleted'], { sql: 'UPDATE todos SET deletedAt = :deletedAt WHERE completed = 1' })
  assert.match(d.materializers['v1.TodoCreated'].source, /todos\.insert/)
  assert.equal(d.materializers.uiStateSet, undefined)
  assert.equal(typeof schema.materializers['v1.TodoCreated'], 'function')
  assert.ok(Object.isFrozen(d) && Object.isFrozen(d.tables))
})

test('schema DSL errors are clear', () => {
  const ev = { a: Events.synced({ name: 'A', schema: Schema.Struct({}) }) }
  assert.throws(() => State.SQLite.materializers(ev, { B: 'SELECT 1' }), /'B' is not the name of a known event \(known: 'A'\)/)
  assert.throws(() => State.SQLite.materializers(ev, { a: 'SELECT 1' }), /did you mean 'A'/)
  assert.throws(() => Schema.Array(Schema.optional(Schema.String)), /only allowed as a field of Schema.Struct/)
  assert.throws(() => State.SQLite.table({ name: 't', columns: { a: State.SQLite.text } }), /forget the call/)
  assert.throws(() => State.SQLite.table({ name: 't', columns: { a: State.SQLite.text() }, indexes: [{ name: 'i', columns: ['b'] }] }), /unknown column "b"/)
  const t = State.SQLite.table({ name: 't', columns: { id: State.SQLite.text({ primaryKey: true }) } })
  assert.throws(() => makeSchema({ events: ev, state: State.SQLite.makeState({ tables: [t], materializers: {} }) }), /no materializer for event 'A'/)
  try {
    t.where({ nope: 1 })
    assert.fail()
  } catch (e) {
    assert.ok(e instanceof LiveStoreError)
    assert.equal(e.code, 'UNKNOWN_COLUMN')
  }
  const plain = Object.assign(new Error('x'), { name: 'LiveStoreError', code: 'X' })
  assert.ok(plain instanceof LiveStoreError, 'errors from the core count as LiveStoreError')
})

test('events and client documents', () => {
  const { events, uiState } = makeTodoSchema()
  const e = events.todoCreated({ id: 'a', text: 'x' })
  assert.deepEqual(e, { name: 'v1.TodoCreated', args: { id: 'a', text: 'x' } })
  assert.equal(events.todoCreated.name, 'v1.TodoCreated')
  assert.equal(events.todoCreated.clientOnly, false)
  assert.equal(events.uiStateSet.name, 'uiStateSet')
  assert.equal(events.uiStateSet.clientOnly, true)
  assert.deepEqual(uiState.set({ filter: 'active' }), { name: 'uiStateSet', args: { id: '__session__', value: { filter: 'active' } } })
  assert.deepEqual(uiState.set({ filter: 'active' }, 'x').args.id, 'x')
  assert.deepEqual(uiState.get().desc, { kind: 'document', table: 'uiState', id: '__session__' })
  assert.deepEqual({ ...uiState.get('x') }, { kind: 'document', table: 'uiState', id: 'x' })
  assert.equal(uiState.get(), uiState.get(), 'get() is cached')
})

test('query builder serializes to QueryDesc / WriteDesc', () => {
  const { todos } = makeTodoSchema()
  const q = todos.where({ completed: false }).orderBy('text', 'asc')
  assert.deepEqual(q.desc, { kind: 'select', table: 'todos', where: { completed: false }, orderBy: [{ column: 'text', direction: 'asc' }], result: 'rows' })
  assert.ok(Object.isFrozen(q) && Object.isFrozen(q.desc))
  const q2 = q.limit(2).offset(1).select('id', 'text')
  assert.notEqual(q2, q)
  assert.equal(q.desc.limit, undefined, 'immutable')
  assert.deepEqual(q2.desc.select, ['id', 'text'])
  assert.deepEqual(todos.where('text', 'like', '%a%').where({ $or: [{ id: 'a' }, { id: { op: 'IN', value: ['b'] } }] }).desc.where, {
    $and: [{ text: { op: 'LIKE', value: '%a%' } }, { $or: [{ id: 'a' }, { id: { op: 'IN', value: ['b'] } }] }],
  })
  assert.deepEqual(todos.desc, { kind: 'select', table: 'todos', result: 'rows' })
  assert.deepEqual(todos.count().desc, { kind: 'select', table: 'todos', result: 'count' })
  assert.deepEqual(todos.where({ id: 'a' }).first().desc, { kind: 'select', table: 'todos', where: { id: 'a' }, result: 'first' })
  assert.deepEqual(todos.orderBy([{ col: 'text', direction: 'desc' }]).desc.orderBy, [{ column: 'text', direction: 'desc' }])
  const d = new Date(5)
  assert.deepEqual(todos.insert({ id: 'a', deletedAt: d, text: undefined }).onConflict('id', 'update', { deletedAt: d }).desc, {
    kind: 'insert',
    table: 'todos',
    values: { id: 'a', deletedAt: 5 },
    onConflict: { target: ['id'], action: 'update', update: { deletedAt: 5 } },
  })
  assert.deepEqual(todos.update({ completed: true }).where({ id: 'a' }).desc, { kind: 'update', table: 'todos', set: { completed: true }, where: { id: 'a' } })
  assert.deepEqual(todos.delete().where({ completed: true }).desc, { kind: 'delete', table: 'todos', where: { completed: true } })
  assert.deepEqual(todos.where({ id: 'a' }).delete().desc, { kind: 'delete', table: 'todos', where: { id: 'a' } })
  assert.deepEqual(queryDb({ query: 'SELECT * FROM todos', bindValues: { a: 1 } }).query.bindValues, { a: 1 })
  assert.throws(() => todos.where('id', 'IN', 'a'), /needs an array/)
  assert.throws(() => todos.count().limit(1), /cannot follow count/)
  assert.throws(() => todos.insert({ id: 'a' }).where({ id: 'a' }), /insert/)
  assert.throws(() => todos.orderBy('text', 'up'), /direction/)
})

test('README flow: commit, query, subscribe, glitch-free computeds', async () => {
  const { todos, uiState, events, schema, seen } = makeTodoSchema()
  const store = await createStore({ schema, storeId: 'demo' })
  assert.equal(typeof store.clientId, 'string')
  assert.equal(store.clientId.length, 12)
  assert.equal(store.schemaHash, 'mock-2')
  const session = MockSession.last

  store.commit(events.todoCreated({ id: 'b', text: 'Walk' }), events.todoCreated({ id: 'a', text: 'Buy milk' }))
  const open = store.query(todos.where({ completed: false }).orderBy('text', 'asc'))
  assert.deepEqual(open, [
    { id: 'a', text: 'Buy milk', completed: false, deletedAt: null },
    { id: 'b', text: 'Walk', completed: false, deletedAt: null },
  ])
  assert.equal(store.query(todos.count()), 2)
  assert.equal(store.query(todos).length, 2)
  assert.deepEqual(store.query(todos.where({ id: 'zz' }).first()), undefined)
  assert.deepEqual(store.query(todos.where({ id: 'zz' }).first({ fallback: () => 'none' })), 'none')
  assert.deepEqual(store.query(todos.select('id').orderBy('id', 'desc')), ['b', 'a'], 'single column select plucks')
  assert.deepEqual(store.query({ query: 'SELECT * FROM todos WHERE id = :id', bindValues: { id: 'a' } })[0].text, 'Buy milk')
  assert.deepEqual(store.query(uiState.get()), { newTodoText: '', filter: 'all' })

  const calls = []
  const unsubscribe = store.subscribe(queryDb(todos.where({ completed: false })), (rows) => calls.push(rows.map((r) => r.id)))
  assert.deepEqual(calls, [['b', 'a']])
  store.commit(events.todoCompleted({ id: 'a' }))
  assert.deepEqual(calls, [['b', 'a'], ['b']])
  store.commit(events.todoCompleted({ id: 'a' })) // no change → no call
  assert.equal(calls.length, 2)

  // glitch-free: a computed over two queries sees both updated at once, runs once
  const open$ = queryDb(todos.where({ completed: false }), { label: 'open' })
  const all$ = queryDb(todos.count(), { label: 'all' })
  let runs = 0
  const summary$ = computed((get) => {
    runs++
    return `${get(open$).length}/${get(all$)}`
  })
  const seenSummary = []
  const u2 = store.subscribe(summary$, { onUpdate: (s) => seenSummary.push(s) })
  assert.deepEqual(seenSummary, ['1/2'])
  runs = 0
  store.commit(events.todoCreated({ id: 'c', text: 'Cook' }))
  assert.deepEqual(seenSummary, ['1/2', '2/3'])
  assert.equal(runs, 1, 'computed ran once for two changed inputs')

  // signal-dependent queryDb re-registers its live query
  const filter = signal('all', { label: 'filter' })
  const visible$ = queryDb((get) => (get(filter) === 'all' ? todos.orderBy('id') : todos.where({ completed: get(filter) === 'completed' }).orderBy('id')))
  const vis = []
  const u3 = store.subscribe(visible$, (rows) => vis.push(rows.map((r) => r.id).join()))
  store.setSignal(filter, 'completed')
  store.setSignal(filter, 'completed') // equal → nothing
  store.setSignal(filter, () => 'active')
  assert.deepEqual(vis, ['a,b,c', 'a', 'b,c'])
  assert.equal(store.query(filter), 'active')

  // renamed via ctx's query; dates cross as ms and come back as Date
  store.commit(events.todoRenamed({ id: 'b', text: 'Walk dog' }))
  assert.equal(seen[0].text, 'Walk')
  assert.equal(seen[0].completed, false, 'ctx.query decodes booleans')
  const when = new Date('2024-01-02T03:04:05Z')
  store.commit(events.todoClearedCompleted({ deletedAt: when }))
  const a = store.query(todos.where({ id: 'a' }).first())
  assert.ok(a.deletedAt instanceof Date)
  assert.equal(a.deletedAt.getTime(), when.getTime())
  store.commit(events.todoDeleted({ id: 'c', at: when }))
  assert.equal(store.query(todos.where({ id: 'c' }).first()).deletedAt.getTime(), when.getTime())

  // client document
  const ui = []
  const u4 = store.subscribe(uiState.get(), (v) => ui.push(v.filter))
  store.commit(uiState.set({ filter: 'completed' }))
  assert.deepEqual(store.query(uiState.get()), { newTodoText: '', filter: 'completed' })
  assert.deepEqual(ui, ['all', 'completed'])

  // atomic commit
  assert.throws(() => store.commit(events.todoCreated({ id: 'd', text: 'x' }), events.todoCreated({ id: 'a', text: 'dup' })), /UNIQUE/)
  assert.equal(store.query(todos.count()), 3)

  // disposal: live queries are released with their last subscriber
  const liveBefore = session.live.size
  unsubscribe()
  u2()
  u3()
  u4()
  unsubscribe()
  assert.ok(session.live.size < liveBefore)
  assert.equal(session.live.size, 0, 'all live queries released')
  const log = store.eventlog()
  assert.equal(log.length, 9)
  assert.ok(log.find((r) => r.name === 'v1.TodoClearedCompleted').args.deletedAt instanceof Date, 'eventlog args decoded')
  store.close()
  store.close()
  for (const f of [() => store.commit(events.todoCompleted({ id: 'a' })), () => store.query(todos), () => store.subscribe(todos, () => {}), () => store.eventlog(), () => store.setSignal(filter, 'x')]) {
    assert.throws(f, (e) => e.code === 'STORE_CLOSED' && e instanceof LiveStoreError)
  }
})

test('subscriber errors do not break others or the commit; re-entrant commits', async () => {
  const { todos, events, schema } = makeTodoSchema()
  const errors = []
  const store = await createStore({ schema, storeId: 's', clientId: 'c1', sessionId: 'x1', onError: (e) => errors.push(e.message) })
  assert.equal(store.clientId, 'c1')
  const got = []
  store.subscribe(todos.count(), (n) => {
    if (n === 1) throw new Error('boom')
  })
  store.subscribe(todos.count(), (n) => {
    got.push(n)
    if (n === 1) store.commit(events.todoCreated({ id: 'auto', text: 'from subscriber' }))
  })
  store.commit(events.todoCreated({ id: 'a', text: 'x' }))
  assert.deepEqual(errors, ['boom'])
  assert.deepEqual(got, [0, 1, 2])
  assert.equal(store.query(todos.count()), 2)

  // a throwing computed keeps its last value and reports
  const n$ = queryDb(todos.count())
  const c$ = computed((get) => {
    if (get(n$) === 3) throw new Error('bad computed')
    return get(n$) * 10
  })
  const vals = []
  store.subscribe(c$, (v) => vals.push(v))
  store.commit(events.todoCreated({ id: 'b', text: 'x' }))
  store.commit(events.todoCreated({ id: 'c', text: 'x' }))
  assert.deepEqual(vals, [20, 40])
  assert.deepEqual(errors, ['boom', 'bad computed'])
  assert.throws(() => store.commit(events.todoCreated), /call it/)
  assert.throws(() => computed('nope'), (e) => e.code === 'INVALID_ARGUMENT')
})

test('computed / signal without subscribers, and cycles', async () => {
  const { todos, events, schema } = makeTodoSchema()
  const store = await createStore({ schema, storeId: 's' })
  const s = signal(2)
  const c = computed((get) => get(s) * get(queryDb(todos.count())))
  store.commit(events.todoCreated({ id: 'a', text: 'x' }))
  assert.equal(store.query(c), 2)
  store.setSignal(s, 5)
  assert.equal(store.query(c), 5)
  assert.equal(store.query(s), 5)
  const x = computed((get) => get(y))
  const y = computed((get) => get(x))
  assert.throws(() => store.subscribe(x, () => {}), (e) => e.code === 'QUERY_CYCLE')
  assert.throws(() => store.query(x), (e) => e.code === 'QUERY_CYCLE')
  assert.equal(MockSession.last.live.size, 0, 'failed subscribe leaks no live query')
})

test('inline queries in computeds keep their live query across recomputes', async () => {
  const { todos, events, schema } = makeTodoSchema()
  const store = await createStore({ schema, storeId: 's' })
  const session = MockSession.last
  store.commit(events.todoCreated({ id: 'a', text: 'A' }), events.todoCreated({ id: 'b', text: 'B' }))
  const sel = signal('a')
  const bump = signal(0)
  const title$ = computed((get) => `${get(bump)}:${get(todos.where({ id: get(sel) }).first())?.text}`)
  const titles = []
  store.subscribe(title$, (t) => titles.push(t))
  const subs = session.stats.subscribe
  store.setSignal(bump, 1) // recompute with an equal inline query → same live query
  assert.equal(session.stats.subscribe, subs)
  store.setSignal(sel, 'b') // a different query → a new live query, the old one released
  assert.equal(session.stats.subscribe, subs + 1)
  assert.equal(session.live.size, 1)
  store.commit(events.todoRenamed({ id: 'b', text: 'B2' }))
  assert.deepEqual(titles, ['0:A', '1:A', '1:B', '1:B2'])

  const raw$ = queryDb((get) => ({ query: 'SELECT * FROM todos WHERE id = :id', bindValues: { id: get(sel) } }), { map: (rows) => rows.map((r) => r.text) })
  const raws = []
  store.subscribe(raw$, (r) => raws.push(r.join()))
  store.setSignal(sel, 'a')
  assert.deepEqual(raws, ['B2', 'A'])
})

test('devtools: true answers the devtools channel, and live-query runs grow with commits; off by default', async () => {
  const { todos, events, schema } = makeTodoSchema()
  await assert.rejects(createStore({ schema, storeId: 's', devtools: 'yes' }), (e) => e.code === 'INVALID_OPTIONS')
  const quiet = await createStore({ schema, storeId: 'quiet' })
  const store = await createStore({ schema, storeId: 'dev', devtools: true })
  const main = new BroadcastChannel('livestore-rs-devtools')
  const replies = new BroadcastChannel('livestore-rs-devtools:layer-test')
  const seen = []
  main.onmessage = (e) => seen.push(e.data)
  const answers = new Map()
  replies.onmessage = (e) => answers.get(e.data.id)?.(e.data)
  let nextId = 1
  const request = (to, method, params) =>
    new Promise((resolve) => {
      const id = nextId++
      answers.set(id, resolve)
      main.postMessage({ type: 'request', to, page: 'layer-test', id, method, params })
    })
  try {
    main.postMessage({ type: 'discover', page: 'layer-test' })
    await new Promise((r) => setTimeout(r, 50))
    const stores = seen.filter((m) => m.type === 'store').map((m) => m.store.storeId)
    assert.ok(stores.includes('dev'), 'the devtools store answers')
    assert.ok(!stores.includes('quiet'), 'a store without devtools is not on the channel')
    const to = seen.find((m) => m.type === 'store' && m.store.storeId === 'dev').responder

    store.subscribe(queryDb(todos.where({ completed: false }), { label: 'open todos' }), () => {})
    const runsOf = async () => (await request(to, 'liveQueries')).result.find((q) => q.label === 'open todos')
    const before = await runsOf()
    assert.equal(before.runs, 1)
    assert.equal(before.subscribers, 1)
    store.commit(events.todoCreated({ id: 'a', text: 'x' }))
    const after = await runsOf()
    assert.equal(after.runs, 2, 'the commit changed the result: one more run')
    assert.ok(after.totalMs >= after.lastMs && after.lastMs >= 0)
    const log = (await request(to, 'eventlog', { limit: 10 })).result
    assert.deepEqual(log.events.map((e) => [e.name, e.args.id, e.synced]), [['v1.TodoCreated', 'a', false]])

    await store.close()
    await new Promise((r) => setTimeout(r, 50))
    assert.ok(seen.some((m) => m.type === 'gone' && m.responder === to), 'a closed store says so')
  } finally {
    main.close()
    replies.close()
    await quiet.close()
  }
})
