// The devtools responder (devtools.js) on real BroadcastChannels (Node has
// them), against stand-ins for the store, its session, its reactive graph and
// its LeaderLink. What the browser test cannot pin down exactly: addressing,
// errors answered as errors, caps, eventlog pages and their synced/pending
// marks, change notices only while a devtools page watches.
// Run: node --test js/devtools.test.mjs

import { test, after } from 'node:test'
import assert from 'node:assert/strict'

import { DEVTOOLS_CHANNEL, LIMITS, replyChannelName, startDevtools } from './devtools.js'

const channels = []
after(() => channels.forEach((c) => c.close()))
const channel = (name) => {
  const c = new BroadcastChannel(name)
  channels.push(c)
  return c
}

const seq = (global, client = 0) => ({ global, client, rebaseGeneration: 0 })
const record = (s, name, args, clientOnly = false) => ({ seqNum: s, parentSeqNum: seq(0), name, args, clientId: 'c1', sessionId: 's1', clientOnly })

/** A log of `n` synced events, each followed by a client-only one: e1, e1.1, e2, e2.1, … */
function makeLog(n) {
  const log = []
  for (let g = 1; g <= n; g++) {
    log.push(record(seq(g), 'v1.TodoCreated', { id: `t${g}`, text: `todo ${g}` }))
    log.push(record(seq(g, 1), 'uiStateSet', { id: 's1', value: { newTodoText: '' } }, true))
  }
  return log
}
const cmp = (a, b) => a.global - b.global || a.client - b.client

const schema = {
  desc: {
    tables: [
      { name: 'todos', columns: [{ name: 'id', type: 'text', primaryKey: true }, { name: 'text', type: 'text' }, { name: 'at', type: 'datetime', nullable: true }] },
      { name: 'uiState', columns: [{ name: 'id', type: 'text', primaryKey: true }, { name: 'value', type: 'json' }], clientDocument: { default: {} } },
    ],
  },
  events: new Map([
    ['v1.TodoCreated', { schema: { type: 'struct', fields: { id: { type: 'string' }, text: { type: 'string' } } } }],
    ['v1.Stamped', { schema: { type: 'struct', fields: { at: { type: 'date' } } } }],
  ]),
}

/** A store with `rows` todos; `leader` (a log and a sync head) makes it persisted. */
function makeStore({ rows = 3, log = makeLog(3), leader } = {}) {
  const todos = Array.from({ length: rows }, (_, i) => ({ id: `t${i}`, text: `todo ${i}`, at: null }))
  const calls = { sql: [], leader: [] }
  const session = {
    query(desc) {
      if (desc.kind === 'select') {
        const all = desc.table === 'todos' ? todos : [{ id: 's1', value: { filter: 'all' } }]
        if (desc.result === 'count') return all.length
        return all.slice(desc.offset, desc.offset + desc.limit)
      }
      calls.sql.push(desc.sql)
      if (/^\s*select/i.test(desc.sql)) return todos
      if (/^\s*delete/i.test(desc.sql)) throw Object.assign(new Error('a query can only read … (commit one)'), { name: 'LiveStoreError', code: 'INVALID_QUERY' })
      throw Object.assign(new Error(`SQL error: near "${desc.sql.split(' ')[0]}": syntax error`), { name: 'LiveStoreError', code: 'SQL_ERROR' })
    },
    eventlog: () => structuredClone(log),
  }
  const graph = {
    liveQueries: () => [
      { id: 1, kind: 'queryDb', label: 'queryDb:todos', query: { kind: 'select', table: 'todos', where: { completed: false }, result: 'rows' }, runs: 3, totalMs: 1.5, lastMs: 0.25, subscribers: 1, dependents: 0 },
      { id: 2, kind: 'queryDb', label: 'raw', query: { kind: 'sql', sql: 'SELECT 1' }, runs: 1, totalMs: 0.1, lastMs: 0.1, subscribers: 0, dependents: 1 },
      { id: 3, kind: 'computed', label: 'count', query: undefined, runs: 2, totalMs: 0.01, lastMs: 0.0, subscribers: 1, dependents: 0 },
    ],
  }
  const link = leader && {
    async request(message, options) {
      calls.leader.push({ message, options })
      if (leader.fail) throw Object.assign(new Error("the leader did not answer 'eventlog'"), { code: 'TIMEOUT' })
      // What the worker answers: eventsBefore (newest first) and the sync head.
      const before = message.before
      const events = leader.log.filter((e) => !before || cmp(e.seqNum, before) < 0).sort((a, b) => cmp(b.seqNum, a.seqNum)).slice(0, message.limit)
      return { events, head: leader.log.at(-1).seqNum, syncHead: leader.syncHead, phase: 'live' }
    },
  }
  const store = {
    storeId: 'todos',
    clientId: 'c1',
    sessionId: 's1',
    persisted: Boolean(leader),
    isClosed: false,
    schema,
    syncStatus: { enabled: true, online: false, phase: 'offline', pending: 2, head: seq(3), upstreamHead: seq(1), error: Object.assign(new Error('the server was reset'), { code: 'BACKEND_RESET' }) },
    async exportDatabase() {
      if (!leader) throw Object.assign(new Error(`exportDatabase: store 'todos' is not persisted`), { code: 'UNSUPPORTED' })
      return { eventlog: new Uint8Array([83, 81]), state: new Uint8Array([83]) }
    },
  }
  const responder = startDevtools({ store, session, graph, link })
  return { store, responder, calls }
}

/** The devtools page's side: discover the stores, send requests, await answers on its reply channel. */
function makePage(name = `page-${Math.random().toString(36).slice(2)}`) {
  const main = channel(DEVTOOLS_CHANNEL)
  const replies = channel(replyChannelName(name))
  const seen = []
  const waiting = new Map()
  let nextId = 1
  main.onmessage = (e) => seen.push(e.data)
  replies.onmessage = (e) => {
    const w = waiting.get(e.data.id)
    waiting.delete(e.data.id)
    w?.(e.data)
  }
  return {
    name,
    seen,
    post: (m) => main.postMessage(m),
    discover: () => main.postMessage({ type: 'discover', page: name }),
    request(to, method, params) {
      const id = nextId++
      return new Promise((resolve) => {
        waiting.set(id, resolve)
        main.postMessage({ type: 'request', to, page: name, id, method, params })
      })
    },
    async until(fn, what) {
      for (let i = 0; i < 100; i++) {
        const hit = seen.find(fn)
        if (hit) return hit
        await new Promise((r) => setTimeout(r, 10))
      }
      throw new Error(`never saw ${what}: ${JSON.stringify(seen)}`)
    },
  }
}

test('a store announces itself, answers discovery, and only answers requests addressed to it', async () => {
  const page = makePage()
  const { responder } = makeStore()
  const other = makeStore()
  try {
    page.discover()
    const hello = await page.until((m) => m.type === 'store' && m.responder === responder.id, 'the announcement')
    const { storeId, clientId, sessionId, persisted } = hello.store
    assert.deepEqual({ storeId, clientId, sessionId, persisted }, { storeId: 'todos', clientId: 'c1', sessionId: 's1', persisted: false })
    const r = await page.request(responder.id, 'tables')
    assert.equal(r.responder, responder.id)
    assert.deepEqual(r.result.map((t) => [t.name, t.clientDocument, t.count]), [['todos', false, 3], ['uiState', true, 1]])
    assert.deepEqual(r.result[0].columns[0], { name: 'id', type: 'text', primaryKey: true })
  } finally {
    responder.close()
    other.responder.close()
  }
  await page.until((m) => m.type === 'gone' && m.responder === responder.id, 'the goodbye')
})

test('table rows are paged and capped; an unknown table is an error answer', async () => {
  const page = makePage()
  const { responder } = makeStore({ rows: 500 })
  try {
    const first = await page.request(responder.id, 'rows', { table: 'todos', offset: 0, limit: 10 })
    assert.equal(first.result.total, 500)
    assert.deepEqual(first.result.columns, ['id', 'text', 'at'])
    assert.deepEqual(first.result.rows.map((r) => r.id), Array.from({ length: 10 }, (_, i) => `t${i}`))
    const big = await page.request(responder.id, 'rows', { table: 'todos', offset: 490, limit: 10_000 })
    assert.equal(big.result.limit, LIMITS.rows)
    assert.deepEqual(big.result.rows.map((r) => r.id), Array.from({ length: 10 }, (_, i) => `t${490 + i}`))
    const bad = await page.request(responder.id, 'rows', { table: 'nope' })
    assert.deepEqual(bad.error, { code: 'UNKNOWN_TABLE', message: "devtools: the schema has no table 'nope'" })
  } finally {
    responder.close()
  }
})

test('SQL: a read returns its rows (capped), a bad SQL and a write come back as errors with their code', async () => {
  const page = makePage()
  const { responder, calls } = makeStore({ rows: LIMITS.sqlRows + 20 })
  try {
    const ok = await page.request(responder.id, 'sql', { sql: 'SELECT * FROM todos' })
    assert.deepEqual(ok.result.columns, ['id', 'text', 'at'])
    assert.equal(ok.result.rows.length, LIMITS.sqlRows)
    assert.equal(ok.result.total, LIMITS.sqlRows + 20)
    const bad = await page.request(responder.id, 'sql', { sql: 'SELEC nope' })
    assert.equal(bad.error.code, 'SQL_ERROR')
    assert.match(bad.error.message, /syntax error/)
    const write = await page.request(responder.id, 'sql', { sql: 'DELETE FROM todos' })
    assert.equal(write.error.code, 'INVALID_QUERY')
    const empty = await page.request(responder.id, 'sql', { sql: '  ' })
    assert.equal(empty.error.code, 'INVALID_ARGUMENT')
    assert.deepEqual(calls.sql, ['SELECT * FROM todos', 'SELEC nope', 'DELETE FROM todos'], 'the empty query never reached the session')
    const unknown = await page.request(responder.id, 'dropEverything')
    assert.equal(unknown.error.code, 'INVALID_ARGUMENT')
  } finally {
    responder.close()
  }
})

test("a persisted store's eventlog comes from the leader, newest first, in pages, synced up to the sync head", async () => {
  const page = makePage()
  const log = makeLog(5) // e1 e1.1 … e5 e5.1
  const { responder, calls } = makeStore({ leader: { log, syncHead: seq(3) } })
  try {
    const first = await page.request(responder.id, 'eventlog', { limit: 4 })
    const r = first.result
    assert.equal(r.source, 'leader')
    assert.deepEqual(r.events.map((e) => `${e.seqNum.global}.${e.seqNum.client}:${e.synced}`), ['5.1:false', '5.0:false', '4.1:false', '4.0:false'])
    assert.equal(r.more, true)
    assert.deepEqual(r.head, seq(5, 1))
    assert.equal(calls.leader[0].message.limit, 5, 'one more than shown, to know whether there are older ones')
    assert.equal(typeof calls.leader[0].options.timeoutMs, 'number')
    const older = (await page.request(responder.id, 'eventlog', { before: r.events.at(-1).seqNum, limit: 4 })).result
    // The sync head is e3: e3.1, a client-only event after it, is still pending.
    assert.deepEqual(older.events.map((e) => `${e.seqNum.global}.${e.seqNum.client}:${e.synced}`), ['3.1:false', '3.0:true', '2.1:true', '2.0:true'])
    const last = (await page.request(responder.id, 'eventlog', { before: older.events.at(-1).seqNum, limit: 4 })).result
    assert.deepEqual(last.events.map((e) => e.seqNum.global), [1, 1])
    assert.equal(last.more, false)
    assert.deepEqual(last.events[1].args, { id: 't1', text: 'todo 1' })
  } finally {
    responder.close()
  }
})

test('an in-memory store pages its session log: all pending; args decoded by the event schema', async () => {
  const page = makePage()
  const log = [...makeLog(2), record(seq(3), 'v1.Stamped', { at: 1_700_000_000_000 })]
  const { responder } = makeStore({ log })
  try {
    const r = (await page.request(responder.id, 'eventlog', { limit: 2 })).result
    assert.equal(r.source, 'session')
    assert.equal(r.syncHead, null)
    assert.deepEqual(r.events.map((e) => [e.name, e.synced]), [['v1.Stamped', false], ['uiStateSet', false]])
    assert.ok(r.events[0].args.at instanceof Date, 'a date arg crosses as a Date')
    assert.equal(r.events[0].args.at.getTime(), 1_700_000_000_000)
    const older = (await page.request(responder.id, 'eventlog', { before: r.events[1].seqNum, limit: 10 })).result
    assert.deepEqual(older.events.map((e) => e.seqNum), [seq(2), seq(1, 1), seq(1)])
    assert.equal(older.more, false)
    const bad = await page.request(responder.id, 'eventlog', { before: 'e3' })
    assert.equal(bad.error.code, 'INVALID_ARGUMENT')
  } finally {
    responder.close()
  }
})

test('a leader that does not answer: the request to it has a deadline, and its TIMEOUT comes back as an error answer', async () => {
  const page = makePage()
  const { responder, calls } = makeStore({ leader: { log: makeLog(1), syncHead: seq(0), fail: true } })
  try {
    const r = await page.request(responder.id, 'eventlog', {})
    assert.equal(r.error.code, 'TIMEOUT')
    assert.ok(calls.leader[0].options.timeoutMs > 0, 'the request to the leader has a deadline')
  } finally {
    responder.close()
  }
})

test('live queries, sync status and export answer in a cloneable form', async () => {
  const page = makePage()
  const mem = makeStore()
  const persisted = makeStore({ leader: { log: makeLog(1), syncHead: seq(1) } })
  try {
    const live = (await page.request(mem.responder.id, 'liveQueries')).result
    assert.deepEqual(live.map((q) => [q.label, q.kind, q.runs, q.subscribers, q.query]), [
      ['queryDb:todos', 'queryDb', 3, 1, 'todos rows {"where":{"completed":false}}'],
      ['raw', 'queryDb', 1, 0, 'SELECT 1'],
      ['count', 'computed', 2, 1, ''],
    ])
    const sync = (await page.request(mem.responder.id, 'syncStatus')).result
    assert.deepEqual(sync.error, { code: 'BACKEND_RESET', message: 'the server was reset' })
    assert.equal(sync.pending, 2)
    const files = (await page.request(persisted.responder.id, 'export')).result
    assert.deepEqual([...files.eventlog], [83, 81])
    const notPersisted = await page.request(mem.responder.id, 'export')
    assert.equal(notPersisted.error.code, 'UNSUPPORTED')
    mem.store.isClosed = true
    assert.equal((await page.request(mem.responder.id, 'tables')).error.code, 'STORE_CLOSED')
  } finally {
    mem.responder.close()
    persisted.responder.close()
  }
})

test('changes are announced, throttled, and only while a devtools page is watching', async () => {
  const page = makePage()
  const { responder } = makeStore()
  const changes = () => page.seen.filter((m) => m.type === 'changed' && m.responder === responder.id).length
  try {
    responder.changed()
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(changes(), 0, 'nobody watches yet: no notice')
    await page.until((m) => m.type === 'store' && m.responder === responder.id, 'the announcement at start')
    page.discover()
    await page.until(() => page.seen.filter((m) => m.type === 'store' && m.responder === responder.id).length === 2, 'the answer to discover')
    for (let i = 0; i < 50; i++) responder.changed()
    await page.until((m) => m.type === 'changed' && m.responder === responder.id, 'a change notice')
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(changes(), 1, 'a burst of commits is one notice')
    responder.changed()
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(changes(), 2)
  } finally {
    responder.close()
  }
  responder.changed()
  await new Promise((r) => setTimeout(r, 300))
  assert.equal(changes(), 2, 'nothing after close')
})
