// createStore and the Store: wraps one WasmSession (the main-thread session of
// the wasm core) and one ReactiveGraph.

import init, { WasmSession } from './livestore_rs.js'
import { LiveStoreError, describe, isPlainObject, decodeBySchema } from './util.js'
import { ReactiveGraph, isLiveDef } from './reactive.js'
import { isSchema } from './schema.js'

let initPromise

/**
 * Loads the wasm module once. `wasm` is anything wasm-bindgen's `init` accepts as
 * `module_or_path`: URL / string path / Request / Response / bytes / WebAssembly.Module.
 * Without it, the module is fetched from `livestore_rs_bg.wasm` next to this file.
 */
export function initWasm(wasm) {
  if (!initPromise) {
    const p = wasm === undefined ? init() : init({ module_or_path: wasm })
    initPromise = Promise.resolve(p).then(() => undefined)
    initPromise.catch(() => {
      initPromise = undefined // allow a retry with another source
    })
  }
  return initPromise
}

function randomId() {
  const c = globalThis.crypto
  if (c && typeof c.randomUUID === 'function') return c.randomUUID().replace(/-/g, '').slice(0, 12)
  const bytes = new Uint8Array(6)
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256)
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

const optionError = (message) => new LiveStoreError('INVALID_OPTIONS', message)

function checkId(value, name, required) {
  if (value === undefined && !required) return
  if (typeof value !== 'string' || value === '') throw optionError(`createStore: ${name} must be a non-empty string, got ${describe(value)}`)
}

const CREATE_OPTIONS = new Set(['schema', 'storeId', 'clientId', 'sessionId', 'wasm', 'wasmUrl', 'onError'])

/**
 * Creates a store: loads the wasm module (once), validates the options and
 * opens a session on an in-memory SQLite state.
 */
export async function createStore(options) {
  if (!isPlainObject(options)) throw optionError(`createStore: expected an options object, got ${describe(options)}`)
  for (const k of Object.keys(options)) {
    if (!CREATE_OPTIONS.has(k)) throw optionError(`createStore: unknown option '${k}' (known: ${[...CREATE_OPTIONS].join(', ')})`)
  }
  const { schema, storeId, clientId = randomId(), sessionId = randomId(), wasm, wasmUrl, onError } = options
  if (!isSchema(schema)) throw optionError('createStore: schema must come from makeSchema({ events, state })')
  checkId(storeId, 'storeId', true)
  checkId(clientId, 'clientId', true)
  checkId(sessionId, 'sessionId', true)
  if (onError !== undefined && typeof onError !== 'function') throw optionError('createStore: onError must be a function')
  await initWasm(wasm ?? wasmUrl)
  const session = new WasmSession(schema.desc, schema.materializers, { storeId, clientId, sessionId })
  return new Store(session, schema, { storeId, clientId, sessionId }, onError)
}

function toWireEvent(e, i) {
  if (typeof e === 'function') {
    throw new LiveStoreError('INVALID_ARGUMENT', `commit: argument #${i + 1} is the event definition '${e.name}', not an event; call it: ${e.name}(args)`)
  }
  if (e === null || typeof e !== 'object' || typeof e.name !== 'string') {
    throw new LiveStoreError('INVALID_ARGUMENT', `commit: argument #${i + 1} is not an event ({ name, args }), got ${describe(e)}`)
  }
  return e // args cross as they are: the core encodes Dates and validates
}

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

  constructor(session, schema, ids, onError) {
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
    let changed
    this.#materializing = true
    try {
      changed = this.#session.commit(wire)
    } finally {
      this.#materializing = false
    }
    this.#graph.onCommit(changed)
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

  /** Closes the store: releases live queries and the session. Calling it again does nothing. */
  close() {
    if (this.#closed) return
    this.#closed = true
    try {
      this.#graph.close()
    } finally {
      this.#session.close()
    }
  }
}
