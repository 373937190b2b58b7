// livestore-rs persisted in OPFS: the leader runs in a dedicated worker
// (livestore-rs.worker.js, a Vite `?worker` import), as in the README and
// tests/persist-app.
import { makePersistedAdapter } from 'livestore-rs'
import LeaderWorker from './livestore-rs.worker.js?worker'

export const variant = 'livestore-rs-opfs'
export const storeOptions = () => ({ adapter: makePersistedAdapter({ storage: { type: 'opfs' }, worker: LeaderWorker }) })

/**
 * Resolves once everything committed so far is durable in the leader's
 * eventlog on OPFS: livestore-rs's own `store.flush()`.
 */
export async function durable(store, { timeoutMs = 60_000 } = {}) {
  let timer
  try {
    await Promise.race([
      store.flush(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`livestore-rs: flush() did not resolve within ${timeoutMs} ms`)), timeoutMs))),
    ])
  } finally {
    clearTimeout(timer)
  }
}
export const durability = 'flush()'
/** Flushes, then stops the leader worker (its OPFS files are closed). */
export const shutdown = (store) => store.shutdown()
