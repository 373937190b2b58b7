// livestore-rs's leader worker (persisted adapter): the tiny file the README asks for.
import { makeWorker } from 'livestore-rs/worker'
import { schema } from './schema.js'

makeWorker({ schema })
