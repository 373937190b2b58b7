// LiveStore's in-memory web adapter (its leader runs in this thread, no persistence).
import { makeInMemoryAdapter } from '@livestore/adapter-web'

export const variant = 'livestore-memory'
export const makeAdapter = () => makeInMemoryAdapter()
export const durable = null
export const durability = 'n/a (in-memory)'
export const shutdown = (store) => store.shutdownPromise()
