// Persistence and tabs, end to end: the Vite app of tests/persist-app (its
// leader worker imported with `?worker`, as the README shows) in headless
// Chromium, with real OPFS on a 127.0.0.1 origin.
//
// The app is built twice, v1 and v2 (SCHEMA_VERSION=2: a changed
// materializer), and both builds are served side by side (/v1/, /v2/) from one
// origin, so that they share OPFS. Each test uses its own browser context (its
// own OPFS and Web Locks) and store id. Pages of one context are the tabs.
//
// Consistency is checked against the leader itself: the app asks the leader
// for its whole eventlog over the store's channel, replays it into a fresh
// in-memory store, and the rows must equal the persisted state the session
// booted from.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'

import { REPO_ROOT, assertPkgBuilt, buildTestApp, launchChromium, resultPath, run, startStaticServer } from './helpers.mjs'

let browser
let server
let workDir

before(async () => {
  assertPkgBuilt()
  workDir = await mkdtemp(join(tmpdir(), 'livestore-rs-persist-'))
  const build = (version) => ({ outDir: join(workDir, 'www', `v${version}`), env: { SCHEMA_VERSION: String(version) } })
  await buildTestApp('persist-app', workDir, [build(1), build(2)])
  ;[browser, server] = await Promise.all([launchChromium(), startStaticServer(join(workDir, 'www'))])
})

after(async () => {
  await browser?.close()
  await server?.close()
  if (workDir && !process.env.KEEP_E2E_TMP) await rm(workDir, { recursive: true, force: true })
})

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** A browser context (one "browser profile": its own OPFS and locks) that records what goes wrong in its pages. */
async function newProfile({ initScript } = {}) {
  const context = await browser.newContext()
  if (initScript) await context.addInitScript(initScript)
  const problems = []
  const warnings = []
  context.on('page', (page) => watch(page, problems, warnings))
  return { context, problems, warnings }
}

function watch(page, problems, warnings) {
  const tag = () => page.url().replace(server.url, '/')
  page.on('pageerror', (err) => problems.push(`${tag()} pageerror: ${err.stack || err.message}`))
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/favicon|Failed to load resource/.test(msg.text())) problems.push(`${tag()} console.error: ${msg.text()}`)
    if (msg.type() === 'warning') warnings.push(msg.text())
  })
}

/** Opens the app (a tab) and waits until its store booted. */
async function openApp(profile, storeId, version = 1) {
  const page = await profile.context.newPage()
  await page.goto(`${server.url}v${version}/?store=${encodeURIComponent(storeId)}`)
  try {
    await page.waitForFunction(() => window.__app?.ready || window.__app?.bootError, null, { timeout: 30_000 })
  } catch (err) {
    await page.screenshot({ path: await resultPath(`persist-${storeId}-boot.png`) }).catch(() => {})
    throw new Error(`${storeId}: the app did not boot: ${err.message}\n${profile.problems.join('\n')}`)
  }
  const bootError = await page.evaluate(() => window.__app.bootError)
  assert.equal(bootError, undefined, `${storeId}: boot failed: ${JSON.stringify(bootError)}\n${profile.problems.join('\n')}`)
  return page
}

const app = (page, fn, arg) => page.evaluate(fn, arg)

/** Waits until `fn` (run in the page) returns a truthy value. */
async function until(page, fn, arg, what, timeout = 20_000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 50 })
  } catch (err) {
    throw new Error(`${what}: ${err.message}; the page has ${await page.evaluate(() => JSON.stringify({ latest: window.__app.latest.length, errors: window.__app.errors })).catch((e) => e.message)}`)
  }
}

/**
 * The leader's eventlog against the state this page's session booted from:
 * replaying the log gives the same rows, one TodoCreated per row, nothing twice.
 */
async function checkLogMatchesState(page, label) {
  const r = await app(page, async () => {
    const events = await window.__app.leaderEvents()
    const rows = window.__app.rows()
    return { rows, replayed: await window.__app.replay(events), created: events.filter((e) => e.name === 'v1.TodoCreated').map((e) => e.args.id) }
  })
  assert.equal(new Set(r.created).size, r.created.length, `${label}: an event is twice in the eventlog`)
  assert.equal(r.created.length, r.rows.length, `${label}: TodoCreated events in the eventlog vs rows in the state`)
  assert.deepEqual(r.rows, r.replayed, `${label}: the persisted state differs from a replay of the eventlog`)
  return r.rows.map((row) => row.id)
}

test("the app type-checks against the package's .d.ts ('livestore-rs' and 'livestore-rs/worker')", async () => {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  await run(process.execPath, [tsc, '-p', join(workDir, 'app', 'tsconfig.json'), '--pretty', 'false'], { cwd: join(workDir, 'app') })
})

test('a reload keeps the data and the identity; boot reports its stages; the files export', async () => {
  const profile = await newProfile()
  try {
    const page = await openApp(profile, 'reload')
    const first = await app(page, async () => {
      const a = window.__app
      a.add('r', 20)
      await a.flush()
      a.store.commit({ name: 'uiStateSet', args: { id: '__session__', value: { filter: 'active' } } })
      await a.store.flush()
      return { boot: a.boot, persisted: a.store.persisted, clientId: a.store.clientId, sessionId: a.store.sessionId, files: await a.export() }
    })
    assert.equal(first.persisted, true)
    const stages = first.boot.map((s) => s.stage)
    assert.equal(stages[0], 'loading')
    assert.deepEqual(stages.slice(-2), ['syncing', 'done'], JSON.stringify(first.boot))
    assert.deepEqual(first.files.headers, ['SQLite format 3', 'SQLite format 3'])
    assert.ok(first.files.eventlog > 0 && first.files.state > 0)

    await page.reload()
    await page.waitForFunction(() => window.__app?.ready || window.__app?.bootError, null, { timeout: 30_000 })
    const again = await app(page, () => {
      const a = window.__app
      return {
        ids: a.rows().map((r) => r.id),
        clientId: a.store.clientId,
        sessionId: a.store.sessionId,
        boot: a.boot.map((s) => s.stage),
        ui: a.store.query({ query: "SELECT value FROM uiState WHERE id = :id", bindValues: { id: a.store.sessionId }, result: 'first' }),
      }
    })
    assert.equal(again.ids.length, 20)
    assert.equal(again.clientId, first.clientId, 'the clientId is kept per browser profile')
    assert.equal(again.sessionId, first.sessionId, 'the sessionId is kept across reloads of the tab')
    assert.ok(!again.boot.includes('migrating'), `no rebuild on a plain reload: ${again.boot}`)
    assert.match(JSON.stringify(again.ui), /active/, 'the client document of this session was persisted')

    const other = await openApp(profile, 'reload')
    const ids2 = await app(other, () => ({ clientId: window.__app.store.clientId, sessionId: window.__app.store.sessionId, n: window.__app.rows().length }))
    assert.equal(ids2.clientId, first.clientId, 'one clientId per profile')
    assert.notEqual(ids2.sessionId, first.sessionId, 'one sessionId per tab')
    assert.equal(ids2.n, 20)

    // A graceful close hands the leadership over: the other tab goes on persisting.
    await app(page, () => window.__app.store.close())
    await app(other, async () => {
      window.__app.add('s', 5)
      await window.__app.flush()
    })
    await page.close()
    await other.reload()
    await other.waitForFunction(() => window.__app?.ready, null, { timeout: 30_000 })
    assert.equal((await checkLogMatchesState(other, 'after handover')).length, 25)
    assert.deepEqual(profile.problems, [])
  } finally {
    await profile.context.close()
  }
})

test("three tabs see each other's commits in their subscriptions and converge", async () => {
  const profile = await newProfile()
  try {
    const tabs = []
    for (let i = 0; i < 3; i++) tabs.push(await openApp(profile, 'tabs'))
    // One commit per tab: each shows up in the other tabs' subscriptions.
    await Promise.all(tabs.map((p, i) => app(p, (prefix) => window.__app.add(prefix, 1), `t${i}`)))
    for (const p of tabs) await until(p, () => window.__app.latest.length === 3, null, 'every tab sees the 3 first todos')

    // Concurrent bursts: pushes race at the leader, losers pull and rebase.
    await Promise.all(
      tabs.map((p, i) =>
        app(
          p,
          async (prefix) => {
            for (let k = 0; k < 6; k++) {
              window.__app.add(prefix, 5)
              await new Promise((r) => setTimeout(r, Math.random() * 15))
            }
            await window.__app.flush()
          },
          `t${i}`,
        ),
      ),
    )
    for (const p of tabs) await until(p, () => window.__app.latest.length === 93, null, 'every tab sees all 93 todos')
    const views = await Promise.all(tabs.map((p) => app(p, () => window.__app.latest)))
    assert.deepEqual(views[1], views[0])
    assert.deepEqual(views[2], views[0])
    const logged = await checkLogMatchesState(await openApp(profile, 'tabs'), 'three tabs')
    assert.deepEqual(logged, views[0])
    assert.deepEqual(profile.problems, [])
  } finally {
    await profile.context.close()
  }
})

test("the leader's own tab talks to it over the worker's port, the other tabs over the channel", async () => {
  // Counts what each page posts on BroadcastChannels (the workers' posts are not counted).
  const profile = await newProfile({
    initScript: () => {
      window.__channelPosts = 0
      const post = BroadcastChannel.prototype.postMessage
      BroadcastChannel.prototype.postMessage = function (m) {
        window.__channelPosts++
        return post.call(this, m)
      }
    },
  })
  const posts = (page) => page.evaluate(() => window.__channelPosts)
  try {
    const own = await openApp(profile, 'port')
    const before = await posts(own)
    await app(own, async () => {
      window.__app.add('own', 5)
      await window.__app.flush()
    })
    assert.equal(await posts(own) - before, 0, 'the own tab pushed to its leader without the channel')

    const other = await openApp(profile, 'port')
    const otherBefore = await posts(other)
    await app(other, async () => {
      window.__app.add('other', 3)
      await window.__app.flush()
    })
    assert.ok((await posts(other)) - otherBefore > 0, 'the other tab pushes over the channel')
    for (const p of [own, other]) await until(p, () => window.__app.latest.length === 8, null, 'both tabs see all 8 todos')
    await app(own, () => window.__app.flush())
    assert.equal(await posts(own) - before, 0, "the own tab heard the other tab's events from its worker")
    await checkLogMatchesState(own, 'port and channel')
    assert.deepEqual(profile.problems, [])
  } finally {
    await profile.context.close()
  }
})

test('the leader tab closes during a burst: the others go on, nothing flushed is lost', async () => {
  const profile = await newProfile()
  try {
    const leader = await openApp(profile, 'handover') // the first tab's worker takes the lock
    const tabs = [await openApp(profile, 'handover'), await openApp(profile, 'handover')]
    const burst = { intervalMs: 5, perTick: 2, flushEvery: 4 }
    for (const [i, p] of [leader, ...tabs].entries()) await app(p, (o) => window.__app.startBurst(o), { ...burst, prefix: `h${i}` })
    await sleep(800)
    const leaderFlushed = await app(leader, () => window.__app.flushed)
    assert.ok(leaderFlushed.length > 0, 'the leader tab flushed something before it closed')
    await leader.close()
    await sleep(1200)
    const sides = await Promise.all(
      tabs.map((p) =>
        app(p, async () => {
          await window.__app.stopBurst()
          await window.__app.flush()
          return { committed: window.__app.committed, errors: window.__app.errors }
        }),
      ),
    )
    const expected = new Set([...leaderFlushed, ...sides[0].committed, ...sides[1].committed])
    // The log may hold more than `expected` (the closed tab's unflushed events that
    // the leader had stored): wait until both tabs show the same, complete list.
    let views
    for (const deadline = Date.now() + 20_000; ; await sleep(50)) {
      views = await Promise.all(tabs.map((p) => app(p, () => window.__app.latest)))
      const same = views[0].length === views[1].length && views[0].every((id, i) => id === views[1][i])
      if ((same && views[0].length >= expected.size) || Date.now() > deadline) break
    }
    assert.deepEqual(views[1], views[0], 'both remaining tabs show the same todos')
    const missing = [...expected].filter((id) => !views[0].includes(id))
    assert.deepEqual(missing, [], 'every flushed todo is there')
    assert.deepEqual(sides.flatMap((s) => s.errors), [])
    const logged = await checkLogMatchesState(tabs[0], 'after the leader closed')
    assert.deepEqual(logged, views[0])
    assert.deepEqual(profile.problems, [])
  } finally {
    await profile.context.close()
  }
})

test('killed during a burst, 12 times (close without flush, renderer crash): the eventlog and the state always agree', async (t) => {
  const profile = await newProfile()
  const flushed = new Set()
  const kills = [] // per kill: committed, flushed (known durable when killed), and found after the reopen
  let unflushedAtKill = 0
  try {
    for (let i = 0; i < 12; i++) {
      const page = await openApp(profile, 'kill')
      const ids = await checkLogMatchesState(page, `reopen #${i}`)
      const lost = [...flushed].filter((id) => !ids.includes(id))
      assert.deepEqual(lost, [], `reopen #${i}: flushed todos are missing`)
      if (i > 0) kills.at(-1).found = ids.filter((id) => id.startsWith(`k${i - 1}-`)).length
      await app(page, (o) => window.__app.startBurst(o), { prefix: `k${i}`, intervalMs: 2, perTick: 4, flushEvery: 3 })
      await sleep(150 + Math.random() * 350)
      const at = await app(page, () => ({ flushed: window.__app.flushed, committed: window.__app.committed.length }))
      for (const id of at.flushed) flushed.add(id)
      kills.push({ committed: at.committed, flushed: at.flushed.length })
      if (at.committed > at.flushed.length) unflushedAtKill++
      if (i % 2 === 0) {
        await page.close({ runBeforeUnload: false })
      } else {
        const crashed = page.waitForEvent('crash', { timeout: 10_000 })
        const cdp = await page.context().newCDPSession(page)
        cdp.send('Page.crash').catch(() => {}) // never answers: the renderer is gone
        await crashed
        await page.close().catch(() => {})
      }
    }
    const page = await openApp(profile, 'kill')
    const ids = await checkLogMatchesState(page, 'final reopen')
    kills.at(-1).found = ids.filter((id) => id.startsWith('k11-')).length
    t.diagnostic(`per kill (committed/flushed/found after reopen): ${kills.map((k) => `${k.committed}/${k.flushed}/${k.found}`).join(' ')}`)
    assert.ok(unflushedAtKill >= 6, 'most kills hit commits that were not flushed yet')
    assert.deepEqual([...flushed].filter((id) => !ids.includes(id)), [], 'flushed todos are missing')
    assert.ok(flushed.size > 50, `the bursts flushed something (${flushed.size})`)
    assert.deepEqual(profile.problems.filter((p) => !/crash/i.test(p)), [])
  } finally {
    await profile.context.close()
  }
})

test('commits not yet durable when the page reloads or closes are committed again at the next boot, once', async () => {
  const profile = await newProfile()
  try {
    let page = await openApp(profile, 'unflushed')
    // A burst, then a reload before the leader worker (which dies with the page) has written it all.
    const reloaded = page.waitForNavigation()
    await app(page, () => {
      window.__app.add('r', 2000)
      setTimeout(() => location.reload(), 0)
    })
    await reloaded
    await page.waitForFunction(() => window.__app?.ready || window.__app?.bootError, null, { timeout: 30_000 })
    await app(page, () => window.__app.flush())
    let ids = await checkLogMatchesState(page, 'after the reload')
    assert.equal(ids.filter((id) => id.startsWith('r-')).length, 2000, 'every todo of the burst is there once')

    // The same when the tab closes; another tab opened later recovers them.
    await app(page, () => void window.__app.add('c', 2000))
    await page.close({ runBeforeUnload: false })
    page = await openApp(profile, 'unflushed')
    await app(page, () => window.__app.flush())
    ids = await checkLogMatchesState(page, 'after the close')
    assert.equal(ids.filter((id) => id.startsWith('c-')).length, 2000, 'every todo of the second burst is there once')
    const recoveries = profile.warnings.filter((w) => /were not durable yet; they were committed again/.test(w))
    assert.ok(recoveries.length >= 1, `a boot recovered events (warnings: ${profile.warnings.join(' | ')})`)
    assert.deepEqual(profile.problems, [])
  } finally {
    await profile.context.close()
  }
})

test('a new build with a changed materializer rebuilds the state from the eventlog, with progress', async () => {
  const profile = await newProfile()
  try {
    const v1 = await openApp(profile, 'migrate', 1)
    await app(v1, async () => {
      window.__app.add('m', 300)
      await window.__app.flush()
    })
    // While a v1 tab leads, a v2 tab (another table layout) must not boot from its snapshot.
    const early = await profile.context.newPage()
    await early.goto(`${server.url}v2/?store=migrate`)
    await early.waitForFunction(() => window.__app?.ready || window.__app?.bootError, null, { timeout: 30_000 })
    assert.equal(await app(early, () => window.__app.bootError?.code), 'SCHEMA_MISMATCH')
    await early.close()
    await app(v1, () => window.__app.store.close())
    await v1.close()

    const v2 = await openApp(profile, 'migrate', 2)
    const r = await app(v2, () => ({ version: window.__app.version, boot: window.__app.boot, rows: window.__app.rows() }))
    assert.equal(r.version, 2)
    const stages = r.boot.map((s) => s.stage)
    assert.ok(stages.includes('migrating'), `boot reports migrating: ${JSON.stringify(r.boot)}`)
    const progress = r.boot.filter((s) => s.stage === 'rehydrating')
    assert.ok(progress.length > 0, `boot reports rehydrating: ${JSON.stringify(r.boot)}`)
    assert.ok(progress.at(-1).total >= 300 && progress.at(-1).done === progress.at(-1).total, JSON.stringify(progress))
    assert.equal(r.rows.length, 300)
    assert.equal(r.rows[0].priority, 0, 'the new column')
    assert.ok(
      r.rows.every((row) => row.text === row.text.toUpperCase()),
      'the v2 materializer made the rows',
    )
    await checkLogMatchesState(v2, 'after the migration')
    await app(v2, () => window.__app.store.close())
    await v2.close()

    // And back: v1 rebuilds again.
    const back = await openApp(profile, 'migrate', 1)
    const rows = await app(back, () => window.__app.rows())
    assert.equal(rows.length, 300)
    assert.ok(rows.every((row) => row.text.startsWith('todo m-')))
    assert.deepEqual(profile.problems, [])
  } finally {
    await profile.context.close()
  }
})

test('an exported eventlog imports into another store, replacing its data', async () => {
  const profile = await newProfile()
  try {
    const page = await openApp(profile, 'export-source')
    const r = await app(page, async () => {
      const a = window.__app
      a.add('x', 7)
      await a.flush()
      return { source: a.rows().map((row) => row.id), imported: await a.importInto('import-target') }
    })
    assert.equal(r.source.length, 7)
    assert.deepEqual(r.imported, r.source)
    assert.deepEqual(profile.problems, [])
  } finally {
    await profile.context.close()
  }
})

test('reset deletes the local data in every tab', async () => {
  const profile = await newProfile()
  try {
    const a = await openApp(profile, 'reset')
    const b = await openApp(profile, 'reset')
    await app(a, async () => {
      window.__app.add('x', 10)
      await window.__app.flush()
    })
    await until(b, () => window.__app.latest.length === 10, null, 'the other tab sees the todos')
    await app(a, () => window.__app.store.reset())
    await until(b, () => window.__app.store.isClosed, null, 'the other tab closes')
    const bErrors = await app(b, () => window.__app.errors.map((e) => e.code))
    assert.deepEqual(bErrors, ['STORE_RESET'])
    assert.equal(await app(a, () => window.__app.store.isClosed), true)
    await b.reload()
    await b.waitForFunction(() => window.__app?.ready, null, { timeout: 30_000 })
    assert.equal(await app(b, () => window.__app.rows().length), 0)

    // resetPersistence({ storeId }) of another store: once while a tab has it
    // open (its leader does it), once with no tab on it (done directly).
    const c = await openApp(profile, 'reset-2')
    await app(c, async () => {
      window.__app.add('y', 4)
      await window.__app.flush()
    })
    await app(b, () => window.__app.resetPersistence({ storeId: 'reset-2' })).catch((e) => {
      throw new Error(e.message + profile.problems.join('\n') + profile.warnings.join('\n'))
    })
    await until(c, () => window.__app.store.isClosed, null, 'the open store closes')
    await c.reload()
    await c.waitForFunction(() => window.__app?.ready, null, { timeout: 30_000 })
    assert.equal(await app(c, () => window.__app.rows().length), 0)
    await app(c, async () => {
      window.__app.add('z', 3)
      await window.__app.store.close()
    })
    await app(b, () => window.__app.resetPersistence({ storeId: 'reset-2' }))
    await c.reload()
    await c.waitForFunction(() => window.__app?.ready, null, { timeout: 30_000 })
    assert.equal(await app(c, () => window.__app.rows().length), 0)
    assert.deepEqual(profile.problems, [])
  } finally {
    await profile.context.close()
  }
})

test('without OPFS the store warns, says persisted === false, and works in memory', async () => {
  const profile = await newProfile({
    initScript: () => {
      if (globalThis.StorageManager) delete StorageManager.prototype.getDirectory
    },
  })
  try {
    const page = await openApp(profile, 'no-opfs')
    const r = await app(page, async () => {
      const a = window.__app
      a.add('n', 3)
      await a.flush()
      return { persisted: a.store.persisted, rows: a.rows().length, boot: a.boot, latest: a.latest.length }
    })
    assert.equal(r.persisted, false)
    assert.equal(r.rows, 3)
    assert.equal(r.latest, 3)
    assert.deepEqual(r.boot.at(-1).stage, 'done')
    assert.equal(r.boot.at(-1).persisted, false)
    assert.match(r.boot.at(-1).reason, /OPFS/)
    assert.ok(profile.warnings.some((w) => /NOT persisted/.test(w) && /OPFS/.test(w)), `a clear warning: ${profile.warnings}`)
    assert.deepEqual(profile.problems, [])
  } finally {
    await profile.context.close()
  }
})
