// livestore-rs's leader worker, synced: makeWorker({ schema, sync: { url } }) as in
// the README. bench/run.mjs starts the sync server before it builds this page and
// passes its URL in as import.meta.env.VITE_SYNC_URL (vite.config.mjs).
import { makeWorker } from 'livestore-rs/worker'
import { schema } from './schema.js'

makeWorker({ schema, sync: { url: import.meta.env.VITE_SYNC_URL } })
