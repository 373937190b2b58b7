// livestore-rs: event sourcing + reactive SQLite, with its core in Rust/WebAssembly.
//
// Usage (LiveStore names):
//
//   import { Events, Schema, State, makeSchema, createStore, queryDb, computed, signal } from 'livestore-rs'
//
//   const todos = State.SQLite.table({ name: 'todos', columns: {
//     id: State.SQLite.text({ primaryKey: true }),
//     text: State.SQLite.text({ default: '' }),
//     completed: State.SQLite.boolean({ default: false }) } })
//   const events = {
//     todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: Schema.Struct({ id: Schema.String, text: Schema.String }) }),
//     todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: Schema.Struct({ id: Schema.String }) }),
//   }
//   const materializers = State.SQLite.materializers(events, {
//     'v1.TodoCreated': ({ id, text }) => todos.insert({ id, text }),           // a write builder
//     'v1.TodoCompleted': 'UPDATE todos SET completed = 1 WHERE id = :id',     // or SQL, :name bound from args
//   })
//   const schema = makeSchema({ events, state: State.SQLite.makeState({ tables: { todos }, materializers }) })
//
//   const store = await createStore({ schema, storeId: 'demo' })   // Node: add { wasm: bytesOfTheWasmFile }
//   store.commit(events.todoCreated({ id: 'a', text: 'Buy milk' })) // synchronous; several events = atomic
//   store.query(todos.where({ completed: false }).orderBy('text'))  // → rows, now
//   const open$ = queryDb(todos.where({ completed: false }))
//   const count$ = computed((get) => get(open$).length)
//   const unsubscribe = store.subscribe(count$, (n) => console.log(n)) // now, then on every change
//   store.close()
//
// Persisted in OPFS, shared by the tabs (a leader worker per tab; the one
// holding the store's Web Lock writes; see docs/ARCHITECTURE.md):
//
//   // livestore.worker.js
//   import { makeWorker } from 'livestore-rs/worker'
//   makeWorker({ schema })
//   // the page
//   import LeaderWorker from './livestore.worker.js?worker'
//   const store = await createStore({ schema, storeId: 'todos',
//     adapter: makePersistedAdapter({ storage: { type: 'opfs' }, worker: LeaderWorker }),
//     onBootStatus: (s) => console.log(s.stage) })
//   store.commit(...); await store.flush()   // durable in the leader's eventlog
//
// Modules: schema.js (Schema / State / Events / makeSchema), query-builder.js
// (builders → QueryDesc / WriteDesc), reactive.js (signal / computed / queryDb and
// the per-store graph), store.js (createStore / Store), persist.js (the persisted
// adapter and the session's side of the leader protocol), worker.js (the leader
// worker, `livestore-rs/worker`), devtools.js (answers the devtools page, with
// `devtools: true`), wasm.js (loading the wasm), util.js (errors, helpers).

export { Schema, State, Events, makeSchema } from './schema.js'
export { signal, computed, queryDb } from './reactive.js'
export { createStore, Store } from './store.js'
export { initWasm } from './wasm.js'
export { makePersistedAdapter, resetPersistence } from './persist.js'
export { LiveStoreError, deepEqual } from './util.js'
export { WasmSession } from './livestore_rs.js'

/** The id of the current session in client-document ids: `uiState.set(value, SessionIdSymbol)`. */
export const SessionIdSymbol = '__session__'
