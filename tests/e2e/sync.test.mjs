// Sync, end to end: the persisted test app (tests/persist-app, opened with
// `?sync=<ws url>`) in two browser contexts — two clients, each with its own
// OPFS and leader — and the real sync server (livestore-rs-server, in-memory
// storage) on 127.0.0.1. Client A reaches the server through a TCP proxy
// that the tests cut to take A offline.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'

import { REPO_ROOT, assertPkgBuilt, buildTestApp, describeProblems, freePort, launchChromium, resultPath, run, startProcess, startProxy, startStaticServer, waitForUrl } from './helpers.mjs'

let browser
let web
let sync // the sync server process
let syncPort
let validating // the example server with a validation hook (server/examples/validating.rs)
let validatingPort
let workDir

before(async () => {
  assertPkgBuilt()
  workDir = await mkdtemp(join(tmpdir(), 'livestore-rs-sync-'))
  await buildTestApp('persist-app', workDir, [{ outDir: join(workDir, 'www'), env: { SCHEMA_VERSION: '1' } }])
  await run('cargo', ['build', '--quiet', '-p', 'livestore-rs-server', '--bin', 'livestore-rs-server', '--example', 'validating'], { cwd: REPO_ROOT, timeoutMs: 600_000 })
  ;[syncPort, validatingPort] = [await freePort(), await freePort()]
  sync = startProcess(join(REPO_ROOT, 'target', 'debug', 'livestore-rs-server'), ['--memory', '--port', String(syncPort)])
  validating = startProcess(join(REPO_ROOT, 'target', 'debug', 'examples', 'validating'), [String(validatingPort)])
  await waitForUrl(`http://127.0.0.1:${syncPort}/health`)
  await waitForUrl(`http://127.0.0.1:${validatingPort}/health`)
  ;[browser, web] = await Promise.all([launchChromium(), startStaticServer(join(workDir, 'www'))])
})

after(async () => {
  await browser?.close()
  await web?.close()
  await sync?.stop()
  await validating?.stop()
  if (workDir && !process.env.KEEP_E2E_TMP) await rm(workDir, { recursive: true, force: true })
})

/** A client: a browser context (its own OPFS, locks and leader) recording what goes wrong. */
async function newClient(name, syncUrl) {
  const context = await browser.newContext()
  const problems = []
  context.on('page', (page) => {
    page.on('pageerror', (err) => problems.push(`${name} pageerror: ${err.stack || err.message}`))
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/favicon|Failed to load resource|WebSocket/.test(msg.text())) problems.push(`${name} console.error: ${msg.text()}`)
    })
  })
  return { name, context, problems, syncUrl }
}

async function openApp(client, storeId) {
  const page = await client.context.newPage()
  await page.goto(`${web.url}?store=${encodeURIComponent(storeId)}&sync=${encodeURIComponent(client.syncUrl)}`)
  await page.waitForFunction(() => window.__app?.ready || window.__app?.bootError, null, { timeout: 30_000 })
  const bootError = await page.evaluate(() => window.__app.bootError)
  assert.equal(bootError, undefined, `${client.name}: boot failed: ${JSON.stringify(bootError)}${describeProblems(client.problems)}`)
  return page
}

/** Waits until `fn` (run in the page) returns a truthy value. */
async function until(page, fn, arg, what, timeout = 30_000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 50 })
  } catch (err) {
    const state = await page.evaluate(() => JSON.stringify({ rows: window.__app.latest.length, sync: window.__app.syncStatus(), errors: window.__app.errors })).catch((e) => e.message)
    await page.screenshot({ path: await resultPath(`sync-${what.replace(/\W+/g, '-')}.png`) }).catch(() => {})
    throw new Error(`${what}: ${err.message}; the page has ${state}`)
  }
}

const ids = (page) => page.evaluate(() => window.__app.latest)
const synced = (page, count) => until(page, (n) => window.__app.latest.length === n && window.__app.syncStatus().pending === 0 && window.__app.syncStatus().online, count, `${count} rows, all synced`)

test('edits on two clients converge through the server', async () => {
  const a = await newClient('A', `ws://127.0.0.1:${syncPort}`)
  const b = await newClient('B', `ws://127.0.0.1:${syncPort}`)
  try {
    const pa = await openApp(a, 'converge')
    const pb = await openApp(b, 'converge')
    await until(pa, () => window.__app.syncStatus().online, null, 'A online')
    await until(pb, () => window.__app.syncStatus().online, null, 'B online')
    await pa.evaluate(() => window.__app.add('a', 20))
    await pb.evaluate(() => window.__app.add('b', 20))
    await synced(pa, 40)
    await synced(pb, 40)
    assert.deepEqual(await ids(pa), await ids(pb))
    // A change of B shows up in A (live pull).
    await pb.evaluate(() => window.__app.store.commit({ name: 'v1.TodoCompleted', args: { id: window.__app.latest[0] } }))
    await until(pa, () => window.__app.rows()[0].completed === true, null, "B's completion reaches A")
    assert.deepEqual(await pa.evaluate(() => window.__app.errors), [])
    assert.deepEqual(await pb.evaluate(() => window.__app.errors), [])
    assert.deepEqual([...a.problems, ...b.problems], [])
  } finally {
    await a.context.close()
    await b.context.close()
  }
})

test('a client offline keeps committing; after reconnecting both converge', async () => {
  const proxy = await startProxy(syncPort)
  const a = await newClient('A', proxy.url)
  const b = await newClient('B', `ws://127.0.0.1:${syncPort}`)
  try {
    const pa = await openApp(a, 'offline')
    const pb = await openApp(b, 'offline')
    await pa.evaluate(() => window.__app.add('a', 5))
    await synced(pa, 5)
    await synced(pb, 5)

    proxy.cut()
    await until(pa, () => !window.__app.syncStatus().online, null, 'A sees it is offline')
    await pa.evaluate(() => window.__app.add('a', 10))
    await pb.evaluate(() => window.__app.add('b', 10))
    await until(pa, () => window.__app.latest.length === 15 && window.__app.syncStatus().pending === 10, null, 'A has its own 10 pending')
    await synced(pb, 15) // B alone: its own events synced, A's are not there

    proxy.restore() // A reconnects by itself (backoff)
    await synced(pa, 25)
    await synced(pb, 25)
    assert.deepEqual(await ids(pa), await ids(pb))
    // A's offline events came after B's in the server's order: A rebased them.
    const rebased = await pa.evaluate(async () => (await window.__app.leaderEvents()).filter((e) => e.args.id?.startsWith('a-') && e.seqNum.rebaseGeneration > 0).length)
    assert.ok(rebased >= 10, `A's offline events were rebased (${rebased})`)
    assert.deepEqual([...a.problems, ...b.problems], [])
  } finally {
    await a.context.close()
    await b.context.close()
    await proxy.close()
  }
})

test("the leader tab of a client closes mid-sync: its other tab takes over and nothing is lost", async () => {
  const a = await newClient('A', `ws://127.0.0.1:${syncPort}`)
  const b = await newClient('B', `ws://127.0.0.1:${syncPort}`)
  try {
    const leaderTab = await openApp(a, 'takeover') // the first tab's worker leads
    const otherTab = await openApp(a, 'takeover')
    const pb = await openApp(b, 'takeover')
    await leaderTab.evaluate(() => window.__app.startBurst({ prefix: 'l', intervalMs: 2, perTick: 5, flushEvery: 4 }))
    await until(pb, () => window.__app.latest.length >= 30, null, 'B sees the burst')
    const flushed = await leaderTab.evaluate(async () => {
      await window.__app.stopBurst()
      return window.__app.flushed
    })
    await leaderTab.close() // the leader goes while events are still on their way to the server
    await otherTab.evaluate(() => window.__app.add('o', 5))
    const expected = flushed.length + 5
    await until(otherTab, (n) => window.__app.latest.length >= n && window.__app.syncStatus().pending === 0 && window.__app.syncStatus().online, expected, 'the other tab leads and syncs')
    const count = await otherTab.evaluate(() => window.__app.latest.length)
    await synced(pb, count)
    const seen = new Set(await ids(pb))
    for (const id of flushed) assert.ok(seen.has(id), `flushed ${id} reached B`)
    assert.deepEqual(await ids(otherTab), await ids(pb))
    assert.deepEqual([...a.problems, ...b.problems], [])
  } finally {
    await a.context.close()
    await b.context.close()
  }
})

test('an event the server refuses is rolled back on the committing client and reported; the others stay', async () => {
  const a = await newClient('A', `ws://127.0.0.1:${validatingPort}`)
  const b = await newClient('B', `ws://127.0.0.1:${validatingPort}`)
  try {
    const pa = await openApp(a, 'validated')
    const pb = await openApp(b, 'validated')
    await until(pa, () => window.__app.syncStatus().online, null, 'A online')
    await pa.evaluate(() => {
      const { store } = window.__app
      store.commit({ name: 'v1.TodoCreated', args: { id: 'a1', text: 'fine' } })
      store.commit({ name: 'v1.TodoCreated', args: { id: 'a2', text: 'a forbidden word' } })
      store.commit({ name: 'v1.TodoCreated', args: { id: 'a3', text: 'fine too' } })
    })
    await until(pa, () => window.__app.errors.some((e) => e.code === 'EVENT_REJECTED'), null, 'A hears of the refusal')
    await synced(pa, 2)
    await synced(pb, 2)
    assert.deepEqual(await ids(pa), ['a1', 'a3'])
    assert.deepEqual(await ids(pb), ['a1', 'a3'])
    const errors = await pa.evaluate(() => window.__app.errors)
    assert.equal(errors.length, 1, JSON.stringify(errors))
    assert.equal(errors[0].phase, 'sync')
    assert.match(errors[0].message, /not allowed/)
    assert.deepEqual(await pb.evaluate(() => window.__app.errors), [])
  } finally {
    await a.context.close()
    await b.context.close()
  }
})

test("the app's conflict rule (makeSchema onRebase) decides what a rebased event becomes", async () => {
  const proxy = await startProxy(syncPort)
  const a = await newClient('A', proxy.url)
  const b = await newClient('B', `ws://127.0.0.1:${syncPort}`)
  try {
    const pa = await openApp(a, 'conflict')
    const pb = await openApp(b, 'conflict')
    await until(pa, () => window.__app.syncStatus().online, null, 'A online')
    proxy.cut()
    await until(pa, () => !window.__app.syncStatus().online, null, 'A offline')
    // Both create a todo with the same id; B's reaches the server first.
    await pa.evaluate(() => window.__app.store.commit({ name: 'v1.TodoCreated', args: { id: 'same', text: 'from A' } }))
    await pb.evaluate(() => window.__app.store.commit({ name: 'v1.TodoCreated', args: { id: 'same', text: 'from B' } }))
    await synced(pb, 1)
    proxy.restore()
    await synced(pa, 2)
    await synced(pb, 2)
    const rows = (page) => page.evaluate(() => window.__app.rows().map((r) => `${r.id}: ${r.text}`))
    assert.deepEqual(await rows(pa), ['same: from B', 'same-copy: from A'])
    assert.deepEqual(await rows(pb), await rows(pa))
    assert.deepEqual(await pa.evaluate(() => window.__app.errors), [])
  } finally {
    await a.context.close()
    await b.context.close()
    await proxy.close()
  }
})
