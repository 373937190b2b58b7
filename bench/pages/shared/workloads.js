// The workloads, written once against the API that livestore-rs and LiveStore
// share (store.commit(events.x(args)), store.query(builder), store.subscribe(
// queryDb(builder), cb)). Each page passes in its library through `lib`:
//
//   lib.name                 'livestore-rs' | 'livestore'
//   lib.variant              the page variant ('livestore-rs', 'livestore-memory', 'livestore-opfs')
//   lib.scriptStart          performance.now() at the page script's first statement (t0.js)
//   lib.createStore(opts)    → Promise<store>, a fresh store (fresh storeId), or with
//                            opts.storeId that store (W6 reopens a persisted one);
//                            opts.onBootStatus is passed through
//   lib.events               { todoCreated, todoCompleted, todosCreatedBatch }
//   lib.todos                the todos table (query builder)
//   lib.queryDb              queryDb(builder) → live query definition
//   lib.durable              null, or (store, { timeoutMs }) → Promise<void> resolving
//                            once everything committed so far is persisted
//   lib.durability           text shown where durable is null (e.g. 'n/a (in-memory)')
//   lib.shutdown(store)      → Promise<void>: waits until durable (where it can) and closes
//
// The page exposes window.runWorkload(name, params) → Promise<Record<string, number>>;
// loaded with `?boot=<storeId>&n=<rows>` it boots that persisted store at once
// instead (W6, see bootFromUrl) and publishes window.__bootResult.
// bench/run.mjs opens one fresh browser context per library × workload × run and
// calls it. Nothing here asserts on time; the sanity checks only make sure that
// every library really did the work (row counts, result sizes).
//
// Warm-up, the same for every library: each timed loop is preceded by a short
// untimed loop of the same operation on the same store (params.warmup), then the
// page settles (waits for durability where the library has it, then 100 ms idle)
// before the clock starts.

import { wasmMemoryBytes, wasmMemoryCount } from './wasm-hook.js'
import { BOOT_DONE } from './boot-done.js'

const now = () => performance.now()
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// Deterministic texts (same for both libraries): 'todo ' + 10 pseudo-random letters.
function mulberry32(seed) {
  return () => {
    seed |= 0
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
function makeTexts(n, seed = 42) {
  const rnd = mulberry32(seed)
  const out = new Array(n)
  for (let i = 0; i < n; i++) {
    let s = 'todo '
    for (let k = 0; k < 10; k++) s += String.fromCharCode(97 + Math.floor(rnd() * 26))
    out[i] = s
  }
  return out
}
const idOf = (prefix, i) => `${prefix}${String(i).padStart(6, '0')}`

function check(cond, message) {
  if (!cond) throw new Error(`sanity check failed: ${message}`)
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length

/** A WebSocket to `url`, open. */
function openSocket(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.onopen = () => resolve(ws)
    ws.onerror = () => reject(new Error(`cannot open a WebSocket to ${url}`))
  })
}

/** Sends `text` and resolves with the next message. */
function roundTrip(ws, text) {
  return new Promise((resolve) => {
    ws.onmessage = (e) => resolve(e.data)
    ws.send(text)
  })
}

export function makeWorkloads(lib) {
  const { events, todos, queryDb } = lib
  const sync = {} // W8: this page's synced store and what its subscription saw

  async function settle(store) {
    if (lib.durable) await lib.durable(store, { timeoutMs: 120_000 })
    await sleep(100)
  }

  const countRows = (store) => {
    const c = store.query(todos.count())
    return typeof c === 'number' ? c : Number(c)
  }

  // n separate TodoCreated commits; per-commit mean, and the mean of every
  // `segment` commits (to see whether the cost grows with the eventlog).
  // yieldEvery > 0: after every yieldEvery commits, give the event loop 0 ms
  // (setTimeout) so that background work (e.g. a leader) can run; that time is
  // not counted (only the time inside the commit loop is).
  async function separateCommits(store, { n, warmup, segment = 1000, prefix = 't', yieldEvery = 0 }) {
    const texts = makeTexts(n + warmup)
    for (let i = 0; i < warmup; i++) store.commit(events.todoCreated({ id: idOf('w', i), text: texts[n + i] }))
    await settle(store)
    let paused = 0 // time spent yielding, subtracted
    const marks = [0]
    const t0 = now()
    for (let i = 0; i < n; i++) {
      store.commit(events.todoCreated({ id: idOf(prefix, i), text: texts[i] }))
      if ((i + 1) % segment === 0) marks.push(now() - t0 - paused)
      if (yieldEvery > 0 && (i + 1) % yieldEvery === 0) {
        const p0 = now()
        await sleep(0)
        paused += now() - p0
      }
    }
    const t1 = now()
    return { t0, t1, busy: t1 - t0 - paused, marks }
  }

  const workloads = {
    // W1: 1,000 separate commits: main-thread time per commit, and (where the
    // library persists) the time until all of them are durable.
    async W1({ n = 1000, warmup = 100, yieldEvery = 0 } = {}) {
      const store = await lib.createStore()
      const { t0, t1, busy } = await separateCommits(store, { n, warmup, yieldEvery })
      const out = { commitMeanUs: (busy * 1000) / n }
      if (lib.durable) {
        await lib.durable(store, { timeoutMs: 120_000 })
        const t2 = now()
        out.durableAfterLastCommitMs = t2 - t1
        out.durableAfterFirstCommitMs = t2 - t0
      }
      check(countRows(store) === n + warmup, `W1: ${n + warmup} rows`)
      return out
    },

    // W2: n separate commits (10,000; 100,000 for livestore-rs alone): mean per
    // commit, and the mean of the first and of the last 1,000.
    async W2({ n = 10_000, warmup = 100, yieldEvery = 0 } = {}) {
      const store = await lib.createStore()
      window.__benchStore = store // kept for the W7 memory measurement after W2
      const { busy, marks } = await separateCommits(store, { n, warmup, yieldEvery })
      const seg = marks.length - 1
      const first = marks[1] - marks[0]
      const last = marks[seg] - marks[seg - 1]
      const out = {
        commitMeanUs: (busy * 1000) / n,
        first1000MeanUs: first,  // ms per 1,000 commits = µs per commit
        last1000MeanUs: last,
        lastOverFirst: last / first,
      }
      if (lib.durable) {
        const t1 = now()
        await lib.durable(store, { timeoutMs: 600_000 })
        out.durableAfterLastCommitMs = now() - t1
      }
      check(countRows(store) === n + warmup, `W2: ${n + warmup} rows`)
      return out
    },

    // W3: one TodosCreatedBatch event of n items: time of the commit call.
    async W3({ n = 10_000, warmup = 100 } = {}) {
      const store = await lib.createStore()
      const texts = makeTexts(n + warmup)
      const items = (count, prefix, off) => Array.from({ length: count }, (_, i) => ({ id: idOf(prefix, i), text: texts[off + i] }))
      store.commit(events.todosCreatedBatch({ items: items(warmup, 'w', n) }))
      await settle(store)
      const batch = events.todosCreatedBatch({ items: items(n, 'b', 0) })
      const t0 = now()
      store.commit(batch)
      const t1 = now()
      const out = { batchCommitMs: t1 - t0 }
      if (lib.durable) {
        await lib.durable(store, { timeoutMs: 120_000 })
        out.batchDurableMs = now() - t0
      }
      check(countRows(store) === n + warmup, `W3: ${n + warmup} rows`)
      return out
    },

    // W4: synchronous queries over `rows` rows (rows materialized as JS objects).
    async W4({ rows = 10_000, n = 1000, warmup = 50 } = {}) {
      const store = await lib.createStore()
      const texts = makeTexts(rows)
      store.commit(events.todosCreatedBatch({ items: texts.map((text, i) => ({ id: idOf('t', i), text })) }))
      await settle(store)
      check(countRows(store) === rows, `W4: ${rows} rows`)

      // (a) the same query object, n times
      const q = todos.where({ completed: false }).orderBy('text', 'asc').limit(100)
      let r
      for (let i = 0; i < warmup; i++) r = store.query(q)
      let t0 = now()
      for (let i = 0; i < n; i++) r = store.query(q)
      const sameQueryUs = ((now() - t0) * 1000) / n
      check(r.length === 100 && typeof r[0].text === 'string', 'W4: same query returns 100 rows')

      // (b) a parameter that changes on every call: text > (some existing text)
      const bounds = Array.from({ length: n + warmup }, (_, i) => texts[(i * 7919) % rows])
      const qp = (v) => todos.where({ completed: false, text: { op: '>', value: v } }).orderBy('text', 'asc').limit(100)
      for (let i = 0; i < warmup; i++) r = store.query(qp(bounds[n + i]))
      let total = 0
      t0 = now()
      for (let i = 0; i < n; i++) {
        r = store.query(qp(bounds[i]))
        total += r.length
      }
      const paramQueryUs = ((now() - t0) * 1000) / n
      check(total > 0, 'W4: parameterized queries return rows')

      // (c) count
      const qc = todos.count()
      let c
      for (let i = 0; i < warmup; i++) c = store.query(qc)
      t0 = now()
      for (let i = 0; i < n; i++) c = store.query(qc)
      const countQueryUs = ((now() - t0) * 1000) / n
      check(Number(c) === rows, `W4: count() = ${rows}`)

      return { sameQueryUs, paramQueryUs, countQueryUs }
    },


    // W5: `subs` live subscriptions (queryDb(todos.where({ id }))), then `commits`
    // TodoCompleted one by one, cycling over the subscribed ids: the first round
    // changes each subscribed row once; later rounds complete rows that are
    // already completed, so no subscription's result changes.
    async W5({ rows = 10_000, subs = 100, commits = 1000, warmup = 20 } = {}) {
      const store = await lib.createStore()
      const texts = makeTexts(rows)
      store.commit(events.todosCreatedBatch({ items: texts.map((text, i) => ({ id: idOf('t', i), text })) }))
      // warm-up: complete rows nobody subscribes to (before subscribing)
      const step = Math.floor(rows / subs)
      for (let i = 0; i < warmup; i++) store.commit(events.todoCompleted({ id: idOf('t', i * step + 1) }))
      await settle(store)

      const ids = Array.from({ length: subs }, (_, k) => idOf('t', k * step))
      const state = ids.map(() => ({ calls: 0, last: undefined }))
      let pending = null // { sub, t0, resolve }
      const latencies = []
      let spurious = 0
      let updates = 0
      const unsubs = ids.map((id, k) =>
        store.subscribe(queryDb(todos.where({ id })), (rows) => {
          const t = now()
          const s = state[k]
          const snap = JSON.stringify(rows)
          if (s.calls > 0) {
            updates++
            if (snap === s.last) spurious++
          }
          s.calls++
          s.last = snap
          if (pending && pending.sub === k) {
            latencies.push(t - pending.t0)
            const p = pending
            pending = null
            p.resolve?.()
          }
        }),
      )
      await sleep(50)
      const initialCalls = state.reduce((a, s) => a + s.calls, 0)

      const changingCommitUs = []
      const noopCommitUs = []
      let missed = 0
      for (let j = 0; j < commits; j++) {
        const k = j % subs
        const changes = j < subs
        const t0 = now()
        if (changes) pending = { sub: k, t0 }
        store.commit(events.todoCompleted({ id: ids[k] }))
        const t1 = now()
        ;(changes ? changingCommitUs : noopCommitUs).push((t1 - t0) * 1000)
        if (changes && pending) {
          // the callback did not run inside commit(): wait for it (asynchronous notification)
          const waited = await Promise.race([
            new Promise((resolve) => (pending.resolve = () => resolve(true))),
            sleep(5000).then(() => false),
          ])
          if (!waited) {
            missed++
            pending = null
          }
        }
      }
      await sleep(200) // late (asynchronous) callbacks count too
      for (const u of unsubs) u()
      check(store.query(todos.where({ completed: true }).count()) === subs + warmup, 'W5: completed rows')

      const sorted = latencies.map((x) => x * 1000).sort((a, b) => a - b)
      const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length
      return {
        callbackLatencyMeanUs: mean(sorted),
        callbackLatencyP99Us: percentile(sorted, 99),
        callbackSamples: sorted.length,
        changingCommitMeanUs: mean(changingCommitUs),
        noopCommitMeanUs: mean(noopCommitUs),
        callbacksAfterInitial: updates,
        unchangedResultCallbacks: spurious,
        initialCalls,
        missedCallbacks: missed,
      }
    },

    // W6, step 1 (page 1 of a fresh profile): a persisted store `storeId` with
    // n TodoCreated events (one event per todo), committed `batch` events per
    // store.commit(...) call, waiting until durable after each; then the store
    // is shut down (flushed) and the runner closes the page. Step 2 is
    // bootFromUrl() in a new page of the same profile.
    async W6prepare({ n = 10_000, batch = 1000, storeId } = {}) {
      if (!lib.durable) throw new Error('W6 needs a persisted variant')
      const store = await lib.createStore({ storeId })
      const texts = makeTexts(n)
      const t0 = now()
      for (let i = 0; i < n; i += batch) {
        const evs = []
        for (let j = i; j < Math.min(n, i + batch); j++) evs.push(events.todoCreated({ id: idOf('t', j), text: texts[j] }))
        store.commit(...evs)
        await lib.durable(store, { timeoutMs: 600_000 })
      }
      const t1 = now()
      check(countRows(store) === n, `W6 prepare: ${n} rows`)
      await lib.shutdown(store)
      return { prepareMs: t1 - t0, shutdownMs: now() - t1 }
    },
  }

  // ---------------------------------------------------------------------------
  // W8 (sync): steps that bench/run.mjs calls in two (then three) pages, each
  // in its own browser profile: clients A and B of one store through a sync
  // server, then a fresh client C. Times are this page's performance.now();
  // the runner puts the pages on one clock with W8clock (offset to the echo
  // server's clock).

  // W8clock: `samples` round trips of `clock` to the echo server; the offset
  // of the echo server's clock from this page's (serverTime ≈ pageTime +
  // offsetMs), from the sample with the least round trip (error ≤ rttMs / 2).
  workloads.W8clock = async ({ url, samples = 40 } = {}) => {
    const ws = await openSocket(url)
    let best
    try {
      for (let i = 0; i < samples; i++) {
        const t0 = now()
        const reply = await roundTrip(ws, 'clock')
        const t1 = now()
        const rtt = t1 - t0
        if (!best || rtt < best.rttMs) best = { rttMs: rtt, offsetMs: Number(reply) - (t0 + t1) / 2 }
      }
    } finally {
      ws.close()
    }
    return best
  }

  // W8echo: the floor: `n` round trips of a `bytes`-long text message to the
  // echo server on 127.0.0.1 (after `warmup` untimed ones), from this page.
  workloads.W8echo = async ({ url, n = 200, warmup = 20, bytes = 200 } = {}) => {
    const ws = await openSocket(url)
    const msg = 'x'.repeat(bytes)
    const rtts = []
    try {
      for (let i = 0; i < warmup + n; i++) {
        const t0 = now()
        const reply = await roundTrip(ws, msg)
        const t1 = now()
        check(reply === msg, 'W8 echo: the message came back')
        if (i >= warmup) rtts.push((t1 - t0) * 1000)
      }
    } finally {
      ws.close()
    }
    const sorted = rtts.sort((a, b) => a - b)
    return { echoRttMeanUs: mean(sorted), echoRttP50Us: percentile(sorted, 50), echoRttP99Us: percentile(sorted, 99) }
  }

  // W8open: this page's client of store `storeId` (persisted, synced). With
  // `watch`, a subscription to the newest todo by id records when each id is
  // first seen: A's ids grow (prefix per phase, then a counter), A is the only
  // writer and events arrive in order, so seeing id x means every id ≤ x is there.
  workloads.W8open = async ({ storeId, watch = false } = {}) => {
    const t0 = now()
    const store = await lib.createStore({ storeId })
    const openMs = now() - t0
    sync.store = store
    if (watch) {
      sync.seenAt = []
      sync.seenId = []
      sync.waiters = []
      sync.unsubscribe = store.subscribe(queryDb(todos.orderBy('id', 'desc').limit(1)), (rows) => {
        const t = now()
        const id = rows[0]?.id
        if (id === undefined) return
        const last = sync.seenId[sync.seenId.length - 1]
        if (last !== undefined && id <= last) return
        sync.seenAt.push(t)
        sync.seenId.push(id)
        sync.waiters = sync.waiters.filter((w) => (id >= w.id ? (w.resolve(t), false) : true))
      })
    }
    return { openMs }
  }

  // W8paced (A): `n` TodoCreated commits, one every `intervalMs` (on a fixed
  // schedule); the time just before each commit.
  workloads.W8paced = async ({ n, intervalMs = 20, prefix, seed = 8 } = {}) => {
    const store = sync.store
    const texts = makeTexts(n, seed)
    const times = new Array(n)
    const start = now() + intervalMs
    for (let i = 0; i < n; i++) {
      const wait = start + i * intervalMs - now()
      if (wait > 0) await sleep(wait)
      times[i] = now()
      store.commit(events.todoCreated({ id: idOf(prefix, i), text: texts[i] }))
    }
    return { times, ids: Array.from({ length: n }, (_, i) => idOf(prefix, i)) }
  }

  // W8burst (A): `n` separate TodoCreated commits in a tight loop.
  workloads.W8burst = async ({ n, prefix, seed = 9 } = {}) => {
    const store = sync.store
    const texts = makeTexts(n, seed)
    const t0 = now()
    for (let i = 0; i < n; i++) store.commit(events.todoCreated({ id: idOf(prefix, i), text: texts[i] }))
    const t1 = now()
    return { t0, t1, lastId: idOf(prefix, n - 1) }
  }

  // W8fill (A): `n` more TodoCreated events, `batch` per commit call.
  workloads.W8fill = async ({ n, batch = 1000, prefix, seed = 10 } = {}) => {
    const store = sync.store
    const texts = makeTexts(n, seed)
    for (let i = 0; i < n; i += batch) {
      const evs = []
      for (let j = i; j < Math.min(n, i + batch); j++) evs.push(events.todoCreated({ id: idOf(prefix, j), text: texts[j] }))
      store.commit(...evs)
      await sleep(0)
    }
    return { lastId: idOf(prefix, n - 1) }
  }

  // W8waitFor (B): resolves with the time id `id` (or a later one) was first seen.
  workloads.W8waitFor = ({ id, timeoutMs = 600_000 } = {}) => {
    const i = sync.seenId.findIndex((x) => x >= id)
    if (i >= 0) return sync.seenAt[i]
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`W8: id ${id} not seen within ${timeoutMs} ms (last seen: ${sync.seenId[sync.seenId.length - 1]})`)), timeoutMs)
      sync.waiters.push({ id, resolve: (t) => (clearTimeout(timer), resolve(t)) })
    })
  }

  // W8arrivals (B): for each id, the time it (or a later id) was first seen.
  workloads.W8arrivals = ({ ids } = {}) => {
    let k = 0
    return ids.map((id) => {
      while (k < sync.seenId.length && sync.seenId[k] < id) k++
      check(k < sync.seenId.length, `W8: ${id} was seen`)
      return sync.seenAt[k]
    })
  }

  // W8rows: this client's row count.
  workloads.W8rows = () => countRows(sync.store)

  // W8join (C, a fresh profile): opens the store `storeId`, which has `n`
  // events on the server; times from the createStore call until it resolved
  // and until a subscription to todos.count() sees all `n` rows (then checks
  // that `lastId`, A's last todo, is there).
  workloads.W8join = async ({ storeId, n, lastId } = {}) => {
    const t0 = now()
    const store = await lib.createStore({ storeId })
    const t1 = now()
    const t2 = await new Promise((resolve) => {
      let done = false
      const unsubscribe = store.subscribe(queryDb(todos.count()), (c) => {
        if (done || Number(c) < n) return
        done = true
        resolve(now())
        queueMicrotask(() => unsubscribe?.())
      })
    })
    check(countRows(store) === n, `W8 join: ${n} rows`)
    if (lastId) check(store.query(todos.where({ id: lastId })).length === 1, `W8 join: the last todo (${lastId}) is there`)
    sync.store = store
    return { joinReadyMs: t1 - t0, joinAllRowsMs: t2 - t0, t0 }
  }

  /**
   * W6, step 2: this page was loaded with `?boot=<storeId>&n=<rows>` in the
   * profile where W6prepare persisted that store. Times from the page script's
   * first statement (lib.scriptStart) until createStore resolved (store ready),
   * until the first query returned (todos.count()), and until a 100-row query
   * after it returned (todos.where({ completed: false }).orderBy('text').limit(100)).
   */
  workloads.bootFromUrl = async (storeId, n) => {
    const t0 = lib.scriptStart
    const stages = []
    const store = await lib.createStore({
      storeId,
      onBootStatus: (s) => stages.push({ stage: s.stage, done: s.done, total: s.total, atMs: now() - t0 }),
    })
    const t1 = now()
    const count = countRows(store)
    const t2 = now()
    const rows = store.query(todos.where({ completed: false }).orderBy('text', 'asc').limit(100))
    const t3 = now()
    check(count === n, `W6 boot: the booted store has ${count} rows, expected ${n}`)
    check(rows.length === Math.min(100, n) && typeof rows[0].text === 'string', 'W6 boot: the 100-row query returns 100 rows')
    check(countRows(store) === n && store.query(todos.where({ id: idOf('t', n - 1) })).length === 1, 'W6 boot: the last todo is there')
    return {
      storeReadyMs: t1 - t0,
      firstQueryMs: t2 - t0,
      hundredRowsMs: t3 - t0,
      countQueryMs: t2 - t1,
      hundredRowsQueryMs: t3 - t2,
      scriptStartMs: t0, // from navigation start to the page script's first statement
      persisted: lib.name === 'livestore-rs' ? store.persisted : undefined,
      stages,
    }
  }

  // Page-level helpers the runner uses around the workloads (W7 memory after W2).
  workloads.settle = async () => {
    if (window.__benchStore) await settle(window.__benchStore)
    return {}
  }
  workloads.memory = async () => memorySnapshot()

  async function memorySnapshot() {
    return { wasmMemoryBytes: wasmMemoryBytes(), wasmMemories: wasmMemoryCount(), uaMemoryBytes: await uaMemory() }
  }

  return workloads
}

/** Measures the whole page's memory (all threads, wasm included) where the browser allows it. */
async function uaMemory() {
  if (!globalThis.crossOriginIsolated || typeof performance.measureUserAgentSpecificMemory !== 'function') return null
  const m = await performance.measureUserAgentSpecificMemory()
  return m.bytes
}

export function installHarness(lib) {
  const workloads = makeWorkloads(lib)
  const boot = new URLSearchParams(location.search)
  if (boot.has('boot')) {
    // W6 step 2: boot the persisted store right away (the runner only waits for the result).
    workloads
      .bootFromUrl(boot.get('boot'), Number(boot.get('n')))
      .then((r) => (window.__bootResult = r))
      .catch((e) => (window.__bootResult = { error: String(e?.stack ?? e) }))
      .finally(() => console.debug(BOOT_DONE))
  }
  window.runWorkload = async (name, params) => {
    const w = workloads[name]
    if (!w) throw new Error(`unknown workload ${name} (known: ${Object.keys(workloads).join(', ')})`)
    return await w(params ?? {})
  }
  window.benchInfo = { name: lib.name, variant: lib.variant, durability: lib.durability ?? null, crossOriginIsolated: globalThis.crossOriginIsolated }
  window.benchReady = true
}
