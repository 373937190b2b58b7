// The leader worker: imports the schema and starts the leader. It syncs when
// the page was opened with `?sync=<ws url>` (passed along as the sync payload).
import { makeWorker } from 'livestore-rs/worker'
import { schema } from './schema'

makeWorker({ schema, sync: { url: ({ syncPayload }) => (syncPayload as { url?: string } | undefined)?.url } })
