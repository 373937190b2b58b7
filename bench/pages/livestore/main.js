// Benchmark page of LiveStore 0.4: the shared workloads on a LiveStore store.
// `#adapter` is adapter-memory.js or adapter-opfs.js, chosen per build by
// bench/vite.config.mjs (one build per adapter, so each bundle holds one adapter).
import '../shared/wasm-hook.js'
import { createStorePromise, queryDb } from '@livestore/livestore'
import { durability, durable, makeAdapter, variant } from '#adapter'
import { installHarness } from '../shared/workloads.js'
import { events, schema, todos } from './schema.js'

let n = 0
installHarness({
  name: 'livestore',
  variant,
  createStore: () =>
    createStorePromise({
      schema,
      adapter: makeAdapter(),
      storeId: `bench-${Date.now()}-${n++}`,
      disableDevtools: true,
      batchUpdates: (run) => run(),
    }),
  events,
  todos,
  queryDb,
  durable,
  durability,
})
