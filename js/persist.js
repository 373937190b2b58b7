// Persistence and tabs, main-thread side (docs/ARCHITECTURE.md, "Persistence
// and tabs"): the persisted adapter, the identity of this client and tab, and
// LeaderLink, which boots the tab's session from the leader's snapshot and then
// keeps it in step with the leader over the store's BroadcastChannel.
//
// The leader runs in a dedicated worker (js/worker.js); every tab starts one,
// and the one holding the store's Web Lock leads. The session never needs to
// know which tab that is: everything goes through the channel.

import * as wasm from './livestore_rs.js' // a namespace: WasmLeader is looked up when used
import { compileWasm, initWasm } from './wasm.js'
import { BRAND, LiveStoreError, describe, isPlainObject, randomId } from './util.js'
import { saveUnflushedOnPageHide } from './unflushed.js'

/** The BroadcastChannel every session and leader of a store talks on. */
export const channelName = (storeId) => `livestore-rs:${storeId}`
/** The Web Lock whose holder is the store's leader. */
export const lockName = (storeId) => `livestore-rs:${storeId}`
/** A Web Lock per live session, so that a duplicated tab (same sessionStorage) takes a new sessionId. */
const sessionLockName = (storeId, sessionId) => `livestore-rs:${storeId}:session:${sessionId}`

/** Most events in one push: a long backlog goes in several batches, one at a time. */
const MAX_BATCH = 1000
/** Hello is repeated this often while no snapshot came (a lost message must not hang boot). */
const HELLO_RETRY_MS = 2000

const optionError = (message) => new LiveStoreError('INVALID_OPTIONS', message)
const ADAPTER_OPTIONS = new Set(['storage', 'worker', 'unknownEvents'])
const UNKNOWN_EVENTS = ['warn', 'ignore', 'fail']

/**
 * The adapter of a store persisted in OPFS by a leader worker:
 * `makePersistedAdapter({ storage: { type: 'opfs' }, worker: LeaderWorker })`.
 * `worker` is what Vite's `import W from './livestore.worker.ts?worker'` gives
 * (a constructor), a function returning a Worker, or the URL of a module worker.
 */
export function makePersistedAdapter(options) {
  if (!isPlainObject(options)) throw optionError(`makePersistedAdapter: expected an options object, got ${describe(options)}`)
  for (const k of Object.keys(options)) {
    if (!ADAPTER_OPTIONS.has(k)) throw optionError(`makePersistedAdapter: unknown option '${k}' (known: ${[...ADAPTER_OPTIONS].join(', ')})`)
  }
  const { storage = { type: 'opfs' }, worker, unknownEvents } = options
  if (!isPlainObject(storage) || storage.type !== 'opfs') {
    throw optionError(`makePersistedAdapter: storage must be { type: 'opfs' }, got ${describe(storage)}`)
  }
  const isUrl = typeof worker === 'string' || (typeof URL === 'function' && worker instanceof URL)
  const isWorker = worker !== null && typeof worker === 'object' && typeof worker.postMessage === 'function'
  if (typeof worker !== 'function' && !isUrl && !isWorker) {
    throw optionError(
      `makePersistedAdapter: worker must be a Worker constructor (Vite: import LeaderWorker from './livestore.worker.ts?worker'), a function returning a Worker, or a URL, got ${describe(worker)}`,
    )
  }
  if (unknownEvents !== undefined && !UNKNOWN_EVENTS.includes(unknownEvents)) {
    throw optionError(`makePersistedAdapter: unknownEvents must be one of ${UNKNOWN_EVENTS.join(', ')}, got ${describe(unknownEvents)}`)
  }
  const adapter = { kind: 'persisted', storage: Object.freeze({ type: 'opfs' }), worker, unknownEvents }
  Object.defineProperty(adapter, BRAND.adapter, { value: true })
  return Object.freeze(adapter)
}

export const isPersistedAdapter = (a) => a != null && a[BRAND.adapter] === true && a.kind === 'persisted'

/** Why this page cannot persist, or undefined when it can. */
function missingFeature() {
  const g = globalThis
  if (typeof g.Worker !== 'function') return 'Web Workers are not available'
  if (typeof g.BroadcastChannel !== 'function') return 'BroadcastChannel is not available'
  if (typeof g.navigator?.locks?.request !== 'function') return 'the Web Locks API (navigator.locks) is not available'
  if (typeof g.navigator?.storage?.getDirectory !== 'function') return 'OPFS (navigator.storage.getDirectory) is not available'
  return undefined
}

/** Reads (or creates and stores) an id in web storage; a fresh one if storage is unusable (privacy modes). */
function storedId(storageName, key) {
  try {
    const storage = globalThis[storageName]
    let id = storage.getItem(key)
    if (!id) {
      id = randomId()
      storage.setItem(key, id)
    }
    return id
  } catch {
    return randomId()
  }
}

function storeIdIn(storageName, key, id) {
  try {
    globalThis[storageName].setItem(key, id)
  } catch {}
}

/**
 * Takes the Web Lock `name` if it is free; resolves with its release function,
 * or null when someone else holds it. The lock is held until released (or the page goes).
 */
function tryLock(name) {
  return new Promise((resolve, reject) => {
    navigator.locks
      .request(name, { ifAvailable: true }, (lock) => {
        if (!lock) return resolve(null)
        return new Promise((release) => resolve(release))
      })
      .catch(reject)
  })
}

/**
 * The client id lives in localStorage (one per browser profile and store);
 * the session id in sessionStorage (one per tab, kept across reloads). A tab
 * duplicated by the browser inherits sessionStorage: the session lock tells,
 * and the copy takes a new id. Explicit ids win.
 */
async function resolveIdentity(storeId, explicit) {
  const clientId = explicit.clientId ?? storedId('localStorage', `livestore-rs:${storeId}:clientId`)
  let sessionId = explicit.sessionId ?? storedId('sessionStorage', `livestore-rs:${storeId}:sessionId`)
  let release = await tryLock(sessionLockName(storeId, sessionId))
  if (!release && explicit.sessionId === undefined) {
    sessionId = randomId()
    storeIdIn('sessionStorage', `livestore-rs:${storeId}:sessionId`, sessionId)
    release = await tryLock(sessionLockName(storeId, sessionId))
  }
  return { ids: { storeId, clientId, sessionId }, releaseSessionLock: release ?? (() => {}) }
}

/** Starts the tab's worker from what the adapter was given. */
function startWorker(spec, storeId) {
  const name = `livestore-rs leader (${storeId})`
  let w
  if (typeof spec === 'string' || spec instanceof URL) w = new Worker(spec, { type: 'module', name })
  else if (typeof spec === 'function') {
    // Vite's `?worker` export is a plain function that returns a Worker (fine with
    // or without `new`); a class needs `new`; an arrow function cannot take it.
    w = spec.prototype ? new spec({ name }) : spec({ name })
  } else w = spec
  if (!w || typeof w.postMessage !== 'function') {
    throw optionError(`makePersistedAdapter: the worker option did not produce a Worker (got ${describe(w)})`)
  }
  return w
}

/**
 * A fingerprint of the schema's tables and events (not of the materializer
 * sources, which differ between the page's and the worker's bundles once
 * minified). A session must not boot from a snapshot whose table layout is
 * another version's: the hello carries it, the leader compares.
 */
export function schemaFingerprint(schema) {
  const text = JSON.stringify({ tables: schema.desc.tables, events: schema.desc.events })
  let h = 0x811c9dc5 // FNV-1a, 32 bits
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return (h >>> 0).toString(16).padStart(8, '0')
}

export const seqEq = (a, b) => a.global === b.global && a.client === b.client && a.rebaseGeneration === b.rebaseGeneration
const seqLess = (a, b) =>
  a.global !== b.global ? a.global < b.global : a.client !== b.client ? a.client < b.client : a.rebaseGeneration < b.rebaseGeneration
const seqText = (s) => `e${s.global}${s.client ? `.${s.client}` : ''}${s.rebaseGeneration ? `r${s.rebaseGeneration}` : ''}`

/**
 * Boots a persisted session: identity, the tab's worker (it may become the
 * leader, or wait behind another tab's), hello until a leader sends a snapshot.
 * Resolves with { link, session, ids }, or with { fallback: reason, ids } when
 * this browser cannot persist (the caller then runs in memory).
 */
export async function bootPersisted({ schema, storeId, clientId, sessionId, adapter, wasmSource, onStatus, syncPayload }) {
  const missing = missingFeature()
  if (missing) {
    // In memory, but the same identity as when persisted (no session lock without Web Locks).
    const ids = {
      storeId,
      clientId: clientId ?? storedId('localStorage', `livestore-rs:${storeId}:clientId`),
      sessionId: sessionId ?? storedId('sessionStorage', `livestore-rs:${storeId}:sessionId`),
    }
    return { fallback: missing, ids }
  }
  if (typeof wasm.WasmSession?.fromSnapshot !== 'function') {
    throw new LiveStoreError('UNSUPPORTED', 'this build of livestore-rs has no persistence (WasmSession.fromSnapshot is missing)')
  }
  // The slow parts start first: the worker's script loads and the module
  // compiles (once, here: the worker gets the compiled module) while the
  // identity is resolved. The worker is told the store at once, so that it
  // takes the store's lock meanwhile; the module and the identity follow.
  const worker = startWorker(adapter.worker, storeId)
  const module = compileWasm(wasmSource)
  module.catch(() => {}) // a failure rejects the boot below
  const fingerprint = schemaFingerprint(schema)
  worker.postMessage({ type: 'init', storeId, schema: fingerprint, unknownEvents: adapter.unknownEvents, syncPayload })
  let identity
  try {
    identity = await resolveIdentity(storeId, { clientId, sessionId })
  } catch (e) {
    worker.terminate()
    throw e
  }
  const { ids, releaseSessionLock } = identity
  onStatus({ stage: 'loading' })
  let channel
  const abort = new AbortController()
  try {
    channel = new BroadcastChannel(channelName(storeId))
    const snapshot = waitForSnapshot({ fingerprint, worker, channel, ids, onStatus, module, signal: abort.signal })
    // While the leader opens, this thread parses the schema (fromSnapshot then finds it parsed).
    // It waits a task first: messages posted to a worker before its script
    // has run are handed over by this thread, once it is free, and the
    // worker's path (OPFS, the leader's open) is the longer one.
    const ready = module
      .then((m) => new Promise((resolve) => setTimeout(() => resolve(m), 0)))
      .then(initWasm)
      .then(() => wasm.prepareSchema?.(schema.desc))
    const [first] = await Promise.all([snapshot, ready]).catch((e) => {
      abort.abort(e)
      throw e
    })
    if (first.fallback) {
      worker.terminate()
      channel.close()
      releaseSessionLock()
      return { fallback: first.fallback, ids }
    }
    onStatus({ stage: 'syncing' })
    const options = { ...ids, onRebase: schema.onRebase, syncHead: first.syncHead }
    const session = wasm.WasmSession.fromSnapshot(schema.desc, schema.materializers, options, first.bytes, first.head)
    const link = new LeaderLink({ ids, worker, channel, session, releaseSessionLock, buffered: first.buffered, final: first.syncHead, generation: first.generation, direct: first.direct })
    return { link, session, ids }
  } catch (e) {
    worker.terminate()
    channel?.close()
    releaseSessionLock()
    throw e
  }
}

/**
 * Sends the worker its init message and says hello on the channel until a
 * leader answers with a snapshot for this session. The first tab's own worker
 * may still be booting: its `leader` broadcast triggers another hello.
 */
function waitForSnapshot({ fingerprint, worker, channel, ids, onStatus, module, signal }) {
  const { storeId, sessionId } = ids
  return new Promise((resolve, reject) => {
    let lastStage = 'loading' // bootPersisted said so already
    let timer
    // Channel messages until LeaderLink listens. Those from before the snapshot
    // too: the own worker's snapshot comes on another path (its port), which
    // what the leader broadcast after it may overtake. LeaderLink skips what
    // the snapshot already holds.
    const buffered = []
    let snapshot
    const accept = (m, direct) => {
      snapshot = m
      done({ bytes: m.bytes, head: m.head, syncHead: m.syncHead, generation: m.generation, buffered, direct })
    }
    const hello = () => channel.postMessage({ type: 'hello', storeId, sessionId, schema: fingerprint })
    const done = (value, error) => {
      clearInterval(timer)
      worker.onerror = null
      // Keep buffering until LeaderLink takes over (it replaces onmessage):
      // from the own worker's port if the snapshot came that way (the leader
      // then speaks to this session there only), else from the channel.
      const keep = value && !value.fallback ? (e) => buffered.push(e.data) : null
      worker.onmessage = value?.direct ? keep : null
      channel.onmessage = value?.direct ? null : keep
      if (error) reject(error)
      else resolve(value)
    }
    worker.onmessage = (e) => {
      const m = e.data
      if (m?.type === 'status') {
        // The leader's own 'done' is not ours: the session still needs its snapshot.
        const s = m.status
        if (s.stage === 'done' || (s.stage === lastStage && s.stage !== 'rehydrating')) return
        lastStage = s.stage
        onStatus(s)
      } else if (m?.type === 'snapshot' && m.to === sessionId && !snapshot) {
        accept(m, true) // from this tab's worker, leading: sent unasked
      } else if (m?.type === 'fatal') {
        if (m.code === 'OPFS_UNAVAILABLE') done({ fallback: `the leader could not open OPFS: ${m.message}` })
        else done(undefined, new LiveStoreError(m.code ?? 'LEADER_FAILED', `the leader worker of store '${storeId}' failed: ${m.message}`))
      }
    }
    worker.onerror = (e) => {
      e.preventDefault?.()
      done(undefined, new LiveStoreError('WORKER_FAILED', `the leader worker of store '${storeId}' could not start: ${e.message || 'script error'} (check the worker option of makePersistedAdapter)`))
    }
    channel.onmessage = (e) => {
      const m = e.data
      if (m?.storeId !== storeId) return
      if (snapshot) buffered.push(m)
      else if (m.type === 'snapshot' && m.to === sessionId) accept(m, false)
      else if (m.type === 'error' && m.to === sessionId && m.code === 'SCHEMA_MISMATCH') {
        done(undefined, new LiveStoreError('SCHEMA_MISMATCH', m.message))
      } else {
        buffered.push(m)
        if (m.type === 'leader') hello()
      }
    }
    signal?.addEventListener('abort', () => done(undefined, signal.reason))
    // The worker has its `init` (bootPersisted); it only instantiates the module compiled here.
    module.then((wasm) => signal?.aborted || worker.postMessage({ type: 'module', wasm, clientId: ids.clientId, sessionId }), () => {})
    hello()
    let waited = 0
    timer = setInterval(() => {
      hello()
      // Boot has no deadline (a rebuild of a long log takes its time), but say why it waits.
      if ((waited += HELLO_RETRY_MS) === 15_000 && lastStage === 'loading') console.warn(`[livestore-rs] store '${storeId}': still waiting for its leader after 15 s (is the leader tab busy, or running an older version of the app?)`)
    }, HELLO_RETRY_MS)
  })
}

/**
 * The session's side of the protocol, once booted. Commits stay synchronous on
 * the session; pending events go to the leader in batches, one push in flight
 * at a time. Whatever the leader appends comes back as `events` to every
 * session (own events are then confirmed, others' applied, with a rebase of
 * pending ones if needed).
 */
export class LeaderLink {
  #ids
  #worker
  #channel
  #session
  #releaseSessionLock
  #hooks = null // set by attach(): { run, changed, report, reset }
  #queue // messages that came before attach()
  #inFlight = null // seqNum of the last event of the push in flight
  #pulling = false
  #pushScheduled = false
  #flushWaiters = []
  #requests = new Map() // id → { resolve, reject, message }
  #nextRequest = 1
  #stalled = null // an error that stops syncing
  #failure = null // the leader's answer to a failed push, until we pulled what it has
  #final // the leader's sync head: the log up to here is never rewritten
  #generation // the leader's rebase generation this session is in step with
  #syncStatus = null // the leader's last sync status
  #closed = false
  #stopSavingUnflushed
  #direct // the leader is this tab's own worker, spoken to over its port (not the channel)

  constructor({ ids, worker, channel, session, releaseSessionLock, buffered, final, generation, direct = false }) {
    this.#direct = direct
    this.#final = final
    this.#generation = generation
    this.#ids = ids
    this.#worker = worker
    this.#channel = channel
    this.#session = session
    this.#releaseSessionLock = releaseSessionLock
    this.#queue = buffered
    if (!direct) channel.onmessage = (e) => this.#receive(e.data)
    worker.onmessage = (e) => this.#fromWorker(e.data)
    this.#stopSavingUnflushed = saveUnflushedOnPageHide({
      storeId: ids.storeId,
      sessionId: ids.sessionId,
      pending: () => (this.#closed ? [] : this.#session.pending()),
      report: (e) => this.#report(e, 'persist'),
    })
  }

  /** Connects the link to its store; messages received so far are handled now. */
  attach(hooks) {
    this.#hooks = hooks
    const queued = this.#queue
    this.#queue = undefined
    for (const m of queued) this.#receive(m)
    this.#schedulePush()
  }

  /** After a commit: push soon (a synchronous burst of commits becomes one batch). */
  onCommit() {
    this.#schedulePush()
  }

  /** Resolves once every event committed so far is in the leader's eventlog (durable). */
  flush() {
    if (this.#stalled) return Promise.reject(this.#stalled)
    if (this.#session.pendingCount === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.#flushWaiters.push({ resolve, reject })
      this.#schedulePush()
    })
  }

  /**
   * Asks the leader for something (export, reset, a page of the eventlog);
   * resolves with its answer. With `timeoutMs`, gives up after it (a leader
   * of an older version of the app may not know the request).
   */
  request(message, { timeoutMs } = {}) {
    if (this.#closed) return Promise.reject(new LiveStoreError('STORE_CLOSED', 'the store is closed'))
    return new Promise((resolve, reject) => {
      const id = this.#nextRequest++
      const full = { ...message, storeId: this.#ids.storeId, sessionId: this.#ids.sessionId, id }
      let timer
      const done = (fn) => (value) => {
        clearTimeout(timer)
        fn(value)
      }
      this.#requests.set(id, { resolve: done(resolve), reject: done(reject), message: full })
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#requests.delete(id)
          reject(new LiveStoreError('TIMEOUT', `the leader of store '${this.#ids.storeId}' did not answer '${message.type}' within ${timeoutMs} ms`))
        }, timeoutMs)
      }
      this.#post(full)
    })
  }

  /** Flushes (unless told not to), then stops the worker (its lock goes to the next tab) and leaves the channel. */
  async close({ flush = true } = {}) {
    if (this.#closed) return
    if (flush) await this.flush().catch(() => {}) // failures were reported through onError
    this.#closed = true
    this.#stopSavingUnflushed()
    this.#channel.onmessage = null
    this.#channel.close()
    let timer
    const closed = new Promise((resolve) => {
      this.#worker.onmessage = (e) => e.data?.type === 'closed' && resolve()
      timer = setTimeout(resolve, 2000)
    })
    // A graceful close releases the OPFS handles at once, so the next leader need not wait for them.
    this.#worker.postMessage({ type: 'close' })
    await closed
    clearTimeout(timer)
    this.#worker.terminate()
    this.#releaseSessionLock()
    const err = new LiveStoreError('STORE_CLOSED', `store '${this.#ids.storeId}' was closed`)
    for (const r of this.#requests.values()) r.reject(err)
    this.#requests.clear()
    this.#settleFlush(err)
  }

  // ---- protocol ----------------------------------------------------------

  #post(message) {
    if (this.#closed) return
    if (this.#direct) this.#worker.postMessage(message)
    else this.#channel.postMessage(message)
  }

  #fromWorker(m) {
    if (m?.type === 'fatal') {
      // The own worker failed (while leading, or when it became leader later
      // on): its lock is free, and the next leader speaks on the channel.
      if (this.#direct) {
        this.#direct = false
        this.#channel.onmessage = (e) => this.#receive(e.data)
      }
      this.#report(new LiveStoreError(m.code ?? 'LEADER_FAILED', `the leader worker failed: ${m.message}`), 'leader')
    } else if (this.#direct) this.#receive(m)
  }

  #receive(m) {
    if (this.#closed || m?.storeId !== this.#ids.storeId) return
    if (this.#queue) {
      this.#queue.push(m)
      return
    }
    const me = this.#ids.sessionId
    switch (m.type) {
      case 'events':
        this.#applyUpstream(m.events)
        break
      case 'rewrite':
        this.#applyUpstream(m.events, m.base, m.generation)
        break
      case 'pulled':
        if (m.to !== me) return
        this.#pulling = false
        this.#applyUpstream(m.events, m.base, m.generation)
        if (this.#failure) this.#pushFailed()
        break
      case 'snapshot':
        // The leader's log was rewritten where this session cannot roll back: start from its state again.
        if (m.to !== me || !m.again) return
        this.#pulling = false
        this.#inFlight = null
        this.#resetTo(m)
        break
      case 'sync':
        this.#syncStatus = m.status
        this.#setFinal(m.status.syncHead)
        this.#hooks.syncStatus(this.syncStatus)
        break
      case 'syncError': {
        const e = m.error
        this.#report(new LiveStoreError(e.code, e.message, { event: e.event, seqNum: e.seqNum }), 'sync')
        break
      }
      case 'rejected': {
        if (m.to !== me) return
        this.#inFlight = null
        const upstream = this.#session.upstreamHead
        if (seqLess(m.head, upstream)) {
          // The leader lost events this session saw as durable (its data was deleted
          // behind our back): pushing on top of its head would rewrite history.
          this.#stall(new LiveStoreError('LEADER_BEHIND', `the leader's eventlog ends at ${seqText(m.head)}, before ${seqText(upstream)} that this session already has: its local data was deleted; reload the page`))
        } else if (seqEq(m.head, upstream) && (m.generation === undefined || m.generation === this.#generation)) {
          this.#schedulePush() // already rebased on what we pulled meanwhile
        } else this.#requestPull() // behind, or behind a rewrite: the answer brings the generation too
        break
      }
      case 'leader':
        // A new leader: whatever was in flight to the old one may be lost. Catch up
        // (what the old leader appended is durable), then push what is still pending.
        this.#inFlight = null
        this.#pulling = false
        this.#requestPull()
        for (const r of this.#requests.values()) this.#post(r.message)
        break
      case 'error':
        if (m.to !== me) return
        if (m.id !== undefined) this.#answer(m.id, null, new LiveStoreError(m.code ?? 'LEADER_FAILED', m.message))
        else {
          // Before rolling back, learn what the leader did persist (it may have
          // failed after appending): only what it does not have is undone.
          this.#inFlight = null
          this.#failure = m
          this.#pulling = false
          this.#requestPull()
        }
        break
      case 'exported':
        if (m.to === me) this.#answer(m.id, { eventlog: m.eventlog, state: m.state })
        break
      case 'unflushedChecked':
        if (m.to === me) this.#answer(m.id, { missing: m.missing })
        break
      case 'eventlogPage':
        if (m.to === me) this.#answer(m.id, { events: m.events, head: m.head, syncHead: m.syncHead, phase: m.phase })
        break
      case 'resetDone': {
        // The store's local data was deleted: this session's state describes nothing that exists any more.
        let asked = false
        for (const [id, r] of this.#requests) {
          if (r.message.type === 'reset' || r.message.type === 'import') {
            asked = true
            this.#answer(id, undefined)
          }
        }
        this.#hooks.reset(asked)
        break
      }
    }
  }

  #answer(id, value, error) {
    const r = this.#requests.get(id)
    if (!r) return
    this.#requests.delete(id)
    if (error) r.reject(error)
    else r.resolve(value)
  }

  /** What the session reports of sync: the leader's status plus this tab's events not yet at the leader. */
  get syncStatus() {
    const s = this.#syncStatus
    const local = this.#session.pendingCount
    if (!s) return { enabled: false, online: false, phase: 'disabled', pending: local, head: this.#session.upstreamHead, upstreamHead: this.#final ?? null }
    return {
      enabled: s.phase !== 'disabled',
      online: s.phase === 'live',
      phase: s.phase,
      pending: s.pending + local,
      head: s.head,
      upstreamHead: s.syncHead,
      backendId: s.backendId,
      error: s.stopped ? new LiveStoreError(s.stopped.code, s.stopped.message) : undefined,
    }
  }

  #setFinal(seq) {
    if (!seq) return
    this.#final = seq
    try {
      this.#session.setFinal(seq)
    } catch (e) {
      this.#report(e, 'sync')
    }
  }

  #resetTo(m) {
    let result
    try {
      result = this.#hooks.run(() => this.#session.resetToSnapshot(m.bytes, m.head))
    } catch (e) {
      return this.#report(e, 'pull')
    }
    this.#setFinal(m.syncHead)
    this.#generation = m.generation
    this.#afterPull(result, [])
  }

  /**
   * Events the leader appended (a broadcast, or the answer to a pull); with
   * `base`, the leader's whole log after `base`, which it rewrote (a rebase on
   * the sync server's events).
   */
  /** `events`: records, or their JSON text (a rewrite from the leader's sync). */
  #applyUpstream(events, base, generation) {
    if ((typeof events === 'string' ? events === '[]' : !events?.length) && !base) return this.#schedulePush()
    let result
    try {
      result = this.#hooks.run(() => (base ? this.#session.pullReplacing(base, events) : this.#session.pull(events)))
      if (generation !== undefined) this.#generation = generation
    } catch (e) {
      // A gap (we missed a broadcast, e.g. while the leader changed): ask for what follows our head.
      if (e?.code === 'INVALID_UPSTREAM' || e?.code === 'SNAPSHOT_NEEDED') return this.#requestPull(e.code === 'SNAPSHOT_NEEDED')
      return this.#report(e, 'pull')
    }
    this.#afterPull(result, events)
  }

  #afterPull(result, events) {
    this.#hooks.changed(result.changed)
    for (const { event, error } of result.dropped ?? []) {
      this.#report(
        new LiveStoreError('EVENT_DROPPED', `event '${event.name}' (${seqText(event.seqNum)}) no longer applies after another tab's events came first, and was dropped: ${error?.message ?? error}`, {
          event: event.name,
          cause: error,
        }),
        'rebase',
      )
    }
    const me = this.#ids.sessionId
    if (this.#inFlight && typeof events === 'string') events = JSON.parse(events)
    if (this.#inFlight && events.some((e) => e.sessionId === me && seqEq(e.seqNum, this.#inFlight))) this.#inFlight = null
    this.#schedulePush()
  }

  /** Asks the leader for what follows this session's head (or, with `snapshot`, for its state again). */
  #requestPull(snapshot = false) {
    if (this.#pulling || this.#stalled) return
    this.#pulling = true
    const { storeId, sessionId } = this.#ids
    if (snapshot) this.#post({ type: 'hello', storeId, sessionId, again: true })
    else this.#post({ type: 'pull', storeId, sessionId, after: this.#session.upstreamHead, final: this.#final, generation: this.#generation })
  }

  /**
   * The leader could not persist our batch (e.g. the storage quota is full):
   * the events it does not have cannot be kept, so every pending one (later
   * ones build on them) is rolled back and the failure reported.
   */
  #pushFailed() {
    const m = this.#failure
    this.#failure = null
    const count = this.#session.pendingCount
    if (count === 0) {
      // The leader has every event (it failed after appending them): nothing to undo.
      return this.#report(new LiveStoreError(m.code ?? 'PUSH_FAILED', `the leader stored this tab's events but then failed: ${m.message}`), 'persist')
    }
    let changed
    try {
      changed = this.#hooks.run(() => this.#session.rollback(count))
    } catch (e) {
      this.#report(e, 'rollback')
    }
    if (changed) this.#hooks.changed(changed)
    const err = new LiveStoreError(m.code ?? 'PUSH_FAILED', `the leader could not persist this tab's events; the ${count} not persisted were rolled back: ${m.message}`)
    this.#report(err, 'persist')
    this.#settleFlush(err)
  }

  #stall(err) {
    this.#stalled = err
    this.#report(err, 'persist')
    this.#settleFlush(err)
  }

  #schedulePush() {
    if (this.#pushScheduled) return
    this.#pushScheduled = true
    queueMicrotask(() => {
      this.#pushScheduled = false
      this.#pushNow()
    })
  }

  #pushNow() {
    if (this.#closed || !this.#hooks || this.#inFlight || this.#pulling || this.#stalled) return
    const batch = this.#session.pendingBatch(MAX_BATCH)
    if (batch === undefined) return this.#settleFlush()
    this.#inFlight = batch.last
    this.#post({ type: 'push', storeId: this.#ids.storeId, sessionId: this.#ids.sessionId, batch: batch.json, generation: this.#generation })
  }

  #settleFlush(error) {
    const waiters = this.#flushWaiters
    if (!waiters.length) return
    this.#flushWaiters = []
    for (const w of waiters) error ? w.reject(error) : w.resolve()
  }

  #report(error, phase) {
    if (this.#hooks) this.#hooks.report(error, { phase })
    else console.error('[livestore-rs]', error)
  }
}

/**
 * Deletes the local data (eventlog and state in OPFS) of a store. If a leader
 * is running in some tab, it is asked to do it (its sessions then close);
 * otherwise it is done here, under the store's lock.
 */
export async function resetPersistence(options) {
  if (!isPlainObject(options) || typeof options.storeId !== 'string' || options.storeId === '') {
    throw optionError('resetPersistence: expected { storeId }')
  }
  const { storeId, timeoutMs = 10_000 } = options
  if (missingFeature()) return // nothing can have been persisted
  const release = await tryLock(lockName(storeId))
  if (release) {
    // No leader is running, so no worker holds the files open. WasmLeader.reset
    // needs a worker (the OPFS pool); here the store's directory is removed directly.
    try {
      const root = await navigator.storage.getDirectory()
      const dir = await root.getDirectoryHandle('.livestore-rs').catch(() => null)
      await dir?.removeEntry(storeId, { recursive: true }).catch((e) => {
        if (e?.name !== 'NotFoundError') throw e
      })
    } finally {
      release()
    }
    return
  }
  // A leader holds the lock: ask it, and wait for its `resetDone` broadcast.
  const channel = new BroadcastChannel(channelName(storeId))
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new LiveStoreError('TIMEOUT', `resetPersistence: the leader of store '${storeId}' did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      )
      channel.onmessage = (e) => {
        if (e.data?.storeId === storeId && e.data.type === 'resetDone') {
          clearTimeout(timer)
          resolve()
        }
      }
      channel.postMessage({ type: 'reset', storeId, sessionId: `reset-${randomId()}`, id: 0 })
    })
  } finally {
    channel.close()
  }
}
