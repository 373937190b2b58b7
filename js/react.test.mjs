// The React bindings' external-store sources, without a DOM: what React's
// useSyncExternalStore sees of a store. Run: node --test js/react.test.mjs
// (The bindings in a real app: tests/e2e/react.test.mjs.)
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, copyFileSync, writeFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'livestore-react-'))
for (const f of readdirSync(here)) if (f.endsWith('.js')) copyFileSync(join(here, f), join(dir, f))
writeFileSync(join(dir, 'livestore_rs.js'), 'export default async function init() {}\nexport class WasmSession {}\n')
symlinkSync(join(here, '..', 'node_modules'), join(dir, 'node_modules'), 'dir') // react, from the workspace
const { syncStatusSource } = await import(pathToFileURL(join(dir, 'react.js')).href)
after(() => rmSync(dir, { recursive: true, force: true }))

/** A store whose sync status the test sets (its listeners hear of it). */
function fakeStore() {
  const listeners = new Set()
  const store = {
    syncStatus: { enabled: false, online: false, phase: 'disabled', pending: 0, head: null, upstreamHead: null },
    subscribeSyncStatus(cb) {
      listeners.add(cb)
      return () => listeners.delete(cb)
    },
    set(status) {
      store.syncStatus = status
      for (const cb of listeners) cb(status)
    },
  }
  return store
}

const live = { enabled: true, online: true, phase: 'live', pending: 0, head: null, upstreamHead: null }

test('a sync status that changed between the first render and the subscription is not missed', () => {
  const store = fakeStore()
  const source = syncStatusSource(store) // first render
  assert.equal(source.get().phase, 'disabled')
  store.set(live) // the leader went live before React subscribed: no listener yet
  let changes = 0
  const unsubscribe = source.subscribe(() => changes++)
  assert.equal(changes, 1, 'React is told at once')
  assert.equal(source.get().phase, 'live')
  store.set({ ...live, pending: 2 })
  assert.equal(changes, 2)
  assert.equal(source.get().pending, 2)
  unsubscribe()
  store.set(live)
  assert.equal(changes, 2, 'nothing after unsubscribe')
})

test('an unchanged sync status does not re-render on subscribe', () => {
  const store = fakeStore()
  const source = syncStatusSource(store)
  const first = source.get()
  let changes = 0
  source.subscribe(() => changes++)
  assert.equal(changes, 0)
  assert.equal(source.get(), first, 'the same snapshot object')
})
