// "Install by path with a bundler": a web app installs the built package
// (pkg/, from scripts/build) and bundles it with Vite; the page runs an
// example (schema, commits, queries, subscriptions, a client document, an
// invalid commit) with the real store in headless Chromium, and we check what
// it computed (window.__result, written by tests/app/main.js). The docs'
// own samples are run by docs.test.mjs.
//
//   1. `npm install <repo>/pkg` (npm links the folder), `vite build`,
//      serve dist/ statically.
//   2. `npm pack` pkg/ and install the tarball (a real copy in node_modules,
//      as from a registry: checks package.json "files"/"exports"), `vite build`.
//   3. The same tarball install under the Vite dev server.
//
// npm installs use --prefer-offline: vite is already in npm's cache from the
// root `npm ci`. Nothing downloads a browser.
import assert from 'node:assert/strict'
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'

import {
  PKG_DIR,
  REPO_ROOT,
  assertPkgBuilt,
  describeProblems,
  freePort,
  launchChromium,
  openPage,
  resultPath,
  run,
  startProcess,
  startStaticServer,
  waitForUrl,
} from './helpers.mjs'

const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error']
const TEST_TIMEOUT = 240_000

let browser
let workDir
let tarball

before(async () => {
  assertPkgBuilt()
  workDir = await mkdtemp(join(tmpdir(), 'livestore-rs-e2e-'))
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  if (workDir && !process.env.KEEP_E2E_TMP) await rm(workDir, { recursive: true, force: true })
})

/** Copies tests/app to a temp dir, with the vite version of the root package.json. */
async function makeApp(name) {
  const dir = join(workDir, name)
  await cp(join(REPO_ROOT, 'tests', 'app'), dir, {
    recursive: true,
    filter: (src) => !/[\\/](node_modules|dist)([\\/]|$)/.test(src.slice(REPO_ROOT.length)),
  })
  const rootPkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8'))
  const appPkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'))
  assert.deepEqual(Object.keys(appPkg.dependencies ?? {}), [], 'tests/app must depend on nothing but vite')
  appPkg.devDependencies = { vite: rootPkg.devDependencies.vite }
  await writeFile(join(dir, 'package.json'), JSON.stringify(appPkg, null, 2) + '\n')
  return dir
}

function viteBin(appDir) {
  return join(appDir, 'node_modules', 'vite', 'bin', 'vite.js')
}

/** Opens `url`, waits for window.__result, and returns it with the page's problems. */
async function loadResult(url, label) {
  const { context, page, problems } = await openPage(browser)
  try {
    await page.goto(url, { waitUntil: 'load', timeout: 60_000 })
    try {
      await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 60_000 })
    } catch (err) {
      await page.screenshot({ path: await resultPath(`package-${label}-timeout.png`) }).catch(() => {})
      throw new Error(`${label}: the page never set window.__result (${err.message})${describeProblems(problems)}`)
    }
    const result = await page.evaluate(() => window.__result)
    if (!result.ok) await page.screenshot({ path: await resultPath(`package-${label}-failed.png`) }).catch(() => {})
    return { result, problems }
  } finally {
    await context.close()
  }
}

/** What the example must compute with the real store. */
function checkResult({ result: r, problems }, label) {
  const ctx = () => `${label}: ${JSON.stringify(r, null, 2)}${describeProblems(problems)}`
  assert.ok(
    r.ok,
    `${label}: the example threw at step "${r.steps?.at(-1)}": ${r.error?.code ?? ''} ${r.error?.message}\n${r.error?.stack}${describeProblems(problems)}`,
  )
  assert.deepEqual(r.exports, { computed: 'function', signal: 'function', queryDb: 'function', createStore: 'function' }, ctx())

  const todo = (id, text, completed, deletedAt = null) => ({ id, text, completed, deletedAt })
  assert.deepEqual(r.openBefore, [todo('b', 'Answer mail', false), todo('a', 'Buy milk', false)], ctx())
  assert.deepEqual(r.openAfter, [todo('b', 'Answer mail', false)], ctx())

  // The subscriber may or may not be called with the initial value, but the
  // commit that changed its query calls it exactly once, with the new rows.
  assert.ok(r.seenAfterSubscribe <= 1, ctx())
  assert.equal(r.seenAfterComplete.length, r.seenAfterSubscribe + 1, ctx())
  assert.deepEqual(r.seenAfterComplete.at(-1), ['b'], ctx())
  assert.equal(r.seenAfterUnsubscribe, r.seenAfterComplete.length, `no call after unsubscribe; ${ctx()}`)

  assert.deepEqual(r.uiStateBefore, { newTodoText: '', filter: 'all' }, ctx())
  assert.deepEqual(r.uiStateAfter, { newTodoText: '', filter: 'active' }, ctx())

  assert.deepEqual(r.completedRows, [todo('a', 'Buy milk', true, 1700000000000)], ctx())

  assert.equal(r.invalidArgs.thrown, true, ctx())
  assert.equal(r.invalidArgs.isError, true, `a JS Error, not a bare value; ${ctx()}`)
  assert.equal(r.invalidArgs.code, 'INVALID_EVENT_ARGS', ctx())
  assert.deepEqual(
    r.openAtEnd.map((t) => t.id),
    ['b', 'c'],
    `a rejected commit changes nothing; ${ctx()}`,
  )

  const errors = problems.filter((p) => p.startsWith('pageerror') || (p.startsWith('HTTP') && !p.includes('favicon')))
  assert.deepEqual(errors, [], `${label}: errors in the page`)
}

test('npm install <repo>/pkg, vite build, run the example', { timeout: TEST_TIMEOUT }, async () => {
  const app = await makeApp('app-by-path')
  await run('npm', ['install', ...NPM_FLAGS, PKG_DIR], { cwd: app })
  await run(process.execPath, [viteBin(app), 'build', '--logLevel', 'warn'], { cwd: app })
  const server = await startStaticServer(join(app, 'dist'))
  try {
    checkResult(await loadResult(server.url, 'by-path'), 'npm install <repo>/pkg + vite build')
  } finally {
    await server.close()
  }
})

test('npm pack pkg/, install the tarball, vite build, run the example', { timeout: TEST_TIMEOUT }, async () => {
  const out = await run('npm', ['pack', '--json', '--pack-destination', workDir, PKG_DIR], { cwd: workDir })
  const packed = JSON.parse(out.slice(out.indexOf('[')))
  const files = packed[0].files.map((f) => f.path)
  // The JS the wasm module imports (wasm-bindgen snippets) too.
  const snippets = (await readdir(join(PKG_DIR, 'snippets'), { recursive: true })).filter((f) => f.endsWith('.js'))
  assert.ok(snippets.length > 0)
  // And the devtools page (docs/api.md: copied from node_modules into the app's public/).
  const devtools = await readdir(join(REPO_ROOT, 'www', 'devtools'))
  assert.ok(devtools.includes('index.html'))
  for (const f of ['package.json', 'livestore_rs.js', 'livestore_rs_bg.wasm', ...snippets.map((s) => `snippets/${s}`), ...devtools.map((d) => `devtools/${d}`)]) {
    assert.ok(files.includes(f), `the packed package lacks ${f} (check "files" in js/package.json): ${files.join(', ')}`)
  }
  tarball = join(workDir, packed[0].filename)

  const app = await makeApp('app-tarball')
  await run('npm', ['install', ...NPM_FLAGS, tarball], { cwd: app })
  await run(process.execPath, [viteBin(app), 'build', '--logLevel', 'warn'], { cwd: app })
  const server = await startStaticServer(join(app, 'dist'))
  try {
    checkResult(await loadResult(server.url, 'tarball'), 'tarball + vite build')
  } finally {
    await server.close()
  }
})

test('the installed tarball under the Vite dev server', { timeout: TEST_TIMEOUT }, async (t) => {
  if (!tarball) {
    t.skip('needs the tarball of the previous test')
    return
  }
  const app = join(workDir, 'app-tarball')
  const port = await freePort()
  const server = startProcess(
    process.execPath,
    [viteBin(app), '--host', '127.0.0.1', '--port', String(port), '--strictPort', '--clearScreen', 'false'],
    { cwd: app },
  )
  try {
    const url = `http://127.0.0.1:${port}/`
    await waitForUrl(url, { timeoutMs: 60_000 }).catch((err) => {
      throw new Error(`${err.message}\nvite output:\n${server.output.text}`)
    })
    const loaded = await loadResult(url, 'dev')
    try {
      checkResult(loaded, 'tarball + vite dev')
    } catch (err) {
      err.message += `\nvite output:\n${server.output.text}`
      throw err
    }
  } finally {
    await server.stop()
  }
})
