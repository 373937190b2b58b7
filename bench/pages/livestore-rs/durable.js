// Durability of a persisted livestore-rs store (OPFS, with or without sync):
// shared by adapter-opfs.js and adapter-sync.js.

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
