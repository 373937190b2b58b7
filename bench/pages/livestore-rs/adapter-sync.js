// livestore-rs persisted in OPFS and synced (W8): the same persisted adapter as
// adapter-opfs.js, with a leader worker that syncs through livestore-rs's sync
// server (livestore-rs-sync.worker.js), as in the README's "Synced with a server".
import { makePersistedAdapter } from 'livestore-rs'
import LeaderWorker from './livestore-rs-sync.worker.js?worker'

export const variant = 'livestore-rs-sync'
export const storeOptions = () => ({ adapter: makePersistedAdapter({ storage: { type: 'opfs' }, worker: LeaderWorker }) })

export { durability, durable, shutdown } from './durable.js'
