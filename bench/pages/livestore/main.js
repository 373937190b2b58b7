// Benchmark page of LiveStore 0.4: the shared workloads on a LiveStore store.
// `#adapter` is adapter-memory.js or adapter-opfs.js, chosen per build by
// bench/vite.config.mjs (one build per adapter, so each bundle holds one adapter).
import { scriptStart } from '../shared/t0.js'
import '../shared/wasm-hook.js'
import { createStorePromise, queryDb } from '@livestore/livestore'
import { durability, durable, makeAdapter, shutdown, variant } from '#adapter'
import { installHarness } from '../shared/workloads.js'
import { events, schema, todos } from './schema.js'

let n = 0
installHarness({
  name: 'livestore',
  variant,
  scriptStart,
  createStore: ({ storeId, onBootStatus } = {}) =>
    createStorePromise({
      schema,
      adapter: makeAdapter(),
      storeId: storeId ?? `bench-${Date.now()}-${n++}`,
      onBootStatus,
      disableDevtools: true,
      batchUpdates: (run) => run(),
    }),
  events,
  todos,
  queryDb,
  durable,
  durability,
  shutdown,
})
