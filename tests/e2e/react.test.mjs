// The React bindings (livestore-rs/react) in a Vite + React app built as a user
// builds one (tests/react-app, type-checked against the shipped .d.ts), run in
// headless Chromium: the provider's loading / error / shutdown states, the
// hooks' values, and that components re-render only when what they read changes.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'

import { REPO_ROOT, assertPkgBuilt, buildTestApp, describeProblems, launchChromium, openPage, resultPath, run, startStaticServer } from './helpers.mjs'

let browser
let server
let workDir

before(async () => {
  assertPkgBuilt()
  workDir = await mkdtemp(join(tmpdir(), 'livestore-rs-react-'))
  const links = ['react', 'react-dom', 'scheduler', '@vitejs/plugin-react', '@types/react', '@types/react-dom']
  const app = await buildTestApp('react-app', workDir, [{ outDir: join(workDir, 'www') }], links)
  await run(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(app, 'tsconfig.json'), '--pretty', 'false'], { cwd: app })
  ;[browser, server] = await Promise.all([launchChromium(), startStaticServer(join(workDir, 'www'))])
})

after(async () => {
  await browser?.close()
  await server?.close()
  if (workDir && !process.env.KEEP_E2E_TMP) await rm(workDir, { recursive: true, force: true })
})

async function open(query) {
  const opened = await openPage(browser)
  await opened.page.goto(`${server.url}?${query}`, { waitUntil: 'load' })
  return opened
}

const text = (page, sel) => page.locator(sel).textContent()

test('provider boots with progress; hooks read the store and re-render only when their result changes', { timeout: 120_000 }, async () => {
  const { context, page, problems } = await open(`store=react-${Date.now()}`)
  try {
    await page.waitForSelector('#ready', { timeout: 30_000 }).catch((err) => {
      throw new Error(`the app never rendered: ${err.message}${describeProblems(problems)}`)
    })
    const t = () => page.evaluate(() => JSON.parse(JSON.stringify(window.__test)))
    const boot = await t()
    assert.ok(boot.bootStatuses.length >= 1 && boot.bootStatuses[0] === null, `renderLoading ran before the first status: ${JSON.stringify(boot.bootStatuses)}`)
    assert.ok(boot.bootStatuses.some((s) => typeof s === 'string'), `renderLoading got boot statuses: ${JSON.stringify(boot.bootStatuses)}`)
    // StrictMode mounts twice in development; either way the store boots once.
    assert.equal(boot.bootStages.filter((s) => s === 'done').length, 1, `one boot: ${boot.bootStages}`)
    // boot(store) ran before the children rendered.
    assert.deepEqual(await page.locator('#open li').allTextContents(), ['seeded at boot'])
    assert.equal(await text(page, '#count'), '1')

    const commit = (name, args) => page.evaluate(([n, a]) => window.__test.commit(n, a), [name, args])
    const renders = async () => (await t()).renders
    const delta = (before, after) => Object.fromEntries(Object.keys(before).map((k) => [k, after[k] - before[k]]))

    let r = await renders()
    await commit('todoCreated', { id: 'b', text: 'buy milk' })
    await page.waitForFunction(() => document.querySelector('#count').textContent === '2')
    assert.deepEqual(await page.locator('#open li').allTextContents(), ['buy milk', 'seeded at boot'])
    let d = delta(r, await renders())
    assert.equal(d.open, 1, 'the open list re-rendered once')
    assert.equal(d.count, 1, 'the count re-rendered once')
    assert.equal(d.doc, 0, 'the client document did not change')

    // A client document change re-renders its reader only.
    r = await renders()
    await commit('uiStateSet', { draft: 'x' })
    await page.waitForFunction(() => document.querySelector('#draft').textContent === 'x')
    d = delta(r, await renders())
    assert.deepEqual([d.open, d.count, d.doc], [0, 0, 1])

    // Completing b changes the open list, not the count.
    r = await renders()
    await commit('todoCompleted', { id: 'b' })
    await page.waitForFunction(() => document.querySelectorAll('#open li').length === 1)
    d = delta(r, await renders())
    assert.deepEqual([d.open, d.count, d.doc], [1, 0, 0])

    // A commit that changes no result re-renders nothing.
    r = await renders()
    await commit('todoCompleted', { id: 'b' })
    await commit('uiStateSet', { draft: 'x' })
    await page.evaluate(() => new Promise((res) => requestAnimationFrame(() => setTimeout(res, 50))))
    assert.deepEqual(delta(r, await renders()), { open: 0, count: 0, doc: 0, sync: 0, inline: 0 })

    // useClientDocument: [value, setValue, id]; setValue merges a partial value or an updater's.
    assert.equal(await page.getAttribute('#doc', 'data-id'), '__session__')
    await page.click('#active')
    await page.waitForFunction(() => document.querySelector('#filter').textContent === 'active')
    await page.click('#append')
    await page.click('#append')
    await page.waitForFunction(() => document.querySelector('#draft').textContent === 'xxx')
    assert.equal(await text(page, '#filter'), 'active', 'a partial set keeps the other fields')

    // A query built inline on each render follows its parameters and keeps its subscription.
    assert.equal(await text(page, '#inline-count'), '2')
    await page.click('#min-m')
    await page.waitForFunction(() => document.querySelector('#inline-count').textContent === '1')
    r = await renders()
    await commit('uiStateSet', { draft: 'y' })
    await page.waitForFunction(() => document.querySelector('#draft').textContent === 'y')
    assert.equal(delta(r, await renders()).inline, 0, 'an unrelated commit does not re-render the inline query')
    await commit('todoCreated', { id: 'z', text: 'zebra' })
    await page.waitForFunction(() => document.querySelector('#inline-count').textContent === '2')

    // Persisted: a reload boots from OPFS without seeding again.
    await page.evaluate(() => window.__test.flush())
    await page.reload({ waitUntil: 'load' })
    await page.waitForSelector('#ready', { timeout: 30_000 })
    assert.deepEqual(await page.locator('#open li').allTextContents(), ['seeded at boot', 'zebra'])
    assert.equal(await text(page, '#count'), '3')

    // store.shutdown() → renderShutdown.
    await page.evaluate(() => window.__test.shutdown())
    await page.waitForSelector('#shutdown')
    assert.equal(await text(page, '#shutdown'), 'closed')
    assert.deepEqual(problems, [], 'errors in the page')
    await page.screenshot({ path: await resultPath('react-app.png') })
  } finally {
    await context.close()
  }
})

test('a store that cannot start renders the error, with its code', { timeout: 60_000 }, async () => {
  const { context, page } = await open('case=error')
  try {
    await page.waitForSelector('#failed')
    assert.match(await text(page, '#failed'), /^INVALID_OPTIONS: createStore: storeId must be a non-empty string/)
  } finally {
    await context.close()
  }
})

test('a hook outside the provider throws NO_STORE', { timeout: 60_000 }, async () => {
  const { context, page } = await open('case=outside')
  try {
    await page.waitForSelector('#caught')
    assert.match(await text(page, '#caught'), /^NO_STORE: useStore\/useQuery must be called inside <LiveStoreProvider>/)
  } finally {
    await context.close()
  }
})
