// The test app: a persisted store whose leader runs in `./livestore.worker.ts?worker`,
// as in the README. It publishes a small API as `window.__app` for
// tests/e2e/persist*.test.mjs: commit bursts, flushed ids, the leader's eventlog.
import { createStore, makePersistedAdapter, queryDb, resetPersistence, type BootStatus } from 'livestore-rs'
import LeaderWorker from './livestore.worker.ts?worker'
import { events, schema, schemaVersion, todos } from './schema'

const params = new URLSearchParams(location.search)
const storeId = params.get('store') ?? 'todos'
const syncUrl = params.get('sync') ?? undefined

const app: any = {
  version: schemaVersion,
  boot: [] as BootStatus[],
  errors: [] as { code?: string; message: string; phase: string }[],
  latest: [] as string[], // ids seen by the subscription, in order
  updates: 0,
  committed: [] as string[],
  flushed: [] as string[], // ids known durable (store.flush() resolved after their commit)
}
;(window as any).__app = app
const status = document.getElementById('status')!

try {
  const store = await createStore({
    schema,
    storeId,
    adapter: makePersistedAdapter({ storage: { type: 'opfs' }, worker: LeaderWorker }),
    syncPayload: syncUrl ? { url: syncUrl } : undefined,
    onBootStatus: (s) => {
      app.boot.push(s)
      status.textContent = `${s.stage}${s.total ? ` ${s.done}/${s.total}` : ''}`
    },
    onError: (e: any, ctx) => app.errors.push({ code: e?.code, message: String(e?.message ?? e), phase: ctx.phase }),
  })
  app.store = store
  const list = document.getElementById('todos')!
  store.subscribe(queryDb(todos.orderBy('id', 'asc')), (rows) => {
    app.latest = rows.map((r) => r.id)
    app.updates++
    list.textContent = ''
    for (const r of rows.slice(0, 50)) list.append(Object.assign(document.createElement('li'), { textContent: r.text }))
  })

  app.syncStatus = () => {
    const s = store.syncStatus
    return { ...s, error: s.error && { code: s.error.code, message: s.error.message } }
  }
  app.rows = () => store.query(todos.orderBy('id', 'asc')).map((r) => ({ ...r }))
  app.add = (prefix: string, n: number) => {
    const ids = []
    for (let i = 0; i < n; i++) {
      const id = `${prefix}-${String(app.committed.length).padStart(5, '0')}`
      store.commit(events.todoCreated({ id, text: `todo ${id}` }))
      app.committed.push(id)
      ids.push(id)
    }
    return ids
  }
  // Commits `perTick` todos every `intervalMs`; every `flushEvery` ticks, awaits
  // flush() and records what was committed before it as flushed.
  app.startBurst = ({ prefix, intervalMs = 5, perTick = 3, flushEvery = 5 }: any) => {
    let tick = 0
    let stopped = false
    const run = async () => {
      while (!stopped) {
        app.add(prefix, perTick)
        if (++tick % flushEvery === 0) {
          const upTo = app.committed.length
          await store.flush()
          app.flushed = app.committed.slice(0, upTo)
        } else await new Promise((r) => setTimeout(r, intervalMs))
      }
    }
    app.burst = run()
    app.stopBurst = async () => {
      stopped = true
      await app.burst
    }
  }
  app.flush = async () => {
    const upTo = app.committed.length
    await store.flush()
    app.flushed = app.committed.slice(0, upTo)
  }
  // The leader's whole eventlog, asked for over the store's channel like a session would.
  app.leaderEvents = () =>
    new Promise((resolve) => {
      const ch = new BroadcastChannel(`livestore-rs:${storeId}`)
      const me = `probe-${Math.random().toString(36).slice(2)}`
      ch.onmessage = (e) => {
        if (e.data?.type === 'pulled' && e.data.to === me) {
          ch.close()
          resolve(e.data.events)
        }
      }
      ch.postMessage({ type: 'pull', storeId, sessionId: me, after: { global: 0, client: 0, rebaseGeneration: 0 } })
    })
  // The rows a fresh in-memory store gets by replaying `records`: must equal the persisted state.
  app.replay = async (records: any[]) => {
    const mem = await createStore({ schema, storeId: `replay-${Math.random()}` })
    for (const r of records) if (!r.clientOnly) mem.commit({ name: r.name, args: r.args } as any)
    const rows = mem.query(todos.orderBy('id', 'asc')).map((r) => ({ ...r }))
    await mem.close()
    return rows
  }
  app.export = async () => {
    const { eventlog, state } = await store.exportDatabase()
    const header = (b: Uint8Array) => new TextDecoder().decode(b.slice(0, 15))
    return { eventlog: eventlog.byteLength, state: state.byteLength, headers: [header(eventlog), header(state)] }
  }
  // Exports this store's eventlog and imports it into store `target` (which has
  // data of its own); returns the ids a new store of `target` then has.
  app.importInto = async (target: string) => {
    const { eventlog } = await store.exportDatabase()
    const adapter = makePersistedAdapter({ storage: { type: 'opfs' }, worker: LeaderWorker })
    const other = await createStore({ schema, storeId: target, adapter })
    other.commit(events.todoCreated({ id: 'zz-local', text: 'replaced by the import' }))
    await other.flush()
    await other.importDatabase({ eventlog })
    const fresh = await createStore({ schema, storeId: target, adapter })
    const ids = fresh.query(todos.orderBy('id', 'asc')).map((r) => r.id)
    await fresh.close()
    return ids
  }
  app.resetPersistence = resetPersistence
  app.ready = true
  status.textContent = `ready (${store.persisted ? 'persisted' : 'in memory'})`
} catch (e: any) {
  app.bootError = { code: e?.code, message: String(e?.message ?? e), stack: String(e?.stack ?? '') }
  status.textContent = `boot failed: ${e?.message ?? e}`
}
