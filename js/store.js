// createStore and the Store: wraps one WasmSession (the main-thread session of
// the wasm core) and one ReactiveGraph; a persisted store also has a LeaderLink
// (persist.js) that keeps the session in step with the leader worker.

import { WasmSession } from './livestore_rs.js'
import { initWasm } from './wasm.js'
import { LiveStoreError, describe, isPlainObject, decodeBySchema, randomId } from './util.js'
import { bootPersisted, isPersistedAdapter } from './persist.js'
import { recoverUnflushed } from './unflushed.js'
import { ReactiveGraph, isLiveDef } from './reactive.js'
import { isSchema } from './schema.js'
import { eventsJson } from './wire.js'

const optionError = (message) => new LiveStoreError('INVALID_OPTIONS', message)

function checkId(value, name, required) {
  if (value === undefined && !required) return
  if (typeof value !== 'string' || value === '') throw optionError(`createStore: ${name} must be a non-empty string, got ${describe(value)}`)
}

const CREATE_OPTIONS = new Set(['schema', 'storeId', 'clientId', 'sessionId', 'wasm', 'wasmUrl', 'onError', 'adapter', 'onBootStatus', 'syncPayload', 'devtools'])

/**
 * Creates a store: loads the wasm module (once), validates the options and
 * opens a session. Without `adapter` the state lives in memory only. With
 * `makePersistedAdapter(...)` the session starts from the leader's snapshot and
 * every commit is persisted by the leader; where the browser cannot persist
 * (no OPFS, workers or Web Locks) it warns and runs in memory
 * (`store.persisted === false`). With `devtools: true` the store answers the
 * devtools page of the same origin (devtools.js).
 */
export async function createStore(options) {
  if (!isPlainObject(options)) throw optionError(`createStore: expected an options object, got ${describe(options)}`)
  for (const k of Object.keys(options)) {
    if (!CREATE_OPTIONS.has(k)) throw optionError(`createStore: unknown option '${k}' (known: ${[...CREATE_OPTIONS].join(', ')})`)
  }
  const { schema, storeId, clientId, sessionId, wasm, wasmUrl, onError, adapter, onBootStatus, syncPayload, devtools = false } = options
  if (!isSchema(schema)) throw optionError('createStore: schema must come from makeSchema({ events, state })')
  checkId(storeId, 'storeId', true)
  checkId(clientId, 'clientId', false)
  checkId(sessionId, 'sessionId', false)
  if (onError !== undefined && typeof onError !== 'function') throw optionError('createStore: onError must be a function')
  if (onBootStatus !== undefined && typeof onBootStatus !== 'function') throw optionError('createStore: onBootStatus must be a function')
  if (typeof devtools !== 'boolean') throw optionError(`createStore: devtools must be a boolean, got ${describe(devtools)}`)
  // Loaded only when asked for: apps without devtools do not bundle or run it.
  const startDevtools = devtools ? (await import('./devtools.js')).startDevtools : undefined
  if (adapter !== undefined && !isPersistedAdapter(adapter)) {
    throw optionError(`createStore: adapter must come from makePersistedAdapter(...), got ${describe(adapter)}`)
  }
  const status = (s) => {
    try {
      onBootStatus?.(s)
    } catch (e) {
      defaultReport(e, { phase: 'onBootStatus' })
    }
  }
  const wasmSource = wasm ?? wasmUrl
  let ids = { storeId, clientId: clientId ?? randomId(), sessionId: sessionId ?? randomId() }
  let fallback
  if (adapter) {
    const booted = await bootPersisted({ schema, storeId, clientId, sessionId, adapter, wasmSource, onStatus: status, syncPayload })
    if (booted.link) {
      const store = new Store(booted.session, schema, booted.ids, onError, booted.link, startDevtools)
      const recovered = await recoverUnflushed({
        storeId,
        request: (m) => booted.link.request(m),
        commit: (event) => store.commit(event),
        report: (e) => (onError ?? defaultReport)(e, { phase: 'persist' }),
      })
      if (recovered > 0) console.warn(`[livestore-rs] store '${storeId}': ${recovered} events committed just before a page closed were not durable yet; they were committed again`)
      status({ stage: 'done', persisted: true })
      return store
    }
    ids = booted.ids
    fallback = booted.fallback
    console.warn(`[livestore-rs] store '${storeId}' is NOT persisted: ${fallback}. It runs in memory; its data is lost when the page closes.`)
  }
  await initWasm(wasmSource)
  const session = new WasmSession(schema.desc, schema.materializers, { ...ids, onRebase: schema.onRebase })
  const store = new Store(session, schema, ids, onError, undefined, startDevtools)
  if (adapter) status({ stage: 'done', persisted: false, reason: fallback })
  return store
}

function toWireEvent(e, i) {
  if (typeof e === 'function') {
    throw new LiveStoreError('INVALID_ARGUMENT', `commit: argument #${i + 1} is the event definition '${e.name}', not an event; call it: ${e.name}(args)`)
  }
  if (e === null || typeof e !== 'object' || typeof e.name !== 'string') {
    throw new LiveStoreError('INVALID_ARGUMENT', `commit: argument #${i + 1} is not an event ({ name, args }), got ${describe(e)}`)
  }
  return e // the core encodes Dates and validates
}

const argsOf = (e) => e.args

const defaultReport = (error, context) => {
  console.error(`[livestore-rs] error in ${context?.phase ?? 'query'}${context?.label ? ` of '${context.label}'` : ''}:`, error)
}

/** A store: one eventlog, one state database, reactive queries over it. */
export class Store {
  #session
  #graph
  #schema
  #ids
  #closed = false
  #schemaHash
  #materializing = false
  #link // LeaderLink of a persisted store
  #closing
  #syncListeners = new Set()
  #shutdownListeners = new Set()
  #devtools // DevtoolsResponder with `devtools: true`

  constructor(session, schema, ids, onError, link, startDevtools) {
    this.#session = session
    this.#schema = schema
    this.#ids = Object.freeze({ ...ids })
    this.#schemaHash = session.schemaHash
    const reportError = (error, context) => {
      if (!onError) return defaultReport(error, context)
      try {
        onError(error, context)
      } catch (e) {
        defaultReport(e, { phase: 'onError' })
      }
    }
    this.#graph = new ReactiveGraph({ session, tables: schema.tables, reportError })
    this.#link = link
    link?.attach({
      // Upstream events run materializers too: the same guard as commit.
      run: (fn) => this.#whileMaterializing(fn),
      changed: (ids) => {
        if (!this.#closed) this.#graph.onCommit(ids)
        this.#devtools?.changed()
      },
      report: reportError,
      syncStatus: (status) => {
        this.#devtools?.changed()
        for (const cb of this.#syncListeners) {
          try {
            cb(status)
          } catch (e) {
            reportError(e, { phase: 'syncStatus' })
          }
        }
      },
      reset: (asked) => {
        if (!asked) reportError(new LiveStoreError('STORE_RESET', `the local data of store '${ids.storeId}' was deleted (reset); this store is closed: create it again`), { phase: 'persist' })
        this.#shutdown(false, 'reset')
      },
    })
    this.#devtools = startDevtools?.({ store: this, session, graph: this.#graph, link })
  }

  #whileMaterializing(fn) {
    this.#materializing = true
    try {
      return fn()
    } finally {
      this.#materializing = false
    }
  }

  get storeId() {
    return this.#ids.storeId
  }
  get clientId() {
    return this.#ids.clientId
  }
  get sessionId() {
    return this.#ids.sessionId
  }
  get schemaHash() {
    return this.#schemaHash
  }
  get schema() {
    return this.#schema
  }
  get isClosed() {
    return this.#closed
  }
  /** Whether commits are persisted (false: in memory, also when the browser could not persist). */
  get persisted() {
    return this.#link !== undefined
  }

  /**
   * Where syncing with the server stands: `{ enabled, online, phase, pending,
   * head, upstreamHead, backendId?, error? }`. `pending` counts events not yet
   * confirmed by the server (this tab's not yet at the leader included).
   */
  get syncStatus() {
    if (!this.#link) return { enabled: false, online: false, phase: 'disabled', pending: 0, head: null, upstreamHead: null }
    return this.#link.syncStatus
  }

  /** Calls `callback(status)` whenever the sync status changes; returns the unsubscribe function. */
  subscribeSyncStatus(callback) {
    if (typeof callback !== 'function') throw new LiveStoreError('INVALID_ARGUMENT', `subscribeSyncStatus: expected a function, got ${describe(callback)}`)
    this.#syncListeners.add(callback)
    return () => this.#syncListeners.delete(callback)
  }

  /**
   * Calls `callback({ reason })` once the store closes: `'closed'` by close() or
   * shutdown(), `'reset'` when its local data was reset or imported (in any tab).
   * Returns the unsubscribe function.
   */
  onShutdown(callback) {
    if (typeof callback !== 'function') throw new LiveStoreError('INVALID_ARGUMENT', `onShutdown: expected a function, got ${describe(callback)}`)
    this.#shutdownListeners.add(callback)
    return () => this.#shutdownListeners.delete(callback)
  }

  #assertOpen(method) {
    if (this.#closed) {
      throw new LiveStoreError('STORE_CLOSED', `store '${this.#ids.storeId}' is closed: ${method}() cannot be called after close()`)
    }
  }

  /**
   * Commits events synchronously; several events are applied atomically (all or
   * none). Subscribers are notified before commit returns.
   */
  commit(...events) {
    this.#assertOpen('commit')
    if (this.#graph.updating) {
      throw new LiveStoreError('COMMIT_IN_QUERY', 'commit() cannot be called while a query, computed or queryDb function is running')
    }
    if (events.length === 1 && Array.isArray(events[0])) events = events[0]
    if (events.length === 0) return
    if (this.#materializing) {
      throw new LiveStoreError('COMMIT_IN_MATERIALIZER', 'commit() cannot be called from a materializer; return writes instead')
    }
    const wire = events.map(toWireEvent)
    const json = eventsJson(wire)
    const changed = this.#whileMaterializing(() =>
      json === undefined ? this.#session.commit(wire) : this.#session.commitJson(json, wire.map(argsOf)),
    )
    this.#link?.onCommit()
    this.#graph.onCommit(changed)
    this.#devtools?.changed()
  }

  /** Reads the current value of a query (builder, raw SQL, queryDb, computed, signal, document get()). */
  query(q) {
    this.#assertOpen('query')
    if (this.#materializing) {
      throw new LiveStoreError('QUERY_IN_MATERIALIZER', 'store.query() cannot be used in a materializer; use ctx.query(...) (the second argument)')
    }
    return this.#graph.query(q)
  }

  /**
   * Calls `onUpdate` now with the current value, then after every commit or
   * setSignal that changes it. Returns the unsubscribe function.
   */
  subscribe(q, onUpdateOrOptions, maybeOptions) {
    this.#assertOpen('subscribe')
    let opts
    if (typeof onUpdateOrOptions === 'function') opts = { ...(maybeOptions ?? {}), onUpdate: onUpdateOrOptions }
    else if (isPlainObject(onUpdateOrOptions)) opts = onUpdateOrOptions
    else opts = {}
    if (typeof opts.onUpdate !== 'function') {
      throw new LiveStoreError('INVALID_ARGUMENT', 'subscribe: give a callback, subscribe(query, (value) => …), or { onUpdate }')
    }
    return this.#graph.subscribe(q, opts.onUpdate, { skipInitialRun: opts.skipInitialRun === true, label: opts.label })
  }

  /** Sets a signal's value in this store (or updates it from the previous value with a function). */
  setSignal(sig, value) {
    this.#assertOpen('setSignal')
    if (!isLiveDef(sig) || sig.kind !== 'signal') throw new LiveStoreError('INVALID_ARGUMENT', `setSignal: expected a signal(...), got ${describe(sig)}`)
    if (this.#graph.updating) throw new LiveStoreError('COMMIT_IN_QUERY', 'setSignal() cannot be called while a query, computed or queryDb function is running')
    const next = typeof value === 'function' ? value(this.#graph.signalValue(sig)) : value
    this.#graph.setSignal(sig, next)
    this.#devtools?.changed()
  }

  /** The eventlog of this session: every committed event with its seqNum, oldest first. */
  eventlog() {
    this.#assertOpen('eventlog')
    const records = this.#session.eventlog()
    const events = this.#schema.events
    return records.map((r) => {
      const def = events.get(r.name)
      return def ? { ...r, args: decodeBySchema(def.schema, r.args) } : r
    })
  }

  /**
   * Resolves once everything committed so far is durable in the leader's
   * eventlog (at once for an in-memory store). Rejects if the leader could not
   * persist it (the events were then rolled back and reported to onError).
   */
  flush() {
    if (this.#closing) return this.#closing
    return this.#link ? this.#link.flush() : Promise.resolve()
  }

  /**
   * The persisted files, from the leader: `{ eventlog, state }` as SQLite
   * database bytes. Flushes first, so they contain every commit made so far.
   */
  async exportDatabase() {
    this.#assertOpen('exportDatabase')
    if (!this.#link) throw new LiveStoreError('UNSUPPORTED', `exportDatabase: store '${this.#ids.storeId}' is not persisted`)
    await this.#link.flush()
    return this.#link.request({ type: 'export' })
  }

  /**
   * Replaces the store's local data with an exported eventlog
   * (`(await store.exportDatabase()).eventlog`); the state is rebuilt from it.
   * Every tab's store of this id closes (others report 'STORE_RESET' to
   * onError); resolves when this one is closed: create a new store to use it.
   */
  async importDatabase({ eventlog } = {}) {
    this.#assertOpen('importDatabase')
    if (!this.#link) throw new LiveStoreError('UNSUPPORTED', `importDatabase: store '${this.#ids.storeId}' is not persisted`)
    if (!(eventlog instanceof Uint8Array)) {
      throw new LiveStoreError('INVALID_ARGUMENT', 'importDatabase: expected { eventlog: Uint8Array } as exportDatabase() returns it')
    }
    await this.#link.request({ type: 'import', eventlog })
    await this.#shutdown(false, 'reset')
  }

  /**
   * Deletes the store's local data (eventlog and state in OPFS), in every tab:
   * all sessions of the store close (others report 'STORE_RESET' to onError).
   * Resolves when this store is closed; create a new one to start over.
   */
  async reset() {
    this.#assertOpen('reset')
    if (this.#link) await this.#link.request({ type: 'reset' })
    await this.#shutdown(false, 'reset')
  }

  /**
   * Closes the store: at once no more commits or queries; a persisted store
   * then pushes what is pending, waits until it is durable, stops its worker
   * (another tab's worker takes over as leader) and leaves the channel.
   * Resolves when all that is done. Calling it again returns the same promise.
   */
  close() {
    return this.#shutdown(true)
  }

  /** The same as close(). */
  shutdown() {
    return this.#shutdown(true)
  }

  #shutdown(flush, reason = 'closed') {
    if (this.#closing) return this.#closing
    this.#closed = true
    for (const cb of this.#shutdownListeners) {
      try {
        cb({ reason })
      } catch (e) {
        defaultReport(e, { phase: 'onShutdown' })
      }
    }
    this.#shutdownListeners.clear()
    this.#devtools?.close()
    try {
      this.#graph.close()
    } catch (e) {
      defaultReport(e, { phase: 'close' })
    }
    const link = this.#link
    // The session outlives the graph until the link is done: pending events may still need a rebase.
    this.#closing = link
      ? link.close({ flush }).finally(() => this.#session.close())
      : Promise.resolve(this.#session.close())
    return this.#closing
  }
}
