// The leader worker: imports the schema and starts the leader.
import { makeWorker } from 'livestore-rs/worker'
import { schema } from './schema'

makeWorker({ schema })
