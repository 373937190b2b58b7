// The demo's leader worker: persists the store in OPFS and syncs it with the
// sync server whose URL scripts/dev passes in (VITE_SYNC_URL); without one the
// demo is local only.
import { makeWorker } from 'livestore-rs/worker'
import { schema } from './schema.js'

makeWorker({ schema, sync: { url: () => import.meta.env.VITE_SYNC_URL } })
