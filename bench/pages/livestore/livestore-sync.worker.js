// LiveStore's leader worker, synced through @livestore/sync-cf's WebSocket
// client, as in LiveStore's web-todomvc-sync-cf example (its default sync
// options). bench/run.mjs starts the sync backend (bench/sync-cf under
// `wrangler dev --local`) before it builds this page and passes its URL in as
// import.meta.env.VITE_SYNC_URL (vite.config.mjs).
import { makeWorker } from '@livestore/adapter-web/worker'
import { makeWsSync } from '@livestore/sync-cf/client'
import { schema } from './schema.js'

makeWorker({ schema, sync: { backend: makeWsSync({ url: import.meta.env.VITE_SYNC_URL }) } })
