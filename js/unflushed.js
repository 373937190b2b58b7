// Commits that were not durable yet when the page went away.
//
// A commit reaches the leader worker a moment after it returns, and the worker
// dies with its page: a tab closed or reloaded right after a commit (or a commit
// made in a `pagehide` handler) would lose it. On `pagehide` the session writes
// its pending events to localStorage (synchronous, so it completes); the next
// boot of the store in this browser asks the leader which of them it has and
// commits the others again.

import { LiveStoreError } from './util.js'

const PREFIX = 'livestore-rs:unflushed:'
const keyOf = (storeId, sessionId) => `${PREFIX}${storeId}:${sessionId}`

function storage() {
  try {
    return globalThis.localStorage ?? null
  } catch {
    return null // e.g. storage disabled for the site
  }
}

/**
 * Saves `pending()` (the session's events the leader has not confirmed) when
 * the page is hidden for good; returns the function that stops doing so.
 */
export function saveUnflushedOnPageHide({ storeId, sessionId, pending, report }) {
  const store = storage()
  if (!store || typeof addEventListener !== 'function') return () => {}
  const key = keyOf(storeId, sessionId)
  const onHide = () => {
    const events = pending()
    if (events.length === 0) return
    try {
      store.setItem(key, JSON.stringify(events))
    } catch (e) {
      report(new LiveStoreError('PERSIST_FAILED', `${events.length} events not yet durable could not be saved as the page closed: ${e?.message ?? e}`))
    }
  }
  // Back from the back/forward cache: this session pushes them itself.
  const onShow = (e) => e.persisted && store.removeItem(key)
  addEventListener('pagehide', onHide)
  addEventListener('pageshow', onShow)
  return () => {
    removeEventListener('pagehide', onHide)
    removeEventListener('pageshow', onShow)
  }
}

/**
 * At boot: for each saved list of a store's unflushed events, asks the leader
 * (`request({ type: 'unflushed', events })` → `{ missing }`, indexes of the
 * events it does not have) and commits those again. One tab at a time (a Web
 * Lock), and the saved list is removed only after its events are committed.
 * Returns how many were committed again.
 */
export async function recoverUnflushed({ storeId, request, commit, report }) {
  const store = storage()
  if (!store || !globalThis.navigator?.locks) return 0
  const keys = () => Array.from({ length: store.length }, (_, i) => store.key(i)).filter((k) => k?.startsWith(`${PREFIX}${storeId}:`))
  if (keys().length === 0) return 0
  let recovered = 0
  await navigator.locks.request(`${PREFIX}${storeId}`, async () => {
    for (const key of keys()) {
      let events
      try {
        events = JSON.parse(store.getItem(key))
      } catch {
        events = null
      }
      if (Array.isArray(events) && events.length > 0) {
        const { missing } = await request({ type: 'unflushed', events })
        for (const i of missing) {
          const { name, args } = events[i]
          try {
            commit({ name, args })
            recovered++
          } catch (e) {
            report(new LiveStoreError('EVENT_DROPPED', `an event committed just before the page closed could not be committed again (${name}): ${e?.message ?? e}`, { event: name }))
          }
        }
      }
      store.removeItem(key)
    }
  })
  return recovered
}

/**
 * The leader's side: which of `events` (a session's pending events, oldest
 * first) its eventlog does not have. A rebase may have renumbered them, so
 * they are matched by session, name and args among the events after the
 * first one's parent, each log event matching at most once.
 */
export function missingEvents(leader, events, pageSize) {
  const sessionId = events[0].sessionId
  const identity = (e) => `${e.name}\u0000${JSON.stringify(e.args)}`
  const present = new Map()
  for (let after = events[0].parentSeqNum; ; ) {
    const page = leader.eventsAfter(after, pageSize)
    for (const e of page) {
      if (e.sessionId === sessionId) present.set(identity(e), (present.get(identity(e)) ?? 0) + 1)
    }
    if (page.length < pageSize) break
    after = page[page.length - 1].seqNum
  }
  const missing = []
  events.forEach((e, i) => {
    const n = present.get(identity(e)) ?? 0
    if (n > 0) present.set(identity(e), n - 1)
    else missing.push(i)
  })
  return missing
}
