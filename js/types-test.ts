// Type tests of index.d.ts: `tsc --noEmit --strict js/types-test.ts`.
// Nothing here runs; every line must type-check, and every `@ts-expect-error`
// must be an error.

import {
  Events,
  Schema,
  State,
  makeSchema,
  createStore,
  queryDb,
  computed,
  signal,
  LiveStoreError,
  SessionIdSymbol,
  type Row,
  type Store,
  type ResultOf,
  type LiveStoreSchema,
  type EventsOf,
  type QueryDb,
  type Signal,
  type Computed,
  type Event,
  type ArgSchema,
  type QueryDesc,
  type WriteDesc,
} from './index.js'

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
declare function expectType<T extends true>(): void
declare const render: (rows: unknown) => void

// ---- Schema --------------------------------------------------------------

const Args = Schema.Struct({
  id: Schema.String,
  n: Schema.Number,
  ok: Schema.Boolean,
  at: Schema.Date,
  any: Schema.Json,
  prio: Schema.Literal('low', 'high', 3, null),
  tags: Schema.Array(Schema.String),
  note: Schema.optional(Schema.String),
  parent: Schema.NullOr(Schema.String),
  parent2: Schema.nullable(Schema.Number),
  nested: Schema.Struct({ x: Schema.Number }),
})
type ArgsT = Schema.Type<typeof Args>
expectType<
  Equals<
    ArgsT,
    {
      id: string
      n: number
      ok: boolean
      at: Date
      any: unknown
      prio: 'low' | 'high' | 3 | null
      tags: ReadonlyArray<string>
      note?: string
      parent: string | null
      parent2: number | null
      nested: { x: number }
    }
  >
>()
const asDesc: ArgSchema = Args // the schema is a plain descriptor
void asDesc

// ---- Tables --------------------------------------------------------------

const todos = State.SQLite.table({
  name: 'todos',
  columns: {
    id: State.SQLite.text({ primaryKey: true }),
    text: State.SQLite.text({ default: '' }),
    completed: State.SQLite.boolean({ default: false }),
    deletedAt: State.SQLite.integer({ nullable: true }),
    score: State.SQLite.real(),
    data: State.SQLite.blob({ nullable: true }),
    meta: State.SQLite.json({ schema: Schema.Struct({ color: Schema.String }), nullable: true }),
    raw: State.SQLite.json({ default: [] }),
    createdAt: State.SQLite.datetime(),
  },
  indexes: [{ name: 'todos_completed', columns: ['completed'] }],
})
type Todo = Row<typeof todos>
expectType<
  Equals<
    Todo,
    {
      id: string
      text: string
      completed: boolean
      deletedAt: number | null
      score: number
      data: Uint8Array | null
      meta: { color: string } | null
      raw: unknown
      createdAt: Date
    }
  >
>()
expectType<Equals<typeof todos.name, 'todos'>>()

State.SQLite.table({
  name: 'bad',
  columns: { id: State.SQLite.text() },
  // @ts-expect-error: unknown column in an index
  indexes: [{ name: 'i', columns: ['nope'] }],
})

// insert: columns with a default or nullable are optional
todos.insert({ id: 'a', score: 1, createdAt: new Date() })
todos.insert({ id: 'a', score: 1, createdAt: new Date(), text: 'x', deletedAt: null, meta: { color: 'red' } })
// @ts-expect-error: id is required
todos.insert({ score: 1, createdAt: new Date() })
// @ts-expect-error: wrong type
todos.insert({ id: 'a', score: '1', createdAt: new Date() })
// @ts-expect-error: unknown column
todos.insert({ id: 'a', score: 1, createdAt: new Date(), nope: 1 })
todos.insert({ id: 'a', score: 1, createdAt: new Date() }).onConflict('id', 'ignore')
todos.insert({ id: 'a', score: 1, createdAt: new Date() }).onConflict(['id'], 'update', { text: 'y' })
// @ts-expect-error: onConflict target must be a column
todos.insert({ id: 'a', score: 1, createdAt: new Date() }).onConflict('nope', 'replace')
todos.update({ completed: true }).where({ id: 'a' })
todos.delete().where({ completed: true })
todos.where({ id: 'a' }).update({ text: 'b' })
// @ts-expect-error: wrong value type in update
todos.update({ completed: 'yes' })
const w: WriteDesc = todos.delete().desc
void w

// ---- Query builder -------------------------------------------------------

const q1 = todos.where({ completed: false }).orderBy('text', 'asc')
const q1d: QueryDesc = q1.desc
void q1d
expectType<Equals<ResultOf<typeof q1>, Todo[]>>()
expectType<Equals<ResultOf<typeof todos>, Todo[]>>()
const q1first = q1.first()
expectType<Equals<ResultOf<typeof q1first>, Todo | undefined>>()
const withFallback = todos.where({ id: 'x' }).first({ fallback: () => null })
expectType<Equals<ResultOf<typeof withFallback>, Todo | null>>()
expectType<Equals<ResultOf<ReturnType<typeof todos.count>>, number>>()
const plucked = todos.select('text')
expectType<Equals<ResultOf<typeof plucked>, string[]>>()
const picked = todos.select('id', 'completed').limit(3).offset(1)
expectType<Equals<ResultOf<typeof picked>, { id: string; completed: boolean }[]>>()
todos.where('id', 'a')
todos.where('score', '>', 3)
todos.where('id', 'IN', ['a', 'b'])
todos.where('text', 'LIKE', '%milk%')
todos.where({ score: { op: '>=', value: 2 }, id: { op: 'NOT IN', value: ['x'] }, deletedAt: null })
todos.where({ $or: [{ id: 'a' }, { completed: true }] })
todos.orderBy([{ col: 'text', direction: 'desc' }, { column: 'id' }])
// @ts-expect-error: unknown column
todos.where({ nope: 1 })
// @ts-expect-error: wrong value type
todos.where({ completed: 'no' })
// @ts-expect-error: unknown column in orderBy
todos.orderBy('nope', 'asc')
// @ts-expect-error: bad direction
todos.orderBy('text', 'up')
// @ts-expect-error: select of an unknown column
todos.select('nope')

// ---- Client documents and events ----------------------------------------

const uiState = State.SQLite.clientDocument({
  name: 'uiState',
  schema: Schema.Struct({ newTodoText: Schema.String, filter: Schema.Literal('all', 'active', 'completed') }),
  default: { value: { newTodoText: '', filter: 'all' } },
})
type Ui = { newTodoText: string; filter: 'all' | 'active' | 'completed' }
expectType<Equals<ResultOf<ReturnType<typeof uiState.get>>, Ui>>()
expectType<Equals<typeof uiState.set.name, 'uiStateSet'>>()
const setEv = uiState.set({ filter: 'active' })
expectType<Equals<typeof setEv, Event<'uiStateSet', { id: string; value: Partial<Ui> }>>>()
uiState.set({ newTodoText: 'x' }, SessionIdSymbol)
// @ts-expect-error: not a value of the literal
uiState.set({ filter: 'none' })
State.SQLite.clientDocument({
  name: 'bad',
  schema: Schema.Struct({ a: Schema.String }),
  // @ts-expect-error: default does not fit the schema
  default: { value: { a: 1 } },
})

const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: Schema.Struct({ id: Schema.String, text: Schema.String }) }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: Schema.Struct({ id: Schema.String }) }),
  todoClearedCompleted: Events.synced({ name: 'v1.TodoClearedCompleted', schema: Schema.Struct({ deletedAt: Schema.Date }) }),
  draftSaved: Events.clientOnly({ name: 'DraftSaved', schema: Schema.Struct({ text: Schema.optional(Schema.String) }) }),
  uiStateSet: uiState.set,
}
const created = events.todoCreated({ id: 'a', text: 'Buy milk' })
expectType<Equals<typeof created, Event<'v1.TodoCreated', { id: string; text: string }>>>()
expectType<Equals<typeof events.todoCreated.name, 'v1.TodoCreated'>>()
expectType<Equals<typeof events.todoCreated.clientOnly, false>>()
expectType<Equals<typeof events.draftSaved.clientOnly, true>>()
events.draftSaved() // all fields optional: args may be left out
// @ts-expect-error: missing field
events.todoCreated({ id: 'a' })
// @ts-expect-error: extra field
events.todoCompleted({ id: 'a', extra: 1 })
// @ts-expect-error: args required
events.todoCompleted()

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text }) => todos.insert({ id, text, score: 0, createdAt: new Date() }),
  'v1.TodoCompleted': ({ id }, ctx) => {
    const before = ctx.query(todos.where({ id }).first())
    expectType<Equals<typeof before, Todo | undefined>>()
    const n = ctx.query(todos.count())
    expectType<Equals<typeof n, number>>()
    return before ? [todos.update({ completed: true }).where({ id })] : []
  },
  'v1.TodoClearedCompleted': 'UPDATE todos SET deletedAt = :deletedAt WHERE completed = 1',
  DraftSaved: ({ text }) => {
    expectType<Equals<typeof text, string | undefined>>()
    return { sql: 'SELECT 1', bindValues: { text: text ?? '' } }
  },
})
State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id }) => todos.delete().where({ id }),
  'v1.TodoCompleted': 'x',
  'v1.TodoClearedCompleted': ({ deletedAt }) => {
    expectType<Equals<typeof deletedAt, Date>>()
    return undefined
  },
  DraftSaved: 'x',
  // @ts-expect-error: not an event name
  'v1.Nope': 'x',
})
// @ts-expect-error: a materializer is missing
State.SQLite.materializers(events, { 'v1.TodoCreated': 'x' })

const state = State.SQLite.makeState({ tables: { todos, uiState }, materializers })
const schema = makeSchema({ events, state })
type AppEvent = EventsOf<typeof schema>
expectType<
  Equals<
    AppEvent,
    | Event<'v1.TodoCreated', { id: string; text: string }>
    | Event<'v1.TodoCompleted', { id: string }>
    | Event<'v1.TodoClearedCompleted', { deletedAt: Date }>
    | Event<'DraftSaved', { text?: string }>
    | Event<'uiStateSet', { id: string; value: Partial<Ui> }>
  >
>()
const anySchema: LiveStoreSchema = schema
void anySchema

// ---- Store and reactivity -----------------------------------------------

async function main() {
  const store = await createStore({ schema, storeId: 'demo' })
  const typedStore: Store<typeof schema> = store
  void typedStore
  store.commit(events.todoCreated({ id: 'a', text: 'Buy milk' }), events.todoCompleted({ id: 'a' }))
  store.commit([events.todoClearedCompleted({ deletedAt: new Date() })])
  store.commit(uiState.set({ filter: 'completed' }))
  // @ts-expect-error: not an event of this schema
  store.commit({ name: 'v9.Other', args: {} })

  const open = store.query(todos.where({ completed: false }).orderBy('text', 'asc'))
  expectType<Equals<typeof open, Todo[]>>()
  const one = store.query(todos.where({ id: 'a' }).first())
  expectType<Equals<typeof one, Todo | undefined>>()
  const n = store.query(todos.count())
  expectType<Equals<typeof n, number>>()
  const ui = store.query(uiState.get())
  expectType<Equals<typeof ui, Ui>>()
  const raw = store.query({ query: 'SELECT * FROM todos WHERE id = :id', bindValues: { id: 'a' } })
  expectType<Equals<typeof raw, Record<string, unknown>[]>>()
  const rawFirst = store.query({ query: 'SELECT * FROM todos', result: 'first' })
  expectType<Equals<typeof rawFirst, Record<string, unknown> | undefined>>()
  const rawTyped = store.query({ query: 'SELECT id FROM todos', schema: Schema.Array(Schema.Struct({ id: Schema.String })) })
  expectType<Equals<typeof rawTyped, ReadonlyArray<{ id: string }>>>()

  const open$ = queryDb(todos.where({ completed: false }), { label: 'open' })
  expectType<Equals<typeof open$, QueryDb<Todo[]>>>()
  const ids$ = queryDb(todos.select('id'), { map: (ids) => ids.join(',') })
  expectType<Equals<typeof ids$, QueryDb<string>>>()
  const filter = signal<'all' | 'active' | 'completed'>('all', { label: 'filter' })
  expectType<Equals<typeof filter, Signal<'all' | 'active' | 'completed'>>>()
  const visible$ = queryDb((get) => (get(filter) === 'all' ? todos.where({}) : todos.where({ completed: get(filter) === 'completed' })))
  expectType<Equals<typeof visible$, QueryDb<Todo[]>>>()
  const mixed$ = queryDb((get) => (get(filter) === 'all' ? todos : todos.where({ completed: true })))
  expectType<Equals<typeof mixed$, QueryDb<Todo[]>>>()
  const ui$ = queryDb(uiState.get(), { label: 'ui' })
  expectType<Equals<typeof ui$, QueryDb<Ui>>>()
  const byId$ = queryDb((get) => ({ query: 'SELECT * FROM todos WHERE id = :id', bindValues: { id: get(filter) } }))
  expectType<Equals<typeof byId$, QueryDb<Record<string, unknown>[]>>>()
  const rawInComputed$ = computed((get) => get({ query: 'SELECT 1 AS one', result: 'first' }))
  expectType<Equals<typeof rawInComputed$, Computed<Record<string, unknown> | undefined>>>()
  const rawLive$ = queryDb({ query: 'SELECT count(*) AS n FROM todos', result: 'first' })
  expectType<Equals<typeof rawLive$, QueryDb<Record<string, unknown> | undefined>>>()
  const summary$ = computed((get) => `${get(open$).length} of ${get(todos.count())} (${get(filter)})`, { label: 'summary' })
  expectType<Equals<typeof summary$, Computed<string>>>()

  const unsubscribe = store.subscribe(queryDb(todos.where({ completed: false })), (rows) => render(rows))
  store.subscribe(open$, (rows) => {
    expectType<Equals<typeof rows, Todo[]>>()
  })
  store.subscribe(summary$, { onUpdate: (s) => expectType<Equals<typeof s, string>>(), skipInitialRun: true })
  store.subscribe(todos.count(), (c) => expectType<Equals<typeof c, number>>())
  store.subscribe(uiState.get(), (v) => expectType<Equals<typeof v, Ui>>())
  store.subscribe({ query: 'SELECT 1' }, (rows) => expectType<Equals<typeof rows, Record<string, unknown>[]>>())
  unsubscribe()

  store.setSignal(filter, 'active')
  store.setSignal(filter, (prev) => (prev === 'all' ? 'active' : 'all'))
  // @ts-expect-error: not a value of the signal
  store.setSignal(filter, 'other')
  const f = store.query(filter)
  expectType<Equals<typeof f, 'all' | 'active' | 'completed'>>()
  const s = store.query(summary$)
  expectType<Equals<typeof s, string>>()

  const log = store.eventlog()
  expectType<Equals<typeof log[number]['seqNum']['global'], number>>()
  const hash: string = store.schemaHash
  void hash
  store.close()
  try {
    store.query(todos)
  } catch (e) {
    if (e instanceof LiveStoreError) {
      const code: string = e.code
      void code
    }
  }
}
void main

// createStore with wasm bytes (Node) and a custom error handler
declare const bytes: Uint8Array
void createStore({ schema, storeId: 's', clientId: 'c', sessionId: 'x', wasm: bytes, onError: (e, ctx) => void [e, ctx.phase] })
// @ts-expect-error devtools is a boolean
void createStore({ schema, storeId: 's', devtools: 'yes' })

// ---- persistence ------------------------------------------------------------
import { makePersistedAdapter, resetPersistence, type BootStatus } from './index.js'
import { makeWorker } from './worker.js'

declare const LeaderWorker: { new (options?: { name?: string }): Worker }
async function persisted() {
  const store = await createStore({
    schema,
    storeId: 'todos',
    adapter: makePersistedAdapter({ storage: { type: 'opfs' }, worker: LeaderWorker }),
    onBootStatus: (s: BootStatus) => void [s.stage, s.done, s.total],
    devtools: true,
  })
  const p: boolean = store.persisted
  await store.flush()
  const files: { eventlog: Uint8Array; state: Uint8Array } = await store.exportDatabase()
  await store.shutdown()
  await store.close()
  await store.reset()
  await resetPersistence({ storeId: 'todos' })
  void [p, files]
  makePersistedAdapter({ worker: new URL('./w.js', 'http://x/'), unknownEvents: 'ignore' })
  // @ts-expect-error only OPFS storage
  makePersistedAdapter({ storage: { type: 'idb' }, worker: LeaderWorker })
}
void persisted
makeWorker({ schema })
// @ts-expect-error a schema is required
makeWorker({})
