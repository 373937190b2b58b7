// LiveStore persisted in OPFS and synced (W8): the same persisted adapter as
// adapter-opfs.js (leader worker + shared worker), with a leader worker that
// syncs through LiveStore's own sync backend, @livestore/sync-cf
// (livestore-sync.worker.js).
import { makePersistedAdapter } from '@livestore/adapter-web'
import LiveStoreSharedWorker from '@livestore/adapter-web/shared-worker?sharedworker'
import LiveStoreWorker from './livestore-sync.worker.js?worker'

export const variant = 'livestore-sync'
export const makeAdapter = () =>
  makePersistedAdapter({ storage: { type: 'opfs' }, worker: LiveStoreWorker, sharedWorker: LiveStoreSharedWorker })

export { durability, durable, shutdown } from './durable.js'
