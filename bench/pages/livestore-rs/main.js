// Benchmark page of livestore-rs: the shared workloads on a livestore-rs store.
// `#adapter` is adapter-memory.js (variant livestore-rs) or adapter-opfs.js
// (variant livestore-rs-opfs), chosen per build by bench/vite.config.mjs.
import { scriptStart } from '../shared/t0.js'
import '../shared/wasm-hook.js'
import { createStore, queryDb } from 'livestore-rs'
import { durability, durable, shutdown, storeOptions, variant } from '#adapter'
import { installHarness } from '../shared/workloads.js'
import { events, schema, todos } from './schema.js'

let n = 0
installHarness({
  name: 'livestore-rs',
  variant,
  scriptStart,
  createStore: ({ storeId, onBootStatus } = {}) =>
    createStore({ schema, storeId: storeId ?? `bench-${Date.now()}-${n++}`, onBootStatus, ...storeOptions() }),
  events,
  todos,
  queryDb,
  durable,
  durability,
  shutdown,
})
