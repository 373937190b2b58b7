import { makeWorker } from 'livestore-rs/worker'
import { schema } from './schema.ts'

makeWorker({ schema })
