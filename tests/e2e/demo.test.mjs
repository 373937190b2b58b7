// The demo (www/) as a person uses it: served by the Vite dev server and synced
// through the sync server exactly as scripts/dev does, driven through its UI in
// headless Chromium.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'

import { startDemoServer } from '../../scripts/serve-www.mjs'
import { REPO_ROOT, assertPkgBuilt, describeProblems, freePort, launchChromium, openPage, resultPath, run, startProcess, waitForUrl, watchPage } from './helpers.mjs'

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

/** Opens the demo in a new tab of `context` and waits until its store is ready. */
async function openDemo(context, problems) {
  const page = watchPage(await context.newPage(), problems)
  await page.goto(demo.url, { waitUntil: 'load', timeout: 60_000 })
  await page
    .waitForFunction(() => document.querySelector('#root')?.dataset.ready !== 'false', null, { timeout: 60_000 })
    .catch((err) => {
      throw new Error(`the demo never got ready: ${err.message}${describeProblems(problems)}`)
    })
  const ready = await page.getAttribute('#root', 'data-ready')
  assert.equal(ready, 'true', `the demo failed to start: ${await page.textContent('#root')}${describeProblems(problems)}`)
  return page
}

/** Web-first waits: the DOM follows the store's live queries after each commit. */
function expectations(page, problems) {
  const items = page.locator('#todo-list li')
  return {
    items,
    text: async (selector, text) => {
      const locator = page.locator(selector)
      await locator
        .filter({ hasText: text })
        .waitFor({ timeout: 10_000 })
        .catch(async () => {
          throw new Error(`expected "${text}" in ${selector}, saw "${await locator.textContent()}"${describeProblems(problems)}`)
        })
    },
    labels: async (labels, timeout = 10_000) => {
      await page
        .waitForFunction((want) => JSON.stringify([...document.querySelectorAll('#todo-list li label')].map((l) => l.textContent)) === want, JSON.stringify(labels), {
          timeout,
        })
        .catch(async (err) => {
          throw new Error(`expected todos ${JSON.stringify(labels)}, saw ${JSON.stringify(await items.locator('label').allTextContents())}: ${err.message}${describeProblems(problems)}`)
        })
    },
  }
}

test('demo: create, complete, filter, clear; a second tab and a second browser follow through the server', { timeout: 150_000 }, async () => {
  const { context, page: first, problems } = await openPage(browser)
  await first.close()
  let page
  try {
    page = await openDemo(context, problems)
    const ui = expectations(page, problems)

    const add = async (text) => {
      await page.fill('#new-todo', text)
      await page.press('#new-todo', 'Enter')
    }
    await add('Buy milk')
    await ui.labels(['Buy milk'])
    await ui.text('#active-count', '1 item left')
    await add('Walk the dog')
    await add('Water the plants')
    await ui.labels(['Buy milk', 'Walk the dog', 'Water the plants'])
    await ui.text('#active-count', '3 items left')
    assert.equal(await page.inputValue('#new-todo'), '', 'the input is cleared after adding')

    // A second tab of the same browser: its own session, fed by the leader worker.
    const tab2 = await openDemo(context, problems)
    const ui2 = expectations(tab2, problems)
    await ui2.labels(['Buy milk', 'Walk the dog', 'Water the plants'])

    // Complete, reopen, complete again; the second tab follows each.
    const toggle = (p, text) => p.locator('#todo-list li').filter({ hasText: text }).locator('input.toggle').click()
    await toggle(page, 'Buy milk')
    await ui.text('#active-count', '2 items left')
    await ui.text('#completed-count', '1 completed')
    await toggle(page, 'Buy milk')
    await ui.text('#completed-count', '0 completed')
    await toggle(page, 'Buy milk')
    await toggle(tab2, 'Water the plants') // committed in the other tab
    await ui.text('#completed-count', '2 completed')
    await ui2.text('#active-count', '1 item left')
    assert.deepEqual(await page.locator('#todo-list li.completed label').allTextContents(), ['Buy milk', 'Water the plants'])

    // The filter lives in the uiState client document, per session: the other tab keeps its own.
    await page.click('[data-filter="active"]')
    await ui.labels(['Walk the dog'])
    await page.click('[data-filter="completed"]')
    await ui.labels(['Buy milk', 'Water the plants'])
    await ui2.labels(['Buy milk', 'Walk the dog', 'Water the plants'])
    await page.click('[data-filter="all"]')
    await ui.labels(['Buy milk', 'Walk the dog', 'Water the plants'])
    await page.screenshot({ path: await resultPath('demo.png'), fullPage: true })

    // Synced: the status says so, and another browser context (its own OPFS) gets the todos from the server.
    await ui.text('#sync-status', 'all synced')
    const other = await openPage(browser)
    try {
      await other.page.close()
      const remote = await openDemo(other.context, other.problems)
      const uiRemote = expectations(remote, other.problems)
      await uiRemote.labels(['Buy milk', 'Walk the dog', 'Water the plants'], 30_000)
      await uiRemote.text('#completed-count', '2 completed')

      // "Clear completed" soft-deletes the completed todos, everywhere.
      await page.click('#clear-completed')
      await ui.labels(['Walk the dog'])
      await ui.text('#completed-count', '0 completed')
      assert.equal(await page.isHidden('#clear-completed'), true, 'nothing left to clear')
      await ui2.labels(['Walk the dog'])
      await uiRemote.labels(['Walk the dog'], 30_000)

      // An edit in the other browser comes back: a todo deleted there leaves here.
      await remote.locator('#todo-list li').filter({ hasText: 'Walk the dog' }).locator('button.destroy').click({ force: true })
      await uiRemote.labels([])
      await ui.labels([], 30_000)
      await ui.text('#active-count', '0 items left')
    } finally {
      await other.context.close()
    }

    assert.equal(await page.locator('#error').count(), 0, `the demo showed an error: ${await page.locator('#error').allTextContents()}`)
    const errors = problems.filter((p) => p.startsWith('pageerror') || p.startsWith('HTTP'))
    assert.deepEqual(errors, [], 'errors in the page')
  } catch (err) {
    await page?.screenshot({ path: await resultPath('demo-failed.png'), fullPage: true }).catch(() => {})
    throw err
  } finally {
    await context.close()
  }
})
