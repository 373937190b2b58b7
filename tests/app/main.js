// Runs an example (schema, commits, queries, subscriptions) against the installed `livestore-rs` package and
// publishes what it computed as `window.__result` (and as JSON in #result),
// for tests/e2e/package.test.mjs to check.
import { Events, Schema, State, makeSchema, createStore, queryDb, computed, signal } from 'livestore-rs'

const todos = State.SQLite.table({
  name: 'todos',
  columns: {
    id: State.SQLite.text({ primaryKey: true }),
    text: State.SQLite.text({ default: '' }),
    completed: State.SQLite.boolean({ default: false }),
    deletedAt: State.SQLite.integer({ nullable: true }),
  },
})

const uiState = State.SQLite.clientDocument({
  name: 'uiState',
  schema: Schema.Struct({ newTodoText: Schema.String, filter: Schema.Literal('all', 'active', 'completed') }),
  default: { value: { newTodoText: '', filter: 'all' } },
})

const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: Schema.Struct({ id: Schema.String, text: Schema.String }) }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: Schema.Struct({ id: Schema.String }) }),
  todoClearedCompleted: Events.synced({
    name: 'v1.TodoClearedCompleted',
    schema: Schema.Struct({ deletedAt: Schema.Date }),
  }),
  uiStateSet: uiState.set,
}

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text }) => todos.insert({ id, text }),
  'v1.TodoCompleted': ({ id }) => todos.update({ completed: true }).where({ id }),
  'v1.TodoClearedCompleted': 'UPDATE todos SET deletedAt = :deletedAt WHERE completed = 1',
})

const schema = makeSchema({ events, state: State.SQLite.makeState({ tables: { todos, uiState }, materializers }) })

// Plain-data copy of a query result (rows may be class instances or proxies).
const plain = (v) => JSON.parse(JSON.stringify(v))

function errorInfo(err) {
  return {
    isError: err instanceof Error,
    name: err?.name,
    code: err?.code,
    message: String(err?.message ?? err),
    stack: String(err?.stack ?? ''),
  }
}

async function main() {
  const result = { ok: false, steps: [] }
  const step = (name) => result.steps.push(name)
  try {
    result.exports = {
      computed: typeof computed,
      signal: typeof signal,
      queryDb: typeof queryDb,
      createStore: typeof createStore,
    }

    step('createStore')
    const store = await createStore({ schema, storeId: 'demo' })

    step('commit todoCreated a')
    store.commit(events.todoCreated({ id: 'a', text: 'Buy milk' }))
    step('commit todoCreated b')
    store.commit(events.todoCreated({ id: 'b', text: 'Answer mail' }))

    step('query open')
    result.openBefore = plain(store.query(todos.where({ completed: false }).orderBy('text', 'asc')))

    step('subscribe')
    const seen = []
    const unsubscribe = store.subscribe(queryDb(todos.where({ completed: false })), (rows) => {
      seen.push(plain(rows).map((r) => r.id).sort())
    })
    result.seenAfterSubscribe = seen.length

    step('commit todoCompleted a')
    store.commit(events.todoCompleted({ id: 'a' }))
    result.seenAfterComplete = plain(seen)

    step('query open after complete')
    result.openAfter = plain(store.query(todos.where({ completed: false }).orderBy('text', 'asc')))

    step('unsubscribe')
    unsubscribe()
    store.commit(events.todoCreated({ id: 'c', text: 'Call mom' }))
    result.seenAfterUnsubscribe = seen.length

    step('uiState')
    result.uiStateBefore = plain(store.query(uiState.get()))
    store.commit(uiState.set({ filter: 'active' }))
    result.uiStateAfter = plain(store.query(uiState.get()))

    step('todoClearedCompleted')
    store.commit(events.todoClearedCompleted({ deletedAt: new Date(1700000000000) }))
    result.completedRows = plain(store.query(todos.where({ completed: true })))

    step('invalid args')
    try {
      store.commit(events.todoCreated({ id: 1, text: 'wrong id type' }))
      result.invalidArgs = { thrown: false }
    } catch (err) {
      result.invalidArgs = { thrown: true, ...errorInfo(err) }
    }
    result.openAtEnd = plain(store.query(todos.where({ completed: false }).orderBy('text', 'asc')))

    step('done')
    result.ok = true
  } catch (err) {
    result.error = errorInfo(err)
  }
  window.__result = result
  document.getElementById('status').textContent = result.ok ? 'ok' : 'failed'
  document.getElementById('result').textContent = JSON.stringify(result, null, 2)
}

main()
