// The leader worker's connection to the sync server. The protocol logic is in
// the wasm core (src/sync.rs, reached through WasmLeader.sync*): this file owns
// the WebSocket, reconnects with exponential backoff and jitter, and hands
// what the core decides (rewrites of the log, errors, status) to the worker.

/** First reconnect delay; doubles per failed attempt up to MAX_DELAY_MS. */
const FIRST_DELAY_MS = 250
const MAX_DELAY_MS = 30_000

export class SyncSocket {
  #leader
  #url
  #on // { rewrites(list), errors(list), status() }
  #ws = null
  #attempt = 0
  #timer = null
  #stopped = false
  #closed = false
  #onOnline = () => this.#reconnectNow()

  constructor({ leader, url, on }) {
    this.#leader = leader
    this.#url = url
    this.#on = on
    globalThis.addEventListener?.('online', this.#onOnline)
    this.#connect()
  }

  /** Sessions' events were appended to the leader: push them. */
  localEvents() {
    if (this.#ws?.readyState === 1) this.#apply(this.#leader.syncLocal())
    this.#on.status()
  }

  close() {
    this.#closed = true
    clearTimeout(this.#timer)
    globalThis.removeEventListener?.('online', this.#onOnline)
    this.#ws?.close(1000)
    this.#ws = null
  }

  #connect() {
    if (this.#closed || this.#stopped) return
    let ws
    try {
      ws = new WebSocket(this.#url)
    } catch (e) {
      // A malformed URL: retrying cannot help.
      this.#stopped = true
      this.#on.errors([Object.assign(new Error(`the sync URL '${this.#url}' is not usable: ${e?.message ?? e}`), { name: 'LiveStoreError', code: 'INVALID_OPTIONS' })])
      return
    }
    this.#ws = ws
    ws.onopen = () => {
      if (this.#ws !== ws) return
      ws.send(this.#leader.syncConnected())
      this.#on.status()
    }
    ws.onmessage = (e) => {
      if (this.#ws !== ws) return
      if (typeof e.data !== 'string') return // the protocol is text frames only
      let outcome
      try {
        outcome = this.#leader.syncReceive(e.data)
      } catch (err) {
        // Storage failed while taking in the server's events: start over later.
        this.#on.errors([err])
        ws.close(1000)
        return
      }
      this.#apply(outcome)
      this.#on.status()
    }
    ws.onclose = () => {
      if (this.#ws !== ws) return
      this.#ws = null
      this.#leader.syncDisconnected()
      this.#on.status()
      this.#scheduleReconnect()
    }
    ws.onerror = () => {} // a close follows, with the reconnect
  }

  #apply(outcome) {
    for (const text of outcome.send) this.#ws?.send(text)
    if (outcome.rewrites.length) this.#on.rewrites(outcome.rewrites)
    if (outcome.errors.length) this.#on.errors(outcome.errors)
    if (outcome.stop) {
      this.#stopped = true
      this.#ws?.close(1000)
    } else if (outcome.reconnect) this.#ws?.close(1000)
    else if (this.#leader.syncStatus.phase === 'live') this.#attempt = 0
  }

  #scheduleReconnect() {
    if (this.#closed || this.#stopped || this.#timer) return
    const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.#attempt++)
    const delay = base / 2 + Math.random() * (base / 2) // jitter: clients of a restarted server do not come back at once
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#connect()
    }, delay)
  }

  /** The browser says the network is back: do not wait for the backoff. */
  #reconnectNow() {
    if (this.#ws || this.#closed || this.#stopped) return
    clearTimeout(this.#timer)
    this.#timer = null
    this.#attempt = 0
    this.#connect()
  }
}
