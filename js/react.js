// React bindings (`livestore-rs/react`): a provider that boots the store and
// hooks that read it. Queries are synchronous, so hooks return values at once
// (no suspense, no loading state below the provider); useQuery re-renders only
// when its result changes, which the reactive graph already guarantees.

import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useState, useSyncExternalStore } from 'react'
import { createStore } from './store.js'
import { asDef } from './reactive.js'
import { toQuery } from './query-builder.js'
import { LiveStoreError, deepEqual, describe } from './util.js'

const StoreContext = createContext(null)

const defaultLoading = (status) => createElement('div', { 'data-livestore': 'loading' }, `Loading store${status?.stage ? ` (${status.stage}${status.total ? ` ${status.done}/${status.total}` : ''})` : ''}…`)
const defaultError = (error) =>
  createElement('div', { 'data-livestore': 'error', role: 'alert' }, `The store could not start: ${error?.code ? `[${error.code}] ` : ''}${error?.message ?? String(error)}`)
const defaultShutdown = ({ reason }) => createElement('div', { 'data-livestore': 'shutdown' }, `The store was shut down (${reason}).`)

/**
 * Boots a store with `createStore(options)` and renders `children` once it is
 * ready; until then `renderLoading(bootStatus)`, on failure
 * `renderError(error)`, after the store shut down (reset from another tab,
 * `store.shutdown()`) `renderShutdown({ reason })`. `boot(store)` runs once
 * after booting (e.g. to seed data). The store shuts down on unmount.
 * Options are read when the key ones change: schema, storeId, adapter,
 * clientId, sessionId, syncPayload — create the adapter once, outside components.
 */
export function LiveStoreProvider({ children, renderLoading = defaultLoading, renderError = defaultError, renderShutdown = defaultShutdown, boot, ...options }) {
  const [state, setState] = useState({ stage: 'loading', status: undefined })
  const payloadKey = JSON.stringify(options.syncPayload ?? null)
  const { schema, storeId, adapter, clientId, sessionId } = options

  useEffect(() => {
    let cancelled = false
    let store
    let unlisten
    setState({ stage: 'loading', status: undefined })
    // Starting on the next microtask lets React's development double-mount
    // (mount, unmount, mount) cancel the first boot before it begins.
    Promise.resolve()
      .then(() => {
        if (cancelled) return
        return createStore({
          ...options,
          onBootStatus: (status) => {
            options.onBootStatus?.(status)
            if (!cancelled) setState((s) => (s.stage === 'loading' ? { stage: 'loading', status } : s))
          },
        })
      })
      .then(async (s) => {
        if (!s) return
        store = s
        if (cancelled) return void store.shutdown()
        if (boot) await boot(store)
        if (cancelled) return
        unlisten = store.onShutdown(({ reason }) => {
          if (!cancelled) setState({ stage: 'shutdown', reason })
        })
        setState({ stage: 'ready', context: { store } })
      })
      .catch((error) => {
        if (!cancelled) setState({ stage: 'error', error })
        store?.shutdown()
      })
    return () => {
      cancelled = true
      unlisten?.()
      store?.shutdown()
    }
    // The whole options object is read on (re)boot; these are what identify the store.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [schema, storeId, adapter, clientId, sessionId, payloadKey])

  if (state.stage === 'ready') return createElement(StoreContext.Provider, { value: state.context }, children)
  if (state.stage === 'error') return renderError(state.error)
  if (state.stage === 'shutdown') return renderShutdown({ reason: state.reason })
  return renderLoading(state.status)
}

/** `{ store }` of the nearest LiveStoreProvider. */
export function useStore() {
  const context = useContext(StoreContext)
  if (!context) throw new LiveStoreError('NO_STORE', 'useStore/useQuery must be called inside <LiveStoreProvider> (once its store is ready)')
  return context
}

// Queries built inline in a component are new objects on every render; the
// same query (same SQL and values) keeps its subscription.
// Definitions are frozen, so a key is computed once per definition.
const keys = new WeakMap()
function keyOf(def) {
  if (def.implicitKey !== undefined) return def.implicitKey
  if (def.kind !== 'queryDb' || def.fn || def.map) return def
  let key = keys.get(def)
  if (key === undefined) keys.set(def, (key = `${def.label}\u0000${JSON.stringify(toQuery(def.query).desc)}`))
  return key
}

function querySource(store, def) {
  let value
  let read = false
  const get = () => {
    if (!read) {
      value = store.query(def)
      read = true
    }
    return value
  }
  const subscribe = (onChange) => {
    let first = true
    return store.subscribe(def, (next) => {
      // The first call repeats the value just read, unless a commit came in between.
      const unchanged = first && read && deepEqual(next, value)
      first = false
      if (unchanged) return
      value = next
      read = true
      onChange()
    })
  }
  return { get, subscribe }
}

/**
 * The current result of a query (a query builder, a `queryDb`, `computed` or
 * `signal`, or a client document's `get()`), re-rendering the component only
 * when that result changes.
 */
export function useQuery(query) {
  const { store } = useStore()
  const def = asDef(query)
  const key = keyOf(def)
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const source = useMemo(() => querySource(store, def), [store, key])
  return useSyncExternalStore(source.subscribe, source.get, source.get)
}

/**
 * `[value, setValue, id]` of a client document (`State.SQLite.clientDocument`);
 * `setValue` merges a partial value (or `(value) => partial`) by committing the
 * document's set event. `id` defaults to the document's default id (this session).
 */
export function useClientDocument(table, id) {
  if (!table || typeof table.get !== 'function' || typeof table.set !== 'function' || !table.clientDocument) {
    throw new LiveStoreError('INVALID_ARGUMENT', `useClientDocument: expected a State.SQLite.clientDocument(...) table, got ${describe(table)}`)
  }
  const docId = id ?? table.default.id
  const { store } = useStore()
  const value = useQuery(table.get(docId))
  const setValue = useCallback(
    (update) => {
      const partial = typeof update === 'function' ? update(store.query(table.get(docId))) : update
      store.commit(table.set(partial, docId))
    },
    [store, table, docId],
  )
  return [value, setValue, docId]
}

/**
 * The external-store source of useSyncStatus (exported for tests only). A
 * status that changed between the first render and the subscription (React
 * subscribes in an effect) is picked up when subscribing: subscribeSyncStatus
 * only reports later changes, and the leader may not change its status again.
 */
export function syncStatusSource(store) {
  let status = store.syncStatus
  return {
    get: () => status,
    subscribe: (onChange) => {
      const unsubscribe = store.subscribeSyncStatus((next) => {
        status = next
        onChange()
      })
      const now = store.syncStatus
      if (!deepEqual(now, status)) {
        status = now
        onChange()
      }
      return unsubscribe
    },
  }
}

/** The store's sync status (`store.syncStatus`), re-rendering when it changes. */
export function useSyncStatus() {
  const { store } = useStore()
  const source = useMemo(() => syncStatusSource(store), [store])
  return useSyncExternalStore(source.subscribe, source.get, source.get)
}
