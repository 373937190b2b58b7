// The devtools responder: a store created with `createStore({ devtools: true })`
// answers the devtools page (www/devtools/) of the same origin over a
// BroadcastChannel. It only reads: tables, the eventlog, read-only SQL, the
// live queries and their run counts, the sync status, an export of the files.
//
// Protocol (channel DEVTOOLS_CHANNEL; docs/ARCHITECTURE.md, "Devtools"):
//   page  → all    { type: 'discover', page }
//   store → all    { type: 'store', responder, store: { storeId, clientId, sessionId, persisted, title, url } }
//   page  → store  { type: 'request', to: responder, page, id, method, params }
//   store → page   { type: 'response', responder, id, result } | { …, error: { code, message } }
//                  on the page's own channel replyChannelName(page), so big answers reach only it
//   store → all    { type: 'changed', responder }   after commits, pulls, sync status; throttled
//   store → all    { type: 'gone', responder }      the store closed or its page went away
//   page  → all    { type: 'bye', page }            the devtools page closes

import { LiveStoreError, decodeBySchema, randomId } from './util.js'

export const DEVTOOLS_CHANNEL = 'livestore-rs-devtools'
export const replyChannelName = (page) => `${DEVTOOLS_CHANNEL}:${page}`

/** Caps, so that a request never sends the whole database over the channel. */
export const LIMITS = Object.freeze({ rows: 200, sqlRows: 500, events: 200 })
/** Changes are announced only while a devtools page was heard from within this time. */
const WATCHED_MS = 30_000
/** At most one `changed` per this many ms. */
const NOTIFY_MS = 150
/** How long the leader may take to answer a page of the eventlog. */
const LEADER_TIMEOUT_MS = 5_000
/** Reply channels kept open (one per devtools page). */
const MAX_PAGES = 8

const ROOT = Object.freeze({ global: 0, client: 0, rebaseGeneration: 0 })
const seqLessOrEqual = (a, b) => a.global < b.global || (a.global === b.global && a.client <= b.client)
const isSeqNum = (s) => s != null && Number.isInteger(s.global) && Number.isInteger(s.client)

/**
 * Starts answering devtools requests for `store` (its `session`, reactive
 * `graph` and, when persisted, its LeaderLink `link`). Returns the responder;
 * the store calls `changed()` after every change and `close()` when it closes.
 */
export function startDevtools({ store, session, graph, link }) {
  if (typeof globalThis.BroadcastChannel !== 'function') {
    console.warn('[livestore-rs] devtools: BroadcastChannel is not available here; the devtools page cannot reach this store')
    return undefined
  }
  return new DevtoolsResponder({ store, session, graph, link })
}

export class DevtoolsResponder {
  #store
  #session
  #graph
  #link
  #id = randomId()
  #channel
  #replies = new Map() // page id → its BroadcastChannel
  #lastSeen = -Infinity // when a devtools page last spoke
  #notifyTimer
  #onPageHide
  #closed = false

  constructor({ store, session, graph, link }) {
    this.#store = store
    this.#session = session
    this.#graph = graph
    this.#link = link
    this.#channel = new BroadcastChannel(DEVTOOLS_CHANNEL)
    this.#channel.onmessage = (e) => this.#receive(e.data)
    // A page closing without store.close(): tell devtools at once.
    if (typeof globalThis.addEventListener === 'function') {
      this.#onPageHide = () => this.#post({ type: 'gone', responder: this.#id })
      globalThis.addEventListener('pagehide', this.#onPageHide)
    }
    this.#announce()
  }

  get id() {
    return this.#id
  }

  /** After a commit, a pull or a sync status change: devtools refreshes (if one is watching). */
  changed() {
    if (this.#closed || this.#notifyTimer !== undefined || Date.now() - this.#lastSeen > WATCHED_MS) return
    this.#notifyTimer = setTimeout(() => {
      this.#notifyTimer = undefined
      this.#post({ type: 'changed', responder: this.#id })
    }, NOTIFY_MS)
  }

  close() {
    if (this.#closed) return
    this.#post({ type: 'gone', responder: this.#id })
    this.#closed = true
    clearTimeout(this.#notifyTimer)
    if (this.#onPageHide) globalThis.removeEventListener('pagehide', this.#onPageHide)
    this.#channel.onmessage = null
    this.#channel.close()
    for (const c of this.#replies.values()) c.close()
    this.#replies.clear()
  }

  #post(message) {
    if (!this.#closed) this.#channel.postMessage(message)
  }

  #announce() {
    const s = this.#store
    const doc = globalThis.document
    this.#post({
      type: 'store',
      responder: this.#id,
      store: {
        storeId: s.storeId,
        clientId: s.clientId,
        sessionId: s.sessionId,
        persisted: s.persisted,
        title: doc?.title ?? '',
        url: globalThis.location?.href ?? '',
      },
    })
  }

  #receive(m) {
    if (this.#closed || typeof m?.type !== 'string') return
    if (m.type === 'discover') {
      this.#lastSeen = Date.now()
      this.#announce()
    } else if (m.type === 'bye') {
      this.#replies.get(m.page)?.close()
      this.#replies.delete(m.page)
    } else if (m.type === 'request' && m.to === this.#id && typeof m.page === 'string') {
      this.#lastSeen = Date.now()
      this.#answer(m)
    }
  }

  async #answer({ page, id, method, params }) {
    let reply
    try {
      reply = { result: await this.#handle(method, params ?? {}) }
    } catch (e) {
      reply = { error: { code: e?.code ?? 'DEVTOOLS_FAILED', message: String(e?.message ?? e) } }
    }
    if (this.#closed) return
    const message = { type: 'response', responder: this.#id, id, ...reply }
    try {
      this.#replyChannel(page).postMessage(message)
    } catch (e) {
      // Not cloneable (a value no structured clone takes): say so rather than leave the page waiting.
      this.#replyChannel(page).postMessage({ type: 'response', responder: this.#id, id, error: { code: 'DEVTOOLS_FAILED', message: String(e?.message ?? e) } })
    }
  }

  #replyChannel(page) {
    let c = this.#replies.get(page)
    if (!c) {
      if (this.#replies.size >= MAX_PAGES) {
        const [oldest, channel] = this.#replies.entries().next().value
        channel.close()
        this.#replies.delete(oldest)
      }
      c = new BroadcastChannel(replyChannelName(page))
      this.#replies.set(page, c)
    }
    return c
  }

  async #handle(method, params) {
    if (this.#store.isClosed) throw new LiveStoreError('STORE_CLOSED', `store '${this.#store.storeId}' is closed`)
    switch (method) {
      case 'tables':
        return this.#tables()
      case 'rows':
        return this.#rows(params)
      case 'eventlog':
        return this.#eventlog(params)
      case 'sql':
        return this.#sql(params)
      case 'liveQueries':
        return this.#graph.liveQueries().map(({ query, ...q }) => ({ ...q, query: describeQuery(query) }))
      case 'syncStatus':
        return plainSyncStatus(this.#store.syncStatus)
      case 'export':
        return this.#store.exportDatabase()
      default:
        throw new LiveStoreError('INVALID_ARGUMENT', `devtools: unknown request '${method}'`)
    }
  }

  /** Every table of the schema (client documents included) with its row count. */
  #tables() {
    return this.#store.schema.desc.tables.map((t) => ({
      name: t.name,
      clientDocument: t.clientDocument !== undefined,
      columns: t.columns.map((c) => ({ name: c.name, type: c.type, primaryKey: c.primaryKey === true })),
      count: this.#session.query({ kind: 'select', table: t.name, result: 'count' }),
    }))
  }

  #rows({ table, offset = 0, limit = 50 }) {
    const desc = this.#store.schema.desc.tables.find((t) => t.name === table)
    if (!desc) throw new LiveStoreError('UNKNOWN_TABLE', `devtools: the schema has no table '${table}'`)
    const lim = clamp(limit, 1, LIMITS.rows)
    const off = clamp(offset, 0, Number.MAX_SAFE_INTEGER)
    return {
      table,
      columns: desc.columns.map((c) => c.name),
      rows: this.#session.query({ kind: 'select', table, limit: lim, offset: off, result: 'rows' }),
      total: this.#session.query({ kind: 'select', table, result: 'count' }),
      offset: off,
      limit: lim,
    }
  }

  /**
   * Up to `limit` events before `before` (the newest first when it is absent),
   * each marked synced (at or below the leader's sync head) or pending.
   */
  async #eventlog({ before, limit = 50 }) {
    if (before != null && !isSeqNum(before)) throw new LiveStoreError('INVALID_ARGUMENT', 'devtools: before must be a seqNum')
    const lim = clamp(limit, 1, LIMITS.events)
    let page
    if (this.#link) {
      // The leader has the whole log (the session only what it saw since it booted).
      const r = await this.#link.request({ type: 'eventlog', before: before ?? undefined, limit: lim + 1 }, { timeoutMs: LEADER_TIMEOUT_MS })
      page = { source: 'leader', events: r.events, head: r.head, syncHead: r.syncHead, syncing: r.phase !== 'disabled' }
    } else {
      // In memory: the session's log is all there is, and nothing syncs.
      const log = this.#session.eventlog()
      const end = before ? log.findLastIndex((e) => !seqLessOrEqual(before, e.seqNum)) + 1 : log.length
      const events = log.slice(Math.max(0, end - lim - 1), end).reverse()
      page = { source: 'session', events, head: log.at(-1)?.seqNum ?? ROOT, syncHead: null, syncing: false }
    }
    const more = page.events.length > lim
    const defs = this.#store.schema.events
    const events = page.events.slice(0, lim).map((e) => {
      const def = defs.get(e.name)
      return {
        ...e,
        args: def ? decodeBySchema(def.schema, e.args) : e.args,
        synced: page.syncHead ? seqLessOrEqual(e.seqNum, page.syncHead) : false,
      }
    })
    return { ...page, events, more }
  }

  #sql({ sql }) {
    if (typeof sql !== 'string' || sql.trim() === '') throw new LiveStoreError('INVALID_ARGUMENT', 'devtools: give a SQL query to run')
    // The core refuses anything but a read (INVALID_QUERY): state changes only through events.
    const result = this.#session.query({ kind: 'sql', sql })
    const rows = Array.isArray(result) ? result : [result]
    return { columns: Object.keys(rows[0] ?? {}), rows: rows.slice(0, LIMITS.sqlRows), total: rows.length }
  }
}

function clamp(n, min, max) {
  const v = Math.trunc(Number(n))
  return Number.isFinite(v) ? Math.min(Math.max(v, min), max) : min
}

/** What a queryDb reads, in a line: its SQL, or its table and options. */
export function describeQuery(desc) {
  if (!desc) return ''
  if (desc.kind === 'sql') return desc.sql
  if (desc.kind === 'document') return `${desc.table} document ${JSON.stringify(desc.id)}`
  const { kind, table, result, ...rest } = desc
  const options = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : ''
  return `${table} ${result ?? 'rows'}${options}`
}

/** The sync status as the channel can carry it (the error as { code, message }). */
export function plainSyncStatus(s) {
  const { error, ...rest } = s
  return error ? { ...rest, error: { code: error.code, message: error.message } } : rest
}
