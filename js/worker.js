// The leader worker (`livestore-rs/worker`): every tab of a persisted store
// starts one; the one that holds the store's Web Lock is the leader. It owns
// the store's files in OPFS (WasmLeader: eventlog + state) and serves every
// session over the store's BroadcastChannel (docs/ARCHITECTURE.md, "Persistence
// and tabs"). The others wait for the lock: when the leader's tab closes or
// crashes, the browser releases it and the next worker takes over.
//
//   // livestore.worker.ts
//   import { makeWorker } from 'livestore-rs/worker'
//   import { schema } from './schema'
//   makeWorker({ schema })

import * as wasm from './livestore_rs.js' // a namespace: WasmLeader is looked up when used
import { initWasm } from './wasm.js'
import { isSchema } from './schema.js'
import { LiveStoreError, describe, isPlainObject } from './util.js'
import { channelName, lockName, schemaFingerprint } from './persist.js'
import { missingEvents } from './unflushed.js'
import { SyncSocket } from './sync-socket.js'

/** Events per page when reading the eventlog for a pull. */
const PULL_PAGE = 1000
/** Most events in one devtools page of the eventlog. */
const DEVTOOLS_PAGE_MAX = 500
/** How long a new leader retries opening while the previous one's OPFS handles are still being released. */
const OPEN_RETRY_MS = 10_000

const UNKNOWN_EVENTS = ['warn', 'ignore', 'fail']

/**
 * Runs the leader side of a persisted store in this dedicated worker. Call it
 * once, at the top of the worker module; the main thread's createStore sends
 * the init message.
 */
export function makeWorker(options) {
  if (!isPlainObject(options) || !isSchema(options.schema)) {
    throw new LiveStoreError('INVALID_OPTIONS', `makeWorker: expected { schema } with a schema from makeSchema(...), got ${describe(options)}`)
  }
  if (options.unknownEvents !== undefined && !UNKNOWN_EVENTS.includes(options.unknownEvents)) {
    throw new LiveStoreError('INVALID_OPTIONS', `makeWorker: unknownEvents must be one of ${UNKNOWN_EVENTS.join(', ')}`)
  }
  const sync = options.sync
  if (sync !== undefined && (!isPlainObject(sync) || !['string', 'function'].includes(typeof sync.url))) {
    throw new LiveStoreError('INVALID_OPTIONS', `makeWorker: sync must be { url } with the sync server's WebSocket URL (e.g. 'ws://127.0.0.1:8787') or a function ({ storeId, syncPayload }) => url, got ${describe(sync)}`)
  }
  const scope = globalThis
  // The first OPFS call of a context is slower than the next ones: made now,
  // while the page compiles the module, not when the leader opens its files.
  scope.navigator?.storage?.getDirectory?.().catch(() => {})
  let worker
  scope.addEventListener('message', (e) => {
    const m = e.data
    if (m?.type === 'init' && !worker) {
      worker = new LeaderWorker(options, m, (msg, transfer) => scope.postMessage(msg, transfer))
      worker.start().catch((err) => worker.fatal(err))
    } else if (m?.type === 'module') {
      worker?.moduleArrived(m)
    } else if (m?.type === 'close') {
      if (worker) worker.close()
      else scope.postMessage({ type: 'closed' })
    } else {
      worker?.fromOwnTab(m)
    }
  })
}

class LeaderWorker {
  #schema
  #fingerprint
  #unknownEvents
  #storeId
  #wasmSource // a promise of what initWasm loads
  #moduleArrived
  #toTab // postMessage to this worker's own tab
  #channel
  #leader = null // the open WasmLeader while this worker leads
  #syncOption
  #init
  #sync = null // SyncSocket while leading with sync configured
  #syncStatus = '' // the last status broadcast (JSON), to send only changes
  #statusScheduled = false
  #abort = new AbortController() // cancels the wait for the lock on close
  #release // ends the lock callback: the lock goes to the next worker
  #closed = false
  #greeted // the own tab's session, sent its snapshot unasked (its next hello is answered already)
  #own // that session's id: it and this leader speak over the worker's port, not the channel

  constructor(options, init, toTab) {
    this.#schema = options.schema
    this.#fingerprint = schemaFingerprint(options.schema)
    this.#unknownEvents = init.unknownEvents ?? options.unknownEvents ?? 'warn'
    this.#storeId = init.storeId
    this.#toTab = toTab
    // The tab sends `init` at once, then its compiled module and its identity
    // (`module`); an `init` that has `wasm` carries them itself.
    this.#wasmSource = 'wasm' in init ? Promise.resolve(init.wasm) : new Promise((resolve) => (this.#moduleArrived = resolve))
    this.#syncOption = options.sync
    this.#init = init
  }

  /** `{ wasm, clientId, sessionId }` from the tab (after `init`). */
  moduleArrived({ wasm, clientId, sessionId }) {
    this.#init = { ...this.#init, clientId, sessionId }
    this.#moduleArrived?.(wasm)
  }

  async start() {
    // The lock is requested while the tab compiles the module, which is then instantiated.
    const loaded = this.#wasmSource.then(initWasm).then(() => {
      if (typeof wasm.WasmLeader?.open !== 'function') {
        throw new LiveStoreError('UNSUPPORTED', 'this build of livestore-rs has no WasmLeader')
      }
    })
    // Held for the worker's lifetime: the browser frees it when the worker ends
    // (tab closed, crashed, or terminate()), and the next tab's worker gets it.
    const name = lockName(this.#storeId)
    const lead = (greet) => async () => {
      await loaded
      return this.#lead(greet)
    }
    // Free at once: this tab's session is booting with this leader (and gets its snapshot unasked).
    const led = navigator.locks
      .request(name, { ifAvailable: true }, (lock) => (lock ? lead(true)() : 'taken'))
      .then((r) => r === 'taken' && navigator.locks.request(name, { signal: this.#abort.signal }, lead(false)))
      .catch((err) => {
        if (err?.name !== 'AbortError') throw err
      })
    await loaded // a module that cannot load is fatal at once, not once this worker leads
    await led
  }

  async #lead(greet) {
    if (this.#closed) return
    const held = new Promise((resolve) => (this.#release = resolve))
    this.#leader = await this.#open()
    if (this.#closed) {
      this.#leader.close()
      this.#leader = null
      return
    }
    this.#channel = new BroadcastChannel(channelName(this.#storeId))
    this.#channel.onmessage = (e) => this.#serve(e.data)
    this.#startSync()
    if (greet) this.#snapshotForOwnTab()
    this.#send({ type: 'leader', status: this.#report() })
    await held
  }

  /**
   * The own tab's session said hello before this leader listened: its
   * snapshot goes out now, saving the round trip of the `leader` broadcast
   * and a second hello. Only for the same schema (else its hello gets the error).
   */
  #snapshotForOwnTab() {
    const { sessionId, schema } = this.#init
    if (typeof sessionId !== 'string' || schema !== this.#fingerprint) return
    try {
      const { bytes, head, syncHead } = this.#leader.snapshot()
      const message = { type: 'snapshot', to: sessionId, bytes, head, syncHead, generation: this.#leader.rebaseGeneration, again: false, storeId: this.#storeId }
      this.#toTab(message, [bytes.buffer]) // the tab's own port: the bytes move, no copy
      this.#greeted = sessionId
      // From now on the own tab's session talks over the port: a message
      // between threads of one tab, not a BroadcastChannel's round trip through
      // the browser process (about a quarter of a millisecond each way).
      this.#own = sessionId
      this.#syncStatus = '' // the new session needs to hear it
      this.#scheduleStatus()
    } catch {
      // It asks again with a hello.
    }
  }

  #startSync() {
    if (!this.#syncOption) return
    const { storeId, clientId, syncPayload } = this.#init
    const url = typeof this.#syncOption.url === 'function' ? this.#syncOption.url({ storeId, syncPayload }) : this.#syncOption.url
    if (!url) return // the app's url function chose not to sync this store
    const token = typeof syncPayload === 'string' ? syncPayload : syncPayload?.token
    this.#leader.startSync({ storeId, clientId, token: typeof token === 'string' ? token : undefined })
    this.#sync = new SyncSocket({
      leader: this.#leader,
      url: String(url),
      on: {
        rewrites: (list) => {
          for (const r of list) {
            this.#send({ type: 'rewrite', base: r.base, events: r.eventsJson, generation: this.#leader.rebaseGeneration })
            for (const { event, error } of r.dropped) this.#syncError({ code: 'EVENT_DROPPED', message: `event '${event.name}' (${event.seqNum.global}) no longer applies after the server's events and was dropped: ${error?.message ?? error}`, event: event.name, seqNum: event.seqNum, sessionId: event.sessionId })
          }
        },
        errors: (list) => {
          for (const e of list) this.#syncError({ code: e.code ?? 'SYNC_FAILED', message: String(e.message ?? e), event: e.event, seqNum: e.seqNum })
        },
        status: () => this.#scheduleStatus(),
      },
    })
  }

  #syncError(error) {
    this.#send({ type: 'syncError', error })
  }

  /** Broadcasts the sync status once per task, and only when it changed. */
  #scheduleStatus() {
    if (this.#statusScheduled) return
    this.#statusScheduled = true
    setTimeout(() => {
      this.#statusScheduled = false
      const status = this.#leader?.syncStatus
      if (!status) return
      const text = JSON.stringify({ ...status, stopped: status.stopped && { code: status.stopped.code, message: status.stopped.message } })
      if (text === this.#syncStatus) return
      this.#syncStatus = text
      this.#send({ type: 'sync', status: JSON.parse(text) })
    }, 0)
  }

  /** Opens the leader, retrying while the previous leader's OPFS access handles are not released yet. */
  async #open() {
    const onStatus = (status) => this.#toTab({ type: 'status', status })
    const deadline = Date.now() + OPEN_RETRY_MS
    for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
      try {
        const leader = await wasm.WasmLeader.open(this.#schema.desc, this.#schema.materializers, {
          storeId: this.#storeId,
          unknownEvents: this.#unknownEvents,
          onStatus,
          onRebase: this.#schema.onRebase,
        })
        const unknown = leader.bootReport?.unknown ?? []
        if (unknown.length && this.#unknownEvents === 'warn') {
          console.warn(`[livestore-rs] store '${this.#storeId}': the eventlog has events this schema does not know (written by a newer app?); they were skipped: ${unknown.join(', ')}`)
        }
        return leader
      } catch (err) {
        // The previous leader's files are still open (its worker is being torn
        // down): wait for them. Anything else (no OPFS, a failing rebuild) is final.
        const busy = err?.code === 'OPFS_BUSY'
        if (!busy || this.#closed) throw err
        if (Date.now() + delay > deadline) {
          // Not OPFS_UNAVAILABLE: falling back to memory would hide the data this store has.
          throw new LiveStoreError('OPFS_BUSY', `the files of store '${this.#storeId}' stayed in use by another context for ${OPEN_RETRY_MS} ms: ${err.message}`)
        }
        await new Promise((r) => setTimeout(r, delay))
      }
    }
  }

  #report() {
    const r = this.#leader?.bootReport
    return r ? { rebuilt: r.rebuilt, caughtUp: r.caughtUp, unknown: r.unknown } : undefined
  }

  /** To every session, or to the one of `message.to`: the own tab's over the port, the others over the channel. */
  #send(message) {
    const m = { ...message, storeId: this.#storeId }
    const own = this.#own
    if (own !== undefined && (m.to === undefined || m.to === own)) this.#toTab(m)
    if (own === undefined || m.to !== own) this.#channel?.postMessage(m)
  }

  /** A message of the own tab's session, over the worker's port. */
  fromOwnTab(m) {
    if (this.#own !== undefined && m?.sessionId === this.#own) this.#serve(m)
  }

  #serve(m) {
    const leader = this.#leader
    if (!leader || m?.storeId !== this.#storeId) return // resetting: sessions ask again on our `leader`
    const to = m.sessionId
    try {
      switch (m.type) {
        case 'hello': {
          if (to === this.#greeted && !m.again) {
            this.#greeted = undefined // its hello from before it got the snapshot sent unasked
            break
          }
          if (m.schema !== undefined && m.schema !== this.#fingerprint) {
            // Another version of the app: a snapshot of our tables would not fit its schema.
            this.#send({
              type: 'error',
              to,
              code: 'SCHEMA_MISMATCH',
              message: `store '${this.#storeId}' is open in another tab with another version of the app's schema (tables or events); close or reload the other tabs, then reload this one`,
            })
            break
          }
          const { bytes, head, syncHead } = leader.snapshot()
          this.#send({ type: 'snapshot', to, bytes, head, syncHead, generation: leader.rebaseGeneration, again: m.again === true })
          this.#syncStatus = '' // the new session needs to hear it
          this.#scheduleStatus()
          break
        }
        case 'push': {
          let result
          try {
            result = leader.push(m.batch, typeof m.generation === 'number' ? m.generation : undefined)
          } catch (err) {
            // Nothing of the batch was persisted (e.g. the quota is full): the session rolls it back.
            this.#send({ type: 'error', to, code: err?.code ?? 'PUSH_FAILED', message: String(err?.message ?? err) })
            break
          }
          if (result.accepted) {
            // To the server first: its round trip is the longer way.
            try {
              this.#sync?.localEvents()
            } finally {
              this.#send({ type: 'events', events: m.batch })
            }
          } else this.#send({ type: 'rejected', to, head: result.head, generation: leader.rebaseGeneration })
          break
        }
        case 'pull': {
          // A session that missed a rewrite of the log (a rebase) may hold events
          // that are no longer there: it gets the whole log after the last point
          // it knows is final, or a fresh snapshot.
          const generation = leader.rebaseGeneration
          const fromStart = m.after?.global === 0 && m.after?.client === 0
          const current = (fromStart || m.generation === generation) && leader.contains(m.after)
          if (!current && !(m.final && leader.contains(m.final))) {
            const { bytes, head, syncHead } = leader.snapshot()
            this.#send({ type: 'snapshot', to, bytes, head, syncHead, generation, again: true })
            break
          }
          const start = current ? m.after : m.final
          // All at once, so that no push is appended between two pages.
          const events = []
          for (let after = start; ; ) {
            const page = leader.eventsAfter(after, PULL_PAGE)
            events.push(...page)
            if (page.length < PULL_PAGE) break
            after = page[page.length - 1].seqNum
          }
          this.#send({ type: 'pulled', to, events, base: current ? undefined : start, generation })
          break
        }
        case 'export': {
          const { eventlog, state } = leader.exportFiles()
          this.#send({ type: 'exported', to, id: m.id, eventlog, state })
          break
        }
        case 'unflushed': {
          const missing = Array.isArray(m.events) && m.events.length > 0 ? missingEvents(leader, m.events, PULL_PAGE) : []
          this.#send({ type: 'unflushedChecked', to, id: m.id, missing })
          break
        }
        case 'eventlog': {
          // For devtools (a read): a page of the log from its end, and the sync head that tells synced from pending.
          const limit = Math.min(Math.max(Number(m.limit) || 0, 0), DEVTOOLS_PAGE_MAX)
          const events = leader.eventsBefore(m.before ?? undefined, limit)
          const { head, syncHead, phase } = leader.syncStatus
          this.#send({ type: 'eventlogPage', to, id: m.id, events, head, syncHead, phase })
          break
        }
        case 'reset':
          this.#reset().catch((err) => this.fatal(err))
          break
        case 'import':
          // The sessions' states describe the old eventlog: they close, as on reset.
          this.#sync?.close()
          this.#sync = null
          leader.importEventlog(m.eventlog)
          this.#send({ type: 'resetDone' })
          this.#startSync()
          break
      }
    } catch (err) {
      this.#send({ type: 'error', to, id: m.id ?? 0, code: err?.code ?? 'LEADER_FAILED', message: String(err?.message ?? err) })
    }
  }

  /** Deletes the store's files and starts over empty; every session is told and closes. */
  async #reset() {
    const leader = this.#leader
    this.#leader = null // messages meanwhile are ignored; sessions retry on `leader`
    this.#sync?.close()
    this.#sync = null
    leader.close()
    try {
      await wasm.WasmLeader.reset(this.#storeId)
    } finally {
      this.#send({ type: 'resetDone' })
      if (!this.#closed) {
        const fresh = await this.#open()
        if (this.#closed) fresh.close() // the own tab's store closed meanwhile
        else {
          this.#leader = fresh
          this.#startSync()
          this.#send({ type: 'leader', status: this.#report() })
        }
      }
    }
  }

  /** Closes the leader (releasing its OPFS handles) and the lock, then tells the tab. */
  close() {
    this.#closed = true
    this.#abort.abort()
    this.#sync?.close()
    this.#sync = null
    try {
      this.#leader?.close()
    } finally {
      this.#leader = null
      this.#channel?.close()
      this.#release?.()
      this.#toTab({ type: 'closed' })
    }
  }

  fatal(err) {
    console.error('[livestore-rs] leader worker:', err)
    this.#toTab({ type: 'fatal', code: err?.code ?? 'LEADER_FAILED', message: String(err?.message ?? err) })
    this.#sync?.close()
    this.#sync = null
    this.#release?.()
  }
}
