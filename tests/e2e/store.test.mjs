// The store's behaviour with the real wasm in headless Chromium: reactivity
// (once per change, never when equal, no glitch), errors, client documents.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { REPO_ROOT, assertPkgBuilt, describeProblems, launchChromium, openPage, startStaticServer } from './helpers.mjs'

let browser
let server

before(async () => {
  assertPkgBuilt()
  ;[browser, server] = await Promise.all([launchChromium(), startStaticServer(REPO_ROOT)])
})

after(async () => {
  await browser?.close()
  await server?.close()
})

/** Runs `fn(lib, makeTodoStore)` in a fresh page and returns what it returns. */
async function inPage(fn) {
  const { context, page, problems } = await openPage(browser)
  try {
    await page.goto(`${server.url}tests/e2e/pages/store.html`)
    await page.waitForFunction(() => window.ready === true, null, { timeout: 30_000 })
    return await page.evaluate(`(async () => {
      const lib = window.lib
      const { Events, Schema, State, makeSchema, createStore } = lib
      const makeTodoStore = async () => {
        const todos = State.SQLite.table({ name: 'todos', columns: {
          id: State.SQLite.text({ primaryKey: true }),
          text: State.SQLite.text({ default: '' }),
          completed: State.SQLite.boolean({ default: false }),
          deletedAt: State.SQLite.integer({ nullable: true }) } })
        const uiState = State.SQLite.clientDocument({ name: 'uiState',
          schema: Schema.Struct({ newTodoText: Schema.String, filter: Schema.Literal('all', 'active', 'completed') }),
          default: { value: { newTodoText: '', filter: 'all' } } })
        const events = {
          todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: Schema.Struct({ id: Schema.String, text: Schema.String }) }),
          todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: Schema.Struct({ id: Schema.String }) }),
          todoRenamed: Events.synced({ name: 'v1.TodoRenamed', schema: Schema.Struct({ id: Schema.String, text: Schema.String }) }),
          todoClearedCompleted: Events.synced({ name: 'v1.TodoClearedCompleted', schema: Schema.Struct({ deletedAt: Schema.Date }) }),
          uiStateSet: uiState.set,
        }
        const materializers = State.SQLite.materializers(events, {
          'v1.TodoCreated': ({ id, text }) => todos.insert({ id, text }),
          'v1.TodoCompleted': ({ id }) => todos.update({ completed: true }).where({ id }),
          'v1.TodoRenamed': ({ id, text }) => todos.update({ text }).where({ id }),
          'v1.TodoClearedCompleted': 'UPDATE todos SET deletedAt = :deletedAt WHERE completed = 1',
        })
        const schema = makeSchema({ events, state: State.SQLite.makeState({ tables: { todos, uiState }, materializers }) })
        const store = await createStore({ schema, storeId: 'test-' + Math.random() })
        return { store, todos, uiState, events }
      }
      return (${fn.toString()})(lib, makeTodoStore)
    })()`)
  } catch (err) {
    throw new Error(`${err.message}${describeProblems(problems)}`)
  } finally {
    await context.close()
  }
}

test('a subscriber runs once per commit that changes its result, never when equal', async () => {
  const r = await inPage(async ({ queryDb }, makeTodoStore) => {
    const { store, todos, events } = await makeTodoStore()
    const calls = { open: [], a: [], count: [] }
    store.subscribe(queryDb(todos.where({ completed: false }).orderBy('text', 'asc')), (rows) => calls.open.push(rows.map((r) => r.id)))
    store.subscribe(queryDb(todos.where({ id: 'a' }).first()), (row) => calls.a.push(row?.text ?? null))
    store.subscribe(queryDb(todos.count()), (n) => calls.count.push(n))
    store.commit(events.todoCreated({ id: 'a', text: 'A' }), events.todoCreated({ id: 'b', text: 'B' }))
    store.commit(events.todoCompleted({ id: 'b' }))
    store.commit(events.todoCompleted({ id: 'b' }))                // writes nothing new
    store.commit(events.todoRenamed({ id: 'b', text: 'B2' }))       // b is not open and not 'a'
    store.commit(events.todoRenamed({ id: 'a', text: 'A2' }))
    return calls
  })
  assert.deepEqual(r.open, [[], ['a', 'b'], ['a'], ['a']])
  assert.deepEqual(r.a, [null, 'A', 'A2'])
  assert.deepEqual(r.count, [0, 2])
})

test('a computed never sees a half-updated input', async () => {
  const r = await inPage(async ({ queryDb, computed }, makeTodoStore) => {
    const { store, todos, events } = await makeTodoStore()
    const open$ = queryDb(todos.where({ completed: false }).count())
    const done$ = queryDb(todos.where({ completed: true }).count())
    const total$ = computed((get) => ({ open: get(open$), done: get(done$) }))
    const seen = []
    store.subscribe(total$, (v) => seen.push(v))
    store.commit(events.todoCreated({ id: 'a', text: 'A' }), events.todoCreated({ id: 'b', text: 'B' }))
    store.commit(events.todoCompleted({ id: 'a' }))                  // moves one from open to done at once
    return seen
  })
  assert.deepEqual(r, [{ open: 0, done: 0 }, { open: 2, done: 0 }, { open: 1, done: 1 }])
})

test('signals drive queries and computeds', async () => {
  const r = await inPage(async ({ queryDb, signal }, makeTodoStore) => {
    const { store, todos, events } = await makeTodoStore()
    store.commit(events.todoCreated({ id: 'a', text: 'A' }), events.todoCreated({ id: 'b', text: 'B' }))
    const id$ = signal('a')
    const todo$ = queryDb((get) => todos.where({ id: get(id$) }).first())
    const seen = []
    store.subscribe(todo$, (t) => seen.push(t.text))
    store.setSignal(id$, 'b')
    store.setSignal(id$, 'b')
    return seen
  })
  assert.deepEqual(r, ['A', 'B'])
})

test('a failing commit throws a coded Error and changes nothing', async () => {
  const r = await inPage(async (_lib, makeTodoStore) => {
    const { store, todos, events } = await makeTodoStore()
    store.commit(events.todoCreated({ id: 'a', text: 'A' }))
    const attempt = (f) => { try { f(); return null } catch (e) { return { code: e.code, event: e.event, field: e.field, message: e.message, isError: e instanceof Error } } }
    return {
      badArg: attempt(() => store.commit(events.todoCreated({ id: 'b', text: 'B' }), events.todoCreated({ id: 'c', text: 3 }))),
      duplicate: attempt(() => store.commit(events.todoCreated({ id: 'a', text: 'again' }))),
      unknownColumn: attempt(() => store.query(todos.where({ title: 'x' }))),
      badSql: attempt(() => store.query({ query: 'SELECT nope FROM todos', bindValues: {} })),
      rows: store.query(todos.orderBy('id', 'asc')).map((t) => t.id),
      eventlog: store.eventlog().length,
      closed: (store.close(), attempt(() => store.query(todos))),
    }
  })
  assert.equal(r.badArg.code, 'INVALID_EVENT_ARGS')
  assert.equal(r.badArg.event, 'v1.TodoCreated')
  assert.equal(r.badArg.field, 'text')
  assert.equal(r.badArg.isError, true)
  assert.equal(r.duplicate.code, 'MATERIALIZER_FAILED')
  assert.match(r.duplicate.message, /UNIQUE constraint failed: todos\.id/)
  assert.equal(r.unknownColumn.code, 'UNKNOWN_COLUMN')
  assert.equal(r.badSql.code, 'SQL_ERROR')
  assert.match(r.badSql.message, /no such column: nope/)
  assert.deepEqual(r.rows, ['a'])
  assert.equal(r.eventlog, 1)
  assert.equal(r.closed.code, 'STORE_CLOSED')
})

test('any text commits: surrogate pairs and backslashes as given, a lone surrogate replaced', async () => {
  const texts = ['smile \ud83d\ude00', 'C:\\ud\\path', 'cut \ud83d', 'é "quoted"']
  const r = await inPage(async (_lib, makeTodoStore) => {
    const { store, todos, events } = await makeTodoStore()
    const texts = ['smile \ud83d\ude00', 'C:\\ud\\path', 'cut \ud83d', 'é "quoted"']
    texts.forEach((text, i) => store.commit(events.todoCreated({ id: `t${i}`, text })))
    store.commit(...texts.map((text, i) => events.todoCreated({ id: `b${i}`, text })))
    return {
      rows: store.query(todos.orderBy('id', 'asc')).map((t) => t.text),
      logged: store.eventlog().map((e) => e.args.text),
    }
  })
  const stored = texts.map((t) => t.replace('\ud83d', (m, i, s) => (s[i + 1] === '\ude00' ? m : '\ufffd')))
  assert.deepEqual(r.rows, [...stored, ...stored])
  assert.deepEqual(r.logged, [...stored, ...stored])
})

test('client documents: partial set, Date args, raw SQL materializers', async () => {
  const r = await inPage(async (_lib, makeTodoStore) => {
    const { store, todos, uiState, events } = await makeTodoStore()
    store.commit(uiState.set({ filter: 'active' }))
    store.commit(uiState.set({ newTodoText: 'hi' }))
    store.commit(events.todoCreated({ id: 'a', text: 'A' }), events.todoCompleted({ id: 'a' }))
    store.commit(events.todoClearedCompleted({ deletedAt: new Date(1_700_000_000_000) }))
    const log = store.eventlog()
    return {
      doc: store.query(uiState.get()),
      deletedAt: store.query(todos.where({ id: 'a' }).first()).deletedAt,
      seqNums: log.map((e) => e.seqNum),
    }
  })
  assert.deepEqual(r.doc, { newTodoText: 'hi', filter: 'active' })
  assert.equal(r.deletedAt, 1_700_000_000_000)
  assert.deepEqual(r.seqNums.map((s) => [s.global, s.client]), [[0, 1], [0, 2], [1, 0], [2, 0], [3, 0]])
})
