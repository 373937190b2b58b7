// The devtools page (www/devtools/) against the demo, as a developer uses
// it: the demo served by the Vite dev server and synced through the sync
// server (as scripts/dev does), the devtools page in a second tab of the same
// browser profile. The sync server starts only after the first commits, so
// that the eventlog shows them pending first, then synced.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'

import { startDemoServer } from '../../scripts/serve-www.mjs'
import { REPO_ROOT, assertPkgBuilt, describeProblems, freePort, launchChromium, openPage, resultPath, run, startProcess, waitForUrl } from './helpers.mjs'

let browser
let demo
let sync
let syncPort

before(async () => {
  assertPkgBuilt()
  await run('cargo', ['build', '--quiet', '-p', 'livestore-rs-server', '--bin', 'livestore-rs-server'], { cwd: REPO_ROOT, timeoutMs: 600_000 })
  const port = await freePort()
  syncPort = await freePort()
  ;[browser, demo] = await Promise.all([launchChromium(), startDemoServer({ port, strictPort: true, logLevel: 'warn', syncUrl: `ws://127.0.0.1:${syncPort}` })])
})

after(async () => {
  await browser?.close()
  await demo?.close()
  await sync?.stop()
})

async function startSyncServer() {
  sync = startProcess(join(REPO_ROOT, 'target', 'debug', 'livestore-rs-server'), ['--memory', '--port', String(syncPort)])
  await waitForUrl(`http://127.0.0.1:${syncPort}/health`)
}

/**
 * Decodes PNGs in the browser (drawn on a canvas): for each, its size, its
 * number of colours and the share of pixels not of its most common colour;
 * with two of the same size, the share of pixels that differ between them.
 */
async function inspectPngs(page, ...pngs) {
  return page.evaluate(async (list) => {
    const decode = async (base64) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))
      const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }))
      const ctx = new OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d')
      ctx.drawImage(bitmap, 0, 0)
      return { width: bitmap.width, height: bitmap.height, data: ctx.getImageData(0, 0, bitmap.width, bitmap.height).data }
    }
    const images = await Promise.all(list.map(decode))
    const stats = images.map(({ width, height, data }) => {
      const counts = new Map()
      for (let i = 0; i < data.length; i += 4) {
        const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2]
        counts.set(key, (counts.get(key) ?? 0) + 1)
      }
      const pixels = width * height
      return { width, height, colors: counts.size, inked: (pixels - Math.max(...counts.values())) / pixels }
    })
    let changed
    if (images.length === 2) {
      const [a, b] = images
      if (a.width !== b.width || a.height !== b.height) changed = 1
      else {
        let differ = 0
        for (let i = 0; i < a.data.length; i += 4) {
          if (a.data[i] !== b.data[i] || a.data[i + 1] !== b.data[i + 1] || a.data[i + 2] !== b.data[i + 2]) differ++
        }
        changed = differ / (a.width * a.height)
      }
    }
    return { stats, changed }
  }, pngs.map((p) => p.toString('base64')))
}

test('devtools shows the demo store: tables, eventlog pending then synced, SQL, live queries, sync status, export; screenshots checked', { timeout: 120_000 }, async () => {
  const started = Date.now()
  const { context, page: app, problems } = await openPage(browser)
  const tools = await context.newPage()
  const toolProblems = []
  tools.on('pageerror', (err) => toolProblems.push(`pageerror: ${err.stack || err.message}`))
  tools.on('console', (msg) => msg.type() === 'error' && toolProblems.push(`console.error: ${msg.text()}`))
  const why = () => `${describeProblems(problems)}${describeProblems(toolProblems)}`
  const until = async (page, fn, arg, what, timeout = 15_000) => {
    await page.waitForFunction(fn, arg, { timeout, polling: 50 }).catch(async (err) => {
      await page.screenshot({ path: await resultPath('devtools-failed.png'), fullPage: true }).catch(() => {})
      throw new Error(`${what}: ${err.message}${why()}`)
    })
  }
  /** A screenshot of a panel (kept in test-results/), checked to show something. */
  const shot = async (name, file = name) => {
    const png = await tools.locator(`#panel-${name}`).screenshot({ path: await resultPath(`devtools-${file}.png`) })
    const [decoded] = (await inspectPngs(tools, png)).stats
    assert.ok(decoded.width > 200 && decoded.height > 40, `${name}: a real panel (${decoded.width}×${decoded.height})`)
    assert.ok(decoded.colors > 8 && decoded.inked > 0.01, `${name}: the screenshot is not blank (${decoded.colors} colours, ${(decoded.inked * 100).toFixed(1)}% inked)`)
    return png
  }
  const changedShare = async (a, b) => (await inspectPngs(tools, a, b)).changed
  try {
    // --- the app, committing while the sync server is not up yet
    await app.goto(demo.url, { waitUntil: 'load', timeout: 60_000 })
    await until(app, () => document.querySelector('#root')?.dataset.ready === 'true', null, 'the demo did not start', 60_000)
    for (const text of ['Buy milk', 'Walk the dog']) {
      await app.fill('#new-todo', text)
      await app.press('#new-todo', 'Enter')
    }
    await until(app, () => document.querySelectorAll('#todo-list li').length === 2, null, 'the demo shows both todos')
    const ids = await app.evaluate(() => ({ clientId: window.__store.clientId, sessionId: window.__store.sessionId }))
    await app.evaluate(() => window.__store.flush())

    // --- the devtools page finds the store
    await tools.goto(`${demo.url}devtools/`, { waitUntil: 'load', timeout: 60_000 })
    await until(tools, () => document.querySelector('#devtools')?.dataset.state === 'connected', null, 'devtools found no store')
    assert.equal(await tools.textContent('[data-key="storeId"]'), 'demo')
    assert.equal(await tools.textContent('[data-key="sessionId"]'), ids.sessionId)
    assert.equal(await tools.textContent('[data-key="persisted"]'), 'true')

    // --- tables and their rows, client documents included
    await until(tools, () => document.querySelectorAll('#panel-tables tr[data-id]').length === 2, null, 'the todos rows')
    const tableButtons = await tools.locator('#panel-tables [data-table]').allTextContents()
    assert.deepEqual(tableButtons, ['todos2', 'uiStateclient document1'], 'name, client-document tag, row count')
    const todoRows = await tools.locator('#panel-tables tbody tr').allTextContents()
    assert.ok(todoRows[0].includes('Buy milk') && todoRows[1].includes('Walk the dog'), `rows: ${todoRows}`)
    await tools.click('[data-table="uiState"]')
    await until(tools, (sid) => document.querySelector(`#panel-tables tr[data-id="${sid}"]`)?.textContent.includes('"filter":"all"'), ids.sessionId, 'the uiState document of the session')
    await tools.click('[data-table="todos"]')
    await until(tools, () => document.querySelectorAll('#panel-tables tr[data-id]').length === 2, null, 'back to the todos')

    // --- the eventlog: both events, newest first, pending while no server confirmed them
    const created = () =>
      tools.$$eval('#panel-eventlog tr[data-name="v1.TodoCreated"]', (rows) => rows.map((r) => ({ seq: r.dataset.seq, status: r.dataset.status, cells: [...r.cells].map((c) => c.textContent) })))
    await until(tools, () => document.querySelectorAll('#panel-eventlog tr[data-name="v1.TodoCreated"]').length === 2, null, 'the two events in the eventlog')
    const events = await created()
    assert.deepEqual(events.map((e) => e.seq), ['e2', 'e1'], 'newest first, numbered as the project prints seqNums')
    assert.ok(events[0].cells[2].includes('"text":"Walk the dog"') && events[1].cells[2].includes('"text":"Buy milk"'), `args: ${JSON.stringify(events)}`)
    assert.deepEqual(events.map((e) => [e.cells[3], e.cells[4]]), [[ids.clientId, ids.sessionId], [ids.clientId, ids.sessionId]])
    assert.deepEqual(events.map((e) => e.status), ['pending', 'pending'])
    assert.ok((await tools.locator('#panel-eventlog tr[data-name="uiStateSet"] .tag').count()) > 0, 'typing committed client-only uiStateSet events, marked so')
    await until(tools, () => document.querySelector('#panel-sync [data-key="pending"]')?.textContent === '2', null, 'sync status: 2 pending')
    assert.equal(await tools.getAttribute('#panel-sync [data-key="connection"]', 'data-state'), 'offline')
    const pendingShot = await shot('eventlog', 'eventlog-pending')

    // --- the server comes up: the same rows turn synced, live
    await startSyncServer()
    // The leader retries with a growing backoff; "the network is back" makes it try at once.
    for (const w of app.workers()) await w.evaluate(() => dispatchEvent(new Event('online'))).catch(() => {})
    await until(tools, () => [...document.querySelectorAll('#panel-eventlog tr[data-name="v1.TodoCreated"]')].every((r) => r.dataset.status === 'synced'), null, 'the events turn synced once the server has them', 30_000)
    await until(tools, () => document.querySelector('#panel-sync [data-key="connection"]')?.dataset.state === 'online', null, 'sync status: online')
    assert.equal(await tools.textContent('#panel-sync [data-key="pending"]'), '0')
    assert.match(await tools.textContent('#panel-sync [data-key="backend id"]'), /^[0-9a-f-]{8,}$/)
    assert.match(await tools.textContent('#panel-eventlog .summary'), /sync head e2/)
    const syncedShot = await shot('eventlog', 'eventlog-synced')
    assert.ok((await changedShare(pendingShot, syncedShot)) > 0.001, 'the eventlog screenshot changed when the events were synced')

    // --- live queries: run counts grow with a commit that changes their results
    const liveRuns = () =>
      tools.$$eval('#panel-live-queries tbody tr', (rows) => rows.map((r) => ({ label: r.dataset.label, query: r.querySelector('.sql').textContent, runs: Number(r.dataset.runs) })))
    await until(tools, () => document.querySelectorAll('#panel-live-queries tbody tr').length >= 4, null, 'the demo has four live queries')
    const runsBefore = await liveRuns()
    const visible = (list) => list.find((q) => q.query.includes('"deletedAt":null') && q.query.includes('orderBy'))
    assert.ok(visible(runsBefore)?.runs >= 1, `the list query is there: ${JSON.stringify(runsBefore)}`)
    assert.ok(runsBefore.some((q) => q.label === 'queryDb:uiState'))
    const beforeCommit = await shot('eventlog', 'eventlog-before-commit')
    await app.fill('#new-todo', 'Call mom')
    await app.press('#new-todo', 'Enter')
    await until(tools, (n) => {
      const row = [...document.querySelectorAll('#panel-live-queries tbody tr')].find((r) => r.querySelector('.sql').textContent.includes('"deletedAt":null') && r.querySelector('.sql').textContent.includes('orderBy'))
      return Number(row?.dataset.runs) > n
    }, visible(runsBefore).runs, 'the run count of the list query grew after the commit')
    await until(tools, () => document.querySelector('#panel-eventlog tr[data-name="v1.TodoCreated"]')?.textContent.includes('Call mom'), null, 'the new event on top of the eventlog')
    await until(tools, () => document.querySelectorAll('#panel-tables tr[data-id]').length === 3, null, 'the new row in the todos table')
    await until(tools, () => document.querySelector('#panel-eventlog tr[data-name="v1.TodoCreated"]')?.dataset.status === 'synced', null, 'the new event synced')
    const afterCommit = await shot('eventlog', 'eventlog-after-commit')
    assert.ok((await changedShare(beforeCommit, afterCommit)) > 0.001, 'the eventlog screenshot changed after the commit')
    await shot('live-queries')
    await shot('tables')
    await shot('sync')

    // --- SQL console: a read, a bad SQL, a refused write
    const runSql = async (sql) => {
      await tools.fill('#sql-input', sql)
      await tools.click('#sql-run')
      await until(tools, () => !document.querySelector('#sql-run').disabled && document.querySelector('#sql-result').childElementCount > 0, null, `the console ran ${sql}`)
    }
    await runSql('SELECT text, completed FROM todos ORDER BY id')
    assert.deepEqual(await tools.locator('#sql-result th').allTextContents(), ['text', 'completed'])
    assert.deepEqual(await tools.locator('#sql-result tbody td:first-child').allTextContents(), ['Buy milk', 'Walk the dog', 'Call mom'])
    assert.match(await tools.textContent('#sql-result .summary'), /^3 rows/)
    await shot('sql')
    await runSql('SELEC * FROM todos')
    assert.equal(await tools.getAttribute('#sql-result .error', 'data-code'), 'SQL_ERROR')
    assert.match(await tools.textContent('#sql-result .error'), /^SQL_ERROR .*syntax error/)
    await runSql('DELETE FROM todos')
    assert.equal(await tools.getAttribute('#sql-result .error', 'data-code'), 'INVALID_QUERY')
    assert.match(await tools.textContent('#sql-result .error'), /writes: a query can only read; the state changes only through events/)
    assert.equal(await app.evaluate(() => window.__store.query({ query: 'SELECT count(*) AS n FROM todos' })[0].n), 3, 'the refused write changed nothing')

    // --- export: both files download, and are SQLite databases holding the events
    const downloads = []
    tools.on('download', (d) => downloads.push(d))
    await tools.click('#export-run')
    await until(tools, () => document.querySelectorAll('#export-result a.download').length === 2, null, 'the export links')
    for (let i = 0; i < 100 && downloads.length < 2; i++) await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(downloads.map((d) => d.suggestedFilename()).sort(), ['demo-eventlog.db', 'demo-state.db'])
    for (const d of downloads) {
      const path = await resultPath(`devtools-${d.suggestedFilename()}`)
      await d.saveAs(path)
      const bytes = await readFile(path)
      assert.ok(bytes.length >= 4096, `${d.suggestedFilename()}: ${bytes.length} bytes`)
      assert.equal(bytes.subarray(0, 16).toString('latin1'), 'SQLite format 3\0', `${d.suggestedFilename()} is a SQLite file`)
      assert.ok(bytes.includes(Buffer.from(d.suggestedFilename().includes('eventlog') ? 'v1.TodoCreated' : 'Call mom')), `${d.suggestedFilename()} holds the data`)
    }
    await shot('export')

    // --- pages: 60 more events; the eventlog and the table go back and forth a page of 50 at a time
    await app.evaluate(() => window.__store.commit(Array.from({ length: 60 }, (_, i) => ({ name: 'v1.TodoCreated', args: { id: `bulk-${String(i).padStart(2, '0')}`, text: `bulk ${i}` } }))))
    const topSeq = () => tools.getAttribute('#panel-eventlog tbody tr:first-child', 'data-seq')
    await until(tools, () => document.querySelector('#panel-eventlog tbody tr')?.dataset.seq === 'e63', null, 'the newest page starts at e63')
    assert.equal(await tools.locator('#panel-eventlog tbody tr').count(), 50)
    await tools.click('#panel-eventlog [data-page="older"]')
    await until(tools, () => document.querySelector('#panel-eventlog tbody tr')?.dataset.seq === 'e13', null, 'the older page starts where the newest ended')
    assert.equal(await tools.locator('#panel-eventlog tbody tr').count(), 19, 'e13…e4, then the first 9 events (e3.1 … e0.1)')
    assert.equal(await tools.locator('#panel-eventlog tbody tr:last-child').getAttribute('data-seq'), 'e0.1')
    assert.equal(await tools.isDisabled('#panel-eventlog [data-page="older"]'), true)
    await tools.click('#panel-eventlog [data-page="newer"]')
    await until(tools, () => document.querySelector('#panel-eventlog tbody tr')?.dataset.seq === 'e63', null, 'back to the newest page')
    assert.equal(await topSeq(), 'e63')
    await until(tools, () => /rows 1–50 of 63/.test(document.querySelector('#panel-tables .range')?.textContent), null, 'the first page of 63 rows')
    await tools.click('#panel-tables [data-page="next"]')
    await until(tools, () => /rows 51–63 of 63/.test(document.querySelector('#panel-tables .range')?.textContent), null, 'the second page of rows')
    assert.equal(await tools.locator('#panel-tables tbody tr').count(), 13)

    // --- a second tab of the app is a second store to pick; it leaves when its tab closes
    const second = await context.newPage()
    await second.goto(demo.url, { waitUntil: 'load' })
    await until(tools, () => document.querySelectorAll('#store-picker option').length === 2, null, 'the second tab is listed')
    assert.equal(await tools.textContent('[data-key="sessionId"]'), ids.sessionId, 'the store picked stays picked')
    await second.close()
    await until(tools, () => document.querySelectorAll('#store-picker option').length === 1, null, 'the closed tab is no longer listed')

    await tools.screenshot({ path: await resultPath('devtools.png'), fullPage: true })
    const errors = [...problems, ...toolProblems].filter((p) => p.startsWith('pageerror') || p.startsWith('HTTP'))
    assert.deepEqual(errors, [], 'errors in the pages')
    console.log(`devtools e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  } catch (err) {
    await tools.screenshot({ path: await resultPath('devtools-failed.png'), fullPage: true }).catch(() => {})
    throw err
  } finally {
    await context.close()
  }
})
