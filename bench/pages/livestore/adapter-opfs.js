// LiveStore's persisted web adapter: leader in a dedicated worker (OPFS), a
// shared worker in front of it, as LiveStore's docs and examples set it up.
import { makePersistedAdapter } from '@livestore/adapter-web'
import LiveStoreSharedWorker from '@livestore/adapter-web/shared-worker?sharedworker'
import LiveStoreWorker from './livestore.worker.js?worker'

export const variant = 'livestore-opfs'
export const makeAdapter = () =>
  makePersistedAdapter({ storage: { type: 'opfs' }, worker: LiveStoreWorker, sharedWorker: LiveStoreSharedWorker })

export { durability, durable, shutdown } from './durable.js'
