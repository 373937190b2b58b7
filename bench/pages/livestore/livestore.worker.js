// LiveStore's leader worker (persisted adapter), as in LiveStore's web examples.
import { makeWorker } from '@livestore/adapter-web/worker'
import { schema } from './schema.js'

makeWorker({ schema })
