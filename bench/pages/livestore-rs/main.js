// Benchmark page of livestore-rs: the shared workloads on a livestore-rs store.
import '../shared/wasm-hook.js'
import { createStore, queryDb } from 'livestore-rs'
import { installHarness } from '../shared/workloads.js'
import { events, schema, todos } from './schema.js'

let n = 0
installHarness({
  name: 'livestore-rs',
  variant: 'livestore-rs',
  createStore: () => createStore({ schema, storeId: `bench-${Date.now()}-${n++}` }),
  events,
  todos,
  queryDb,
  // livestore-rs has no persistence yet (in-memory session only). When it has,
  // resolve here once the leader reports everything committed so far durable,
  // and W1/W3 report the time to durability for it as they do for LiveStore's
  // persisted adapter.
  durable: null,
  durability: 'n/a (in-memory)',
})
