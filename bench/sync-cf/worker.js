// The Cloudflare Worker of LiveStore's sync backend, as LiveStore's docs and
// examples write it: the Durable Object class from makeDurableObject (one
// instance per storeId, events in its SQLite) and the Worker's fetch handler
// from makeWorker, which routes sync requests (?storeId=…&transport=ws) to it.
import { makeDurableObject, makeWorker } from '@livestore/sync-cf/cf-worker'

export class SyncBackendDO extends makeDurableObject({}) {}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO' })
