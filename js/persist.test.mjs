// The session's side of the persistence protocol (LeaderLink in persist.js),
// against a stand-in leader on a real BroadcastChannel (Node has them) and a
// stand-in session with the same pull/rebase rules as the Rust core
// (docs/ARCHITECTURE.md, "Persistence and tabs"). Covers what a browser test
// cannot provoke at will: push failures, dropped events, lost broadcasts, a
// leader that dies with a push in flight, a leader whose data was deleted.
// Run: node --test js/persist.test.mjs

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, copyFileSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'livestore-persist-'))
for (const f of readdirSync(here)) if (f.endsWith('.js')) copyFileSync(join(here, f), join(dir, f))
writeFileSync(join(dir, 'livestore_rs.js'), 'export default async function init() {}\nexport class WasmSession {}\n')
const { LeaderLink, makePersistedAdapter } = await import(pathToFileURL(join(dir, 'persist.js')).href)
after(() => rmSync(dir, { recursive: true, force: true }))

// ---------------------------------------------------------------------------
// Sequence numbers (global only: no client-only events here)

const ROOT = { global: 0, client: 0, rebaseGeneration: 0 }
const cmp = (a, b) => a.global - b.global || a.client - b.client || a.rebaseGeneration - b.rebaseGeneration
const eq = (a, b) => cmp(a, b) === 0
const upstreamError = (msg) => Object.assign(new Error(msg), { name: 'LiveStoreError', code: 'INVALID_UPSTREAM' })

/** The session's rules: confirm own events, apply others', rebase pending on top (dropping those that fail). */
class FakeSession {
  constructor(sessionId, head = ROOT) {
    this.sessionId = sessionId
    this.upstreamHead = head
    this.confirmedLog = []
    this.pend = []
    this.generation = 0
  }
  get head() {
    return this.pend.at(-1)?.seqNum ?? this.upstreamHead
  }
  commit(name, args = {}) {
    const seqNum = { global: this.head.global + 1, client: 0, rebaseGeneration: this.generation }
    this.pend.push({ seqNum, parentSeqNum: this.head, name, args, clientId: 'c', sessionId: this.sessionId, clientOnly: false })
  }
  pending() {
    return structuredClone(this.pend)
  }
  pendingBatch(limit) {
    const batch = this.pend.slice(0, limit)
    return batch.length ? { json: JSON.stringify(batch), last: batch.at(-1).seqNum } : undefined
  }
  get pendingCount() {
    return this.pend.length
  }
  pull(upstream) {
    if (typeof upstream === 'string') upstream = JSON.parse(upstream) // a push's text, echoed
    const newer = upstream.filter((e) => cmp(e.seqNum, this.upstreamHead) > 0)
    let confirmed = 0
    while (confirmed < newer.length && confirmed < this.pend.length) {
      const [a, b] = [this.pend[confirmed], newer[confirmed]]
      if (!(eq(a.seqNum, b.seqNum) && a.sessionId === b.sessionId && a.name === b.name)) break
      confirmed++
    }
    const foreign = newer.slice(confirmed)
    const expected = confirmed ? newer[confirmed - 1].seqNum : this.upstreamHead
    if (foreign.length && !eq(foreign[0].parentSeqNum, expected)) throw upstreamError(`gap before ${JSON.stringify(foreign[0].seqNum)}`)
    const rest = this.pend.slice(confirmed)
    const rebased = foreign.length > 0 && rest.length > 0
    this.confirmedLog.push(...newer)
    if (newer.length) this.upstreamHead = newer.at(-1).seqNum
    const dropped = []
    if (rebased) {
      this.generation++
      let head = this.upstreamHead
      this.pend = []
      for (const e of rest) {
        if (e.args.poison) {
          dropped.push({ event: e, error: new Error('no longer applies') })
          continue
        }
        const seqNum = { global: head.global + 1, client: 0, rebaseGeneration: this.generation }
        this.pend.push({ ...e, seqNum, parentSeqNum: head })
        head = seqNum
      }
    } else this.pend = rest
    return { changed: Uint32Array.of(newer.length), confirmed, rebased, dropped }
  }
  rollback(count) {
    if (count > this.pend.length) throw new Error('only pending events can be rolled back')
    this.pend.splice(this.pend.length - count, count)
    return Uint32Array.of(99)
  }
}

/** The leader's rules: compare-and-append, broadcast what it appended; knobs to misbehave. */
class FakeLeader {
  constructor(name, log = []) {
    this.log = log
    this.pushes = []
    this.rejected = 0
    this.pulls = 0
    this.failNext = null // { code, afterAppend }
    this.silentNext = false // append without broadcasting (a lost message)
    this.dead = false // ignores everything (its tab is gone)
    this.ch = new BroadcastChannel(name)
    this.ch.onmessage = (e) => this.serve(e.data)
  }
  get head() {
    return this.log.at(-1)?.seqNum ?? ROOT
  }
  send(m) {
    this.ch.postMessage({ storeId: 's', ...m })
  }
  serve(m) {
    if (this.dead) return
    const to = m.sessionId
    if (m.type === 'push') {
      const batch = JSON.parse(m.batch) // the session's pendingBatch text
      this.pushes.push({ from: to, size: batch.length })
      if (!eq(batch[0].parentSeqNum, this.head)) {
        this.rejected++
        return this.send({ type: 'rejected', to, head: this.head })
      }
      if (this.failNext) {
        const { code, afterAppend } = this.failNext
        this.failNext = null
        if (afterAppend) this.log.push(...batch)
        return this.send({ type: 'error', to, code, message: 'disk full' })
      }
      this.log.push(...batch)
      if (this.silentNext) this.silentNext = false
      else this.send({ type: 'events', events: m.batch })
    } else if (m.type === 'pull') {
      this.pulls++
      this.send({ type: 'pulled', to, events: this.log.filter((e) => cmp(e.seqNum, m.after) > 0) })
    } else if (m.type === 'eventlog') {
      this.eventlogRequests = (this.eventlogRequests ?? 0) + 1
      if (this.answersEventlog) this.send({ type: 'eventlogPage', to, id: m.id, events: this.log.toReversed().slice(0, m.limit), head: this.head, syncHead: ROOT, phase: 'disabled' })
    }
  }
  announce() {
    this.send({ type: 'leader', status: {} })
  }
  close() {
    this.ch.close()
  }
}

let nextChannel = 0

/** A session with its LeaderLink on channel `name`; records what it reports. */
function makeTab(name, sessionId, head = ROOT) {
  const session = new FakeSession(sessionId, head)
  const channel = new BroadcastChannel(name)
  const worker = {
    postMessage(m) {
      if (m.type === 'close') setTimeout(() => this.onmessage?.({ data: { type: 'closed' } }))
    },
    terminate() {
      this.terminated = true
    },
  }
  const link = new LeaderLink({ ids: { storeId: 's', clientId: 'c', sessionId }, worker, channel, session, releaseSessionLock: () => {}, buffered: [] })
  const tab = { session, link, worker, changed: [], errors: [], resets: 0 }
  link.attach({
    run: (fn) => fn(),
    changed: (ids) => tab.changed.push([...ids]),
    report: (e, ctx) => tab.errors.push({ code: e.code, phase: ctx.phase, message: e.message }),
    reset: () => tab.resets++,
  })
  tab.commit = (n, args) => {
    for (let i = 0; i < n; i++) session.commit('TodoCreated', { i, ...args })
    link.onCommit()
  }
  return tab
}

function setup() {
  const name = `test-${nextChannel++}`
  const leader = new FakeLeader(name)
  return { name, leader, tab: (id) => makeTab(name, id) }
}

const settle = (ms = 20) => new Promise((r) => setTimeout(r, ms))
const names = (log) => log.map((e) => `${e.sessionId}:${e.args.i}`)

test('commits are pushed in batches, one push in flight; flush resolves once the leader has them', async () => {
  const { leader, tab } = setup()
  const a = tab('a')
  a.commit(3) // one synchronous burst → one batch
  a.commit(2) // still before the push is sent: same batch
  await settle(0)
  a.commit(4) // the first push is in flight: these wait for the next batch
  await a.link.flush()
  assert.deepEqual(leader.pushes.map((p) => p.size), [5, 4])
  assert.equal(leader.log.length, 9)
  assert.equal(a.session.pend.length, 0)
  assert.equal(a.session.confirmedLog.length, 9)
  await a.link.close()
  assert.equal(a.worker.terminated, true)
  leader.close()
})

test('two tabs push concurrently: the loser pulls, rebases and pushes again; both converge', async () => {
  const { leader, tab } = setup()
  const a = tab('a')
  const b = tab('b')
  a.commit(2)
  b.commit(3)
  await Promise.all([a.link.flush(), b.link.flush()])
  await settle()
  assert.equal(leader.log.length, 5)
  assert.ok(leader.rejected > 0, 'one push was rejected')
  assert.deepEqual(names(a.session.confirmedLog), names(leader.log))
  assert.deepEqual(names(b.session.confirmedLog), names(leader.log))
  for (let i = 1; i < leader.log.length; i++) assert.ok(eq(leader.log[i].parentSeqNum, leader.log[i - 1].seqNum), 'a chain')
  assert.ok(b.changed.length + a.changed.length > 0, "the other tab's events reached the reactive graph")
  await Promise.all([a.link.close(), b.link.close()])
  leader.close()
})

test('a missed broadcast (gap) is caught up by a pull', async () => {
  const { leader, tab } = setup()
  const a = tab('a')
  const b = tab('b')
  leader.silentNext = true
  a.commit(1) // appended, never broadcast
  await settle()
  b.commit(1) // rejected (stale), pulls, rebases on a's event
  await settle()
  a.commit(1) // a's next push: a has not seen its own first event confirmed yet
  await Promise.all([a.link.flush(), b.link.flush()])
  await settle()
  assert.equal(leader.log.length, 3)
  assert.ok(leader.pulls >= 2, 'both tabs pulled')
  assert.deepEqual(names(a.session.confirmedLog), names(leader.log))
  assert.deepEqual(names(b.session.confirmedLog), names(leader.log))
  await Promise.all([a.link.close(), b.link.close()])
  leader.close()
})

test('a push the leader cannot store is rolled back, reported, and rejects flush', async () => {
  const { leader, tab } = setup()
  const a = tab('a')
  a.commit(1)
  await a.link.flush()
  leader.failNext = { code: 'QUOTA_EXCEEDED' }
  a.commit(2)
  await assert.rejects(a.link.flush(), (e) => e.code === 'QUOTA_EXCEEDED' && /rolled back/.test(e.message))
  assert.equal(a.session.pend.length, 0, 'nothing that could not be persisted stays')
  assert.deepEqual(a.errors.map((e) => [e.code, e.phase]), [['QUOTA_EXCEEDED', 'persist']])
  assert.deepEqual(a.changed.at(-1), [99], 'the rollback reached the reactive graph')
  a.commit(1) // and the session goes on
  await a.link.flush()
  assert.equal(leader.log.length, 2)
  await a.link.close()
  leader.close()
})

test('a push that failed after the leader stored it keeps the events (they are durable)', async () => {
  const { leader, tab } = setup()
  const a = tab('a')
  leader.failNext = { code: 'LEADER_FAILED', afterAppend: true }
  a.commit(2)
  await a.link.flush()
  assert.equal(a.session.pend.length, 0)
  assert.equal(a.session.confirmedLog.length, 2, 'confirmed by a pull, not rolled back')
  assert.deepEqual(a.errors.map((e) => e.code), ['LEADER_FAILED'])
  await a.link.close()
  leader.close()
})

test('a new leader after the old one died with a push in flight: pending events are sent again, none twice', async () => {
  const name = `test-${nextChannel++}`
  const old = new FakeLeader(name)
  const a = makeTab(name, 'a')
  a.commit(2)
  await a.link.flush()
  old.silentNext = true
  a.commit(3) // stored by the old leader, which dies before broadcasting
  await settle()
  old.dead = true
  a.commit(1) // pushed into the void
  await settle()
  let flushed = false
  const f = a.link.flush().then(() => (flushed = true))
  await settle()
  assert.equal(flushed, false, 'not durable while there is no leader')
  const next = new FakeLeader(name, old.log) // the same files
  old.close()
  next.announce()
  await f
  assert.deepEqual(names(next.log), ['a:0', 'a:1', 'a:0', 'a:1', 'a:2', 'a:0'])
  assert.deepEqual(names(a.session.confirmedLog), names(next.log))
  await a.link.close()
  next.close()
})

test('an event that no longer applies after a rebase is dropped and reported', async () => {
  const { leader, tab } = setup()
  const a = tab('a')
  const b = tab('b')
  a.commit(1)
  b.commit(1, { poison: true })
  b.commit(1)
  await Promise.all([a.link.flush(), b.link.flush()])
  await settle()
  assert.deepEqual(b.errors.map((e) => [e.code, e.phase]), [['EVENT_DROPPED', 'rebase']])
  assert.equal(leader.log.length, 2)
  assert.deepEqual(names(b.session.confirmedLog), names(leader.log))
  await Promise.all([a.link.close(), b.link.close()])
  leader.close()
})

test('a leader behind what the session saw durable (data deleted) stops syncing with a clear error', async () => {
  const { leader, tab } = setup()
  const a = tab('a')
  a.commit(2)
  await a.link.flush()
  leader.log.length = 0
  a.commit(1)
  await assert.rejects(a.link.flush(), (e) => e.code === 'LEADER_BEHIND')
  assert.deepEqual(a.errors.map((e) => e.code), ['LEADER_BEHIND'])
  await a.link.close()
  leader.close()
})

test("devtools' eventlog request: the leader's page comes back; unanswered, it times out and is not sent again to a new leader", async () => {
  const { leader, tab } = setup()
  const a = tab('a')
  a.commit(3)
  await a.link.flush()
  leader.answersEventlog = true
  const page = await a.link.request({ type: 'eventlog', limit: 2 }, { timeoutMs: 1000 })
  assert.deepEqual(page.events.map((e) => e.args.i), [2, 1])
  assert.deepEqual(page.head, leader.head)
  leader.answersEventlog = false
  const started = Date.now()
  await assert.rejects(a.link.request({ type: 'eventlog', limit: 2 }, { timeoutMs: 50 }), (e) => e.code === 'TIMEOUT' && /did not answer 'eventlog'/.test(e.message))
  assert.ok(Date.now() - started >= 45)
  assert.equal(leader.eventlogRequests, 2)
  leader.announce() // a new leader: requests still waiting are sent again; the timed-out one is not
  await settle()
  assert.equal(leader.eventlogRequests, 2)
  await a.link.close()
  leader.close()
})

test('makePersistedAdapter validates its options', () => {
  const W = function Worker() {}
  assert.equal(makePersistedAdapter({ worker: W }).storage.type, 'opfs')
  assert.throws(() => makePersistedAdapter({ storage: { type: 'idb' }, worker: W }), /storage must be/)
  assert.throws(() => makePersistedAdapter({}), /worker must be/)
  assert.throws(() => makePersistedAdapter({ worker: W, unknownEvents: 'maybe' }), /unknownEvents/)
  assert.throws(() => makePersistedAdapter({ worker: W, wat: 1 }), /unknown option 'wat'/)
})
