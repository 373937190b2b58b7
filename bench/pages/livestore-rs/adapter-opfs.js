// livestore-rs persisted in OPFS: the leader runs in a dedicated worker
// (livestore-rs.worker.js, a Vite `?worker` import), as in the README and
// tests/persist-app.
import { makePersistedAdapter } from 'livestore-rs'
import LeaderWorker from './livestore-rs.worker.js?worker'

export const variant = 'livestore-rs-opfs'
export const storeOptions = () => ({ adapter: makePersistedAdapter({ storage: { type: 'opfs' }, worker: LeaderWorker }) })

export { durability, durable, shutdown } from './durable.js'
