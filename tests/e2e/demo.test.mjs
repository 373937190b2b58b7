// The demo (www/) as a person uses it: served by the Vite dev server and synced
// through the sync server exactly as scripts/dev does, driven through its UI in
// headless Chromium.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'

import { startDemoServer } from '../../scripts/serve-www.mjs'
import { REPO_ROOT, assertPkgBuilt, describeProblems, freePort, launchChromium, openPage, resultPath, run, startProcess, waitForUrl } from './helpers.mjs'

let browser
let demo
let sync

before(async () => {
  assertPkgBuilt()
  await run('cargo', ['build', '--quiet', '-p', 'livestore-rs-server', '--bin', 'livestore-rs-server'], { cwd: REPO_ROOT, timeoutMs: 600_000 })
  const [port, syncPort] = [await freePort(), await freePort()]
  sync = startProcess(join(REPO_ROOT, 'target', 'debug', 'livestore-rs-server'), ['--memory', '--port', String(syncPort)])
  await waitForUrl(`http://127.0.0.1:${syncPort}/health`)
  const syncUrl = `ws://127.0.0.1:${syncPort}`
  ;[browser, demo] = await Promise.all([launchChromium(), startDemoServer({ port, strictPort: true, logLevel: 'warn', syncUrl })])
})

after(async () => {
  await browser?.close()
  await demo?.close()
  await sync?.stop()
})

test('demo: add two todos, complete one, the counts follow', { timeout: 120_000 }, async () => {
  const { context, page, problems } = await openPage(browser)
  try {
    await page.goto(demo.url, { waitUntil: 'load', timeout: 60_000 })
    await page
      .waitForFunction(() => document.querySelector('#app')?.dataset.ready !== 'false', null, { timeout: 60_000 })
      .catch((err) => {
        throw new Error(`the demo never got ready: ${err.message}${describeProblems(problems)}`)
      })
    const ready = await page.getAttribute('#app', 'data-ready')
    assert.equal(ready, 'true', `the demo failed to start: ${await page.textContent('#error')}${describeProblems(problems)}`)

    const items = page.locator('#todo-list li')
    const activeCount = page.locator('#active-count')
    const completedCount = page.locator('#completed-count')
    // Web-first waits: the DOM updates from subscriptions after each commit.
    const expectText = async (locator, text) => {
      await locator
        .filter({ hasText: text })
        .waitFor({ timeout: 10_000 })
        .catch(async () => {
          throw new Error(`expected "${text}", saw "${await locator.textContent()}"${describeProblems(problems)}`)
        })
    }
    const expectCount = async (n) => {
      await page
        .waitForFunction((n) => document.querySelectorAll('#todo-list li').length === n, n, { timeout: 10_000 })
        .catch(async () => {
          throw new Error(`expected ${n} todos, saw ${await items.count()}${describeProblems(problems)}`)
        })
    }

    await page.fill('#new-todo', 'Buy milk')
    await page.press('#new-todo', 'Enter')
    await expectCount(1)
    await expectText(activeCount, '1 item left')

    await page.fill('#new-todo', 'Walk the dog')
    await page.press('#new-todo', 'Enter')
    await expectCount(2)
    await expectText(activeCount, '2 items left')
    assert.deepEqual(await items.locator('label').allTextContents(), ['Buy milk', 'Walk the dog'])
    assert.equal(await page.inputValue('#new-todo'), '', 'the input is cleared after adding')

    await items.filter({ hasText: 'Buy milk' }).locator('input.toggle').check()
    await expectText(activeCount, '1 item left')
    await expectText(completedCount, '1 completed')
    assert.equal(await items.count(), 2)
    assert.deepEqual(await page.locator('#todo-list li.completed label').allTextContents(), ['Buy milk'])

    // The filter lives in the uiState client document.
    await page.click('[data-filter="active"]')
    await expectCount(1)
    assert.deepEqual(await items.locator('label').allTextContents(), ['Walk the dog'])
    await page.click('[data-filter="all"]')
    await expectCount(2)

    await page.screenshot({ path: await resultPath('demo.png'), fullPage: true })

    // Synced: the status says so, and another browser (its own OPFS) gets the todos from the server.
    await expectText(page.locator('#sync-status'), 'all synced')
    const other = await openPage(browser)
    try {
      await other.page.goto(demo.url, { waitUntil: 'load', timeout: 60_000 })
      await other.page.waitForFunction(() => document.querySelectorAll('#todo-list li').length === 2, null, { timeout: 30_000 }).catch(async (err) => {
        throw new Error(`the second browser did not get the todos: ${err.message} (status: ${await other.page.textContent('#sync-status')})${describeProblems(other.problems)}`)
      })
      assert.deepEqual(await other.page.locator('#todo-list li label').allTextContents(), ['Buy milk', 'Walk the dog'])
    } finally {
      await other.context.close()
    }

    // "Clear completed" commits v1.TodoClearedCompleted (a SQL materializer
    // binding a Date): the completed todo is soft-deleted and leaves the list.
    await page.click('#clear-completed')
    await expectCount(1)
    await expectText(completedCount, '0 completed')
    await expectText(activeCount, '1 item left')
    assert.deepEqual(await items.locator('label').allTextContents(), ['Walk the dog'])

    assert.equal(await page.isHidden('#error'), true, `the demo showed an error: ${await page.textContent('#error')}`)
    const errors = problems.filter((p) => p.startsWith('pageerror') || p.startsWith('HTTP'))
    assert.deepEqual(errors, [], 'errors in the page')
  } catch (err) {
    await page.screenshot({ path: await resultPath('demo-failed.png'), fullPage: true }).catch(() => {})
    throw err
  } finally {
    await context.close()
  }
})
