// The devtools page's side of the channel that stores created with
// `createStore({ devtools: true })` answer on (the package's devtools.js has
// the protocol). Plain browser APIs only, so the page works copied into any
// app's static files.

const CHANNEL = 'livestore-rs-devtools'
/** A store not heard from in this long is taken for gone (its tab closed without a word). */
const STALE_MS = 6_000

export class DevtoolsClient {
  #main
  #replies
  #page = [...crypto.getRandomValues(new Uint8Array(6))].map((b) => b.toString(16).padStart(2, '0')).join('')
  #waiting = new Map() // request id → { resolve, reject, timer }
  #nextId = 1
  #stores = new Map() // responder → { responder, storeId, clientId, sessionId, persisted, title, url, seenAt }
  #onStores
  #onChanged

  /** `onStores(list)` when the stores that answer change; `onChanged(responder)` after a store changed. */
  constructor({ onStores, onChanged }) {
    this.#onStores = onStores
    this.#onChanged = onChanged
    this.#main = new BroadcastChannel(CHANNEL)
    this.#replies = new BroadcastChannel(`${CHANNEL}:${this.#page}`)
    this.#main.onmessage = (e) => this.#receive(e.data)
    this.#replies.onmessage = (e) => this.#response(e.data)
  }

  get stores() {
    return [...this.#stores.values()]
  }

  /** Asks every store to say who it is (and keeps them announcing changes to us); forgets silent ones. */
  discover() {
    this.#main.postMessage({ type: 'discover', page: this.#page })
    const now = Date.now()
    let removed = false
    for (const [id, s] of this.#stores) {
      if (now - s.seenAt > STALE_MS) removed = this.#stores.delete(id)
    }
    if (removed) this.#onStores(this.stores)
  }

  /** One request to one store; rejects with an Error carrying the store's `code`. */
  request(responder, method, params = {}, { timeoutMs = 10_000 } = {}) {
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id)
        reject(Object.assign(new Error(`the store did not answer '${method}' within ${timeoutMs / 1000} s (is its tab still open?)`), { code: 'TIMEOUT' }))
      }, timeoutMs)
      this.#waiting.set(id, { resolve, reject, timer })
      this.#main.postMessage({ type: 'request', to: responder, page: this.#page, id, method, params })
    })
  }

  close() {
    this.#main.postMessage({ type: 'bye', page: this.#page })
    this.#main.close()
    this.#replies.close()
  }

  #receive(m) {
    if (m?.type === 'store') {
      const known = this.#stores.has(m.responder)
      this.#stores.set(m.responder, { ...m.store, responder: m.responder, seenAt: Date.now() })
      if (!known) this.#onStores(this.stores)
    } else if (m?.type === 'gone') {
      if (this.#stores.delete(m.responder)) this.#onStores(this.stores)
    } else if (m?.type === 'changed') {
      const s = this.#stores.get(m.responder)
      if (s) s.seenAt = Date.now()
      this.#onChanged(m.responder)
    }
  }

  #response(m) {
    const w = this.#waiting.get(m?.id)
    if (m?.type !== 'response' || !w) return
    this.#waiting.delete(m.id)
    clearTimeout(w.timer)
    const s = this.#stores.get(m.responder)
    if (s) s.seenAt = Date.now()
    if (m.error) w.reject(Object.assign(new Error(m.error.message), { code: m.error.code }))
    else w.resolve(m.result)
  }
}
