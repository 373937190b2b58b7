// Durability of a persisted LiveStore store (OPFS, with or without sync):
// shared by adapter-opfs.js and adapter-sync.js.

/**
 * Resolves once the client session has no pending events: the leader confirmed
 * all of them (store.syncStatus().pendingCount === 0). LiveStore 0.4 has no
 * "durable" signal: its leader confirms a batch to the sessions just before it
 * materializes the batch and commits its OPFS transaction, so this is a lower
 * bound of the time to durability. Checked on every sync-status update and,
 * as a fallback, every few milliseconds (timer clamping: about 4 ms).
 */
export function durable(store, { timeoutMs = 60_000 } = {}) {
  if (store.syncStatus().pendingCount === 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const started = performance.now()
    let done = false
    let unsubscribe
    const finish = (err) => {
      if (done) return
      done = true
      queueMicrotask(() => unsubscribe?.())
      if (err) reject(err)
      else resolve()
    }
    const check = () => {
      if (done) return
      const pending = store.syncStatus().pendingCount
      if (pending === 0) return finish()
      if (performance.now() - started > timeoutMs) {
        return finish(new Error(`LiveStore: still ${pending} pending events after ${timeoutMs} ms`))
      }
      setTimeout(check, 1)
    }
    unsubscribe = store.subscribeSyncStatus((status) => {
      if (status.pendingCount === 0) finish()
    })
    check()
  })
}
export const durability = 'leader confirmed'

/**
 * Waits until the leader confirmed everything (durable() above), gives it
 * `graceMs` to commit its OPFS transaction (the confirmation comes just before
 * it), then shuts the store down. W6 then checks in a new page that every row is there.
 */
export async function shutdown(store, { graceMs = 500 } = {}) {
  await durable(store, { timeoutMs: 120_000 })
  await new Promise((r) => setTimeout(r, graceMs))
  await store.shutdownPromise()
}
