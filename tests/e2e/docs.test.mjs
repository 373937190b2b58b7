// The user documentation, executed: every fenced code block of README.md and
// docs/*.md (except the contributor pages in NOT_USER_DOCS) carries, in its
// info string, what the test does with it. A block without one fails the
// test; so does an attribute the test does not know.
//
//   ```ts file=src/schema.ts app=react-start,plain
//       A file of one or more example apps. Each app is a Vite project made
//       as `npm create vite@latest -- --template <react-ts|vanilla-ts>`
//       makes it (SCAFFOLDS, the files the docs replace left out), with the
//       package installed as `npm install --install-links pkg/` installs it
//       (a copy of its "files"). Every app is type-checked with the
//       template's compiler options, built or served by Vite, and run in
//       headless Chromium, where its check (APPS below) does what the docs
//       say a user sees and asserts it. (An app whose page the docs do not
//       show gets one from the test: APPS[app].testFiles.)
//
//   ```sh app=react-start
//       Commands run in that app's project, one per line (comments after
//       `#`); each must be one of PROJECT_COMMANDS, which runs it or does the
//       equivalent (`npm run dev` starts the Vite dev server and runs the
//       app's check against it, ...). An unknown command fails the test.
//
//   ```ts run=queries
//       A snippet. The blocks of one run group are concatenated, in page
//       order, into one module of the `snippets` app (next to the docs'
//       src/schema.ts and src/livestore.worker.ts), type-checked and run in a
//       fresh browser context. Line comments state outcomes and are asserted:
//         expr // → value          expr (or the variable a `const` line
//                                  declares) deep-equals value
//         stmt // throws CODE      stmt throws (or rejects with) a
//                                  LiveStoreError with that code
//         stmt // logs a, b        console.log was called with a, then b,
//                                  since the previous `logs` (`logs nothing`;
//                                  a last remark in parentheses is ignored)
//       Each marker must run at least once. Groups in INSECURE_RUNS run on
//       an http origin other than localhost (not a secure context).
//
//   ```js node=unit-test
//       The same, run by Node (the package installed next to the module,
//       the same markers).
//
//   ```ts excerpt=js/index.d.ts          (also .rs files)
//       A verbatim excerpt of that file, comments and whitespace aside; a
//       line `// …` stands for omitted lines.
//
//   ```sh server
//       Sync server command lines, run from the repository as written
//       (cargo run …) in one bash script, with 8787 replaced by a free port
//       and `./data/` by a temporary folder. A server runs in the background
//       until /health answers; `token` must print a token that the block's
//       server (if any) accepts, and it refuses a hello without one; other
//       lines must exit 0; `# → text` at the end of a line is its output.
//
// Substitutions when files are written: `ws://127.0.0.1:8787` → the sync
// server the app's check uses; `/path/to/livestore-rs/pkg` → pkg/.
//
// Needs `bash scripts/build` (pkg/) and cargo (the sync server is built once).
// Run: node --test tests/e2e/docs.test.mjs   (KEEP_E2E_TMP=1 keeps the apps)
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, test } from 'node:test'

import {
  PKG_DIR,
  REPO_ROOT,
  assertPkgBuilt,
  describeProblems,
  freePort,
  launchChromium,
  resultPath,
  run,
  startProcess,
  startProxy,
  startStaticServer,
  waitForUrl,
  watchPage,
} from './helpers.mjs'

const NOT_USER_DOCS = {
  'docs/ARCHITECTURE.md': 'design notes for contributors: sketches of internal interfaces and diagrams',
  'docs/BENCHMARKS.md': 'benchmark results, written from bench/',
}
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
const VITE = join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js')
const SERVER_BIN = join(REPO_ROOT, 'target', 'debug', 'livestore-rs-server')

// ---------------------------------------------------------------------------
// Reading the docs

const docFiles = [
  'README.md',
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`)
    .filter((f) => !(f in NOT_USER_DOCS)),
]

/** Fenced code blocks of a Markdown file: { file, line, lang, attrs, code }. */
function fencedBlocks(file) {
  const lines = readFileSync(join(REPO_ROOT, file), 'utf8').split('\n')
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(.*)$/.exec(lines[i])
    if (!open) continue
    const [, indent, fence, info] = open
    const body = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(lines[j])
      if (close && close[1][0] === fence[0] && close[1].length >= fence.length) break
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j])
    }
    const [lang = '', ...rest] = info.trim().split(/\s+/).filter(Boolean)
    const attrs = {}
    for (const a of rest) {
      const eq = a.indexOf('=')
      if (eq < 0) attrs[a] = true
      else attrs[a.slice(0, eq)] = a.slice(eq + 1)
    }
    blocks.push({ file, line: i + 1, lang, attrs, code: body.join('\n') + '\n', where: `${file}:${i + 1}` })
    i = j
  }
  return blocks
}

const KINDS = {
  file: { attrs: ['file', 'app'], langs: ['ts', 'tsx', 'js', 'jsx', 'html', 'json'] },
  commands: { attrs: ['app'], langs: ['sh'] },
  run: { attrs: ['run'], langs: ['ts', 'tsx', 'js'] },
  node: { attrs: ['node'], langs: ['js'] },
  excerpt: { attrs: ['excerpt'], langs: ['ts', 'rust'] },
  server: { attrs: ['server'], langs: ['sh'] },
}

/** The kind of a block by the convention, or a reason it follows none. */
function classify(b) {
  const a = b.attrs
  const kind = a.excerpt ? 'excerpt' : a.file ? 'file' : a.run ? 'run' : a.node ? 'node' : a.server ? 'server' : a.app && b.lang === 'sh' ? 'commands' : undefined
  if (!kind) return { error: `${b.where}: \`\`\`${b.lang} ${Object.keys(a).join(' ')} is not exercised: give it file=… app=…, run=…, node=…, excerpt=…, app=… (sh) or server (sh)` }
  const spec = KINDS[kind]
  const extra = Object.keys(a).filter((k) => !spec.attrs.includes(k))
  if (extra.length) return { error: `${b.where}: unknown attribute ${extra.join(', ')} for a ${kind} block` }
  if (!spec.attrs.every((k) => typeof a[k] === 'string' || (k === 'server' && a[k] === true))) return { error: `${b.where}: a ${kind} block needs ${spec.attrs.join(' and ')}` }
  if (!spec.langs.includes(b.lang)) return { error: `${b.where}: a ${kind} block in \`\`\`${b.lang || '(no language)'}; expected one of ${spec.langs.join(', ')}` }
  if (kind === 'file' || kind === 'commands') {
    for (const app of a.app.split(',')) if (!APPS[app]) return { error: `${b.where}: unknown app '${app}' (known: ${Object.keys(APPS).join(', ')})` }
  }
  return { kind }
}

// ---------------------------------------------------------------------------
// The example apps and what each must do in the browser

const SCAFFOLDS = {
  // create-vite 9.3: index.html, vite.config.ts and tsconfig.app.json (as tsconfig.json) of
  // --template react-ts; its src/ files are replaced by the docs' own.
  'react-ts': {
    'index.html': `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>my-app</title>
  </head>
  <body>
    <div id="root"></div>
    <script type="module" src="/src/main.tsx"></script>
  </body>
</html>
`,
    'vite.config.ts': `import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// https://vite.dev/config/
export default defineConfig({
  plugins: [react()],
})
`,
    'tsconfig.json': tsconfig({ jsx: 'react-jsx' }),
  },
  // --template vanilla-ts: index.html and tsconfig.json.
  'vanilla-ts': {
    'index.html': `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>my-app</title>
  </head>
  <body>
    <div id="app"></div>
    <script type="module" src="/src/main.ts"></script>
  </body>
</html>
`,
    'tsconfig.json': tsconfig({}),
  },
}

function tsconfig(extra, lint = true) {
  const options = {
    target: 'es2023',
    lib: ['ES2023', 'DOM'],
    module: 'esnext',
    types: ['vite/client'],
    allowArbitraryExtensions: true,
    skipLibCheck: true,
    moduleResolution: 'bundler',
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: true,
    moduleDetection: 'force',
    noEmit: true,
    ...extra,
  }
  if (lint) Object.assign(options, { noUnusedLocals: true, noUnusedParameters: true, erasableSyntaxOnly: true, noFallthroughCasesInSwitch: true })
  return JSON.stringify({ compilerOptions: { ...options, strict: true }, include: ['src'] }, null, 2) + '\n'
}

/** What the template's `npm install` puts in node_modules (linked from the workspace). */
const TEMPLATE_DEPS = {
  'react-ts': ['react', 'react-dom', 'scheduler', '@vitejs/plugin-react', '@types/react', '@types/react-dom', 'vite'],
  'vanilla-ts': ['vite'],
}

/**
 * The apps the docs build. `base`: starts from that app's files; `run`: what
 * runs it when its commands do not say (`npm run dev` / `npm run build`);
 * `server`: the sync server its `ws://127.0.0.1:8787` stands for; `testFiles`:
 * files the test adds (a driver, never shown in the docs).
 */
const APPS = {
  readme: { template: 'vanilla-ts', run: ['build'], check: checkReadme },
  'react-start': { template: 'react-ts', run: ['build'], check: checkTodoApp },
  'react-linked': { template: 'react-ts', base: 'react-start', run: ['dev'], check: checkLinkedApp },
  plain: { template: 'vanilla-ts', run: ['build'], check: checkPlain },
  'plain-persisted': { template: 'vanilla-ts', run: ['build'], check: checkPlainPersisted },
  'react-sync': { template: 'react-ts', base: 'react-start', run: ['build'], server: 'open', check: checkSyncApp },
  'react-auth': { template: 'react-ts', base: 'react-sync', run: ['build'], server: 'secret', check: checkAuthApp, routes: () => ({ '/api/sync-token': () => [200, 'text/plain', servers.secret.token] }) },
  conflicts: { template: 'vanilla-ts', run: ['build'], check: checkConflicts, testFiles: () => CONFLICTS_FILES },
  devtools: { template: 'vanilla-ts', base: 'plain-persisted', run: ['dev'], check: checkDevtoolsApp },
  snippets: { template: 'vanilla-ts', run: [], lint: false, harness: true },
}

// ---------------------------------------------------------------------------
// Parsing and classifying (synchronously: the tests below are made from it)

const blocks = docFiles.flatMap(fencedBlocks)
const classified = blocks.map((b) => ({ ...b, ...classify(b) }))
const ofKind = (kind) => classified.filter((b) => b.kind === kind)
const groupsOf = (kind) => {
  const groups = new Map()
  for (const b of ofKind(kind)) groups.set(b.attrs[kind], [...(groups.get(b.attrs[kind]) ?? []), b])
  return groups
}
const runGroups = groupsOf('run')
const nodeGroups = groupsOf('node')
const appFiles = (app) => {
  const own = ofKind('file').filter((b) => b.attrs.app.split(',').includes(app))
  const base = APPS[app].base ? appFiles(APPS[app].base).filter((b) => !own.some((o) => o.attrs.file === b.attrs.file)) : []
  return [...base, ...own]
}

test('every code block of the docs is exercised by this test (see its header)', () => {
  const errors = classified.filter((b) => b.error).map((b) => b.error)
  assert.deepEqual(errors, [], `code blocks outside the convention:\n  ${errors.join('\n  ')}`)
  const used = new Set(ofKind('file').flatMap((b) => b.attrs.app.split(',')))
  const unused = Object.keys(APPS).filter((a) => !used.has(a))
  assert.deepEqual(unused, [], 'apps of this test that no docs block belongs to')
  assert.ok(blocks.length > 20, `only ${blocks.length} code blocks found in ${docFiles.join(', ')}`)
})

test('README.md links every page of the user docs; relative links and their anchors resolve', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
  for (const f of docFiles.filter((f) => f.startsWith('docs/'))) {
    assert.ok(readme.includes(`](${f})`) || readme.includes(`](${f}#`), `README.md does not link ${f}`)
  }
  // GitHub's heading anchors: lower case, punctuation dropped, spaces → '-'.
  const anchors = (file) =>
    new Set(
      [...readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '').matchAll(/^#+\s+(.+)$/gm)].map(([, h]) =>
        h.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'),
      ),
    )
  const broken = []
  for (const f of docFiles) {
    const text = readFileSync(join(REPO_ROOT, f), 'utf8').replace(/```[\s\S]*?```/g, '')
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue
      const [path, anchor] = target.split('#')
      const file = path ? join(REPO_ROOT, dirname(f), path) : join(REPO_ROOT, f)
      if (!existsSync(file)) broken.push(`${f}: ${target}`)
      else if (anchor !== undefined && file.endsWith('.md') && !anchors(file).has(anchor)) broken.push(`${f}: ${target} (no such heading)`)
    }
  }
  assert.deepEqual(broken, [], 'links to files or headings that do not exist')
})

// ---------------------------------------------------------------------------
// Excerpts

/** Text without comments (but `…` elision lines), whitespace collapsed. */
const normalize = (text) =>
  text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/(^|\s)\/\/.*$/gm, '$1')
    .replace(/\s+/g, ' ')
    .trim()

test('excerpts of the sources are verbatim', () => {
  for (const b of ofKind('excerpt')) {
    const source = normalize(readFileSync(join(REPO_ROOT, b.attrs.excerpt), 'utf8'))
    let from = 0
    for (const piece of b.code.split(/^\s*\/\/ …\s*$/m).map(normalize).filter(Boolean)) {
      const at = source.indexOf(piece, from)
      assert.ok(at >= 0, `${b.where}: not in ${b.attrs.excerpt} (after the previous piece): ${piece.slice(0, 300)}`)
      from = at + piece.length
    }
  }
})

// ---------------------------------------------------------------------------
// The workspace: apps, browser, sync servers

let workDir
let browser
const servers = {} // name → { url, stop }
const built = new Map() // app → promise of its dist folder

before(async () => {
  assertPkgBuilt()
  workDir = await mkdtemp(join(tmpdir(), 'livestore-rs-docs-'))
  ;[browser] = await Promise.all([
    launchChromium(['--host-resolver-rules=MAP insecure.test 127.0.0.1']),
    // The sync server and the example of the docs (a no-op when built: the sync tests build them too).
    run('cargo', ['build', '--quiet', '-p', 'livestore-rs-server', '--bin', 'livestore-rs-server', '--example', 'validating'], { cwd: REPO_ROOT, timeoutMs: 900_000 }),
  ])
  servers.open = await startSyncServer(['--memory'])
  const secret = randomBytes(24).toString('hex')
  servers.secret = await startSyncServer(['--memory', '--secret', secret])
  servers.secret.token = (await run(SERVER_BIN, ['token', '--store-id', 'todos', '--secret', secret])).trim()
  const proxy = await startProxy(servers.open.port)
  servers.proxy = { url: proxy.url, proxy, stop: () => proxy.close() }
})

/** A sync server on a free port; `restart()` starts a new one on the same port (a new backend). */
async function startSyncServer(args) {
  const port = await freePort()
  const server = { port, url: `ws://127.0.0.1:${port}` }
  server.start = async () => {
    server.process = startProcess(SERVER_BIN, [...args, '--port', String(port)])
    await waitForUrl(`http://127.0.0.1:${port}/health`).catch((err) => {
      throw new Error(`${err.message}\n${server.process.output.text}`)
    })
  }
  server.stop = () => server.process.stop()
  server.restart = async () => {
    await server.stop()
    await server.start()
  }
  await server.start()
  return server
}

after(async () => {
  await browser?.close()
  for (const s of Object.values(servers)) await s.stop?.().catch(() => {})
  if (workDir && !process.env.KEEP_E2E_TMP) await rm(workDir, { recursive: true, force: true })
})

const appDir = (app) => join(workDir, 'apps', app)

/** Writes a file of an app, with the substitutions. */
async function writeAppFile(app, path, text) {
  let out = text.replaceAll('/path/to/livestore-rs/pkg', PKG_DIR)
  if (APPS[app].server) out = out.replaceAll('ws://127.0.0.1:8787', servers[APPS[app].server].url)
  const full = join(appDir(app), path)
  await mkdir(dirname(full), { recursive: true })
  await writeFile(full, out)
}

/** `npm create vite@latest my-app -- --template T` with the docs' files written over it. */
async function scaffold(app) {
  const { template } = APPS[app]
  await rm(appDir(app), { recursive: true, force: true })
  for (const [path, text] of Object.entries(SCAFFOLDS[template])) await writeAppFile(app, path, text)
  if (APPS[app].lint === false) await writeAppFile(app, 'tsconfig.json', tsconfig(template === 'react-ts' ? { jsx: 'react-jsx' } : {}, false))
  for (const b of appFiles(app)) await writeAppFile(app, b.attrs.file, b.code)
  for (const [path, text] of Object.entries(APPS[app].testFiles?.() ?? {})) await writeAppFile(app, path, text)
}

/** The template's `npm install`: its dependencies, linked from the workspace. */
async function installTemplateDeps(app) {
  for (const name of TEMPLATE_DEPS[APPS[app].template]) {
    const to = join(appDir(app), 'node_modules', name)
    await mkdir(dirname(to), { recursive: true })
    await symlink(join(REPO_ROOT, 'node_modules', name), to, 'dir')
  }
}

/** `npm install --install-links <pkg>`: a copy of the package's files (what npm packs). */
async function installPackageCopy(app) {
  const to = join(appDir(app), 'node_modules', 'livestore-rs')
  await rm(to, { recursive: true, force: true })
  const { files } = JSON.parse(await readFile(join(PKG_DIR, 'package.json'), 'utf8'))
  for (const f of ['package.json', ...files]) await cp(join(PKG_DIR, f), join(to, f), { recursive: true })
}

/** `npm install <pkg>`: npm links the folder. */
async function installPackageLink(app) {
  const to = join(appDir(app), 'node_modules', 'livestore-rs')
  await rm(to, { recursive: true, force: true })
  await symlink(PKG_DIR, to, 'dir')
}

/** `npm run build`: vite build (the type-check ran in its own test), then serve dist/ with no special headers. */
async function buildAndCheck(app, ctx) {
  const dist = join(workDir, 'dist', app)
  await run(process.execPath, [VITE, 'build', '--logLevel', 'warn', '--outDir', dist, '--emptyOutDir'], { cwd: appDir(app) })
  const web = await startStaticServer(dist, { routes: APPS[app].routes?.() })
  try {
    await APPS[app].check({ ...ctx, url: web.url, mode: 'build' })
  } finally {
    await web.close()
  }
}

/** `npm run dev`: the Vite dev server. A first visit lets Vite optimize the dependencies (it reloads the page once). */
async function devAndCheck(app, ctx) {
  const port = await freePort()
  const vite = startProcess(process.execPath, [VITE, '--host', '127.0.0.1', '--port', String(port), '--strictPort', '--clearScreen', 'false'], { cwd: appDir(app) })
  const url = `http://127.0.0.1:${port}/`
  try {
    await waitForUrl(url, { timeoutMs: 60_000 })
    const warm = await newClient('warm-up')
    await warm.page.goto(url)
    await warm.page.waitForLoadState('networkidle', { timeout: 60_000 }).catch(() => {})
    await warm.page.waitForTimeout(500)
    await warm.context.close()
    await APPS[app].check({ ...ctx, app, url, mode: 'dev' })
  } catch (err) {
    err.message += `\nvite dev output:\n${vite.output.text}`
    throw err
  } finally {
    await vite.stop()
  }
}

/**
 * The commands of a project, by the exact text of the docs (comments
 * dropped). Each runs it, or does what it does here without the network.
 */
const PROJECT_COMMANDS = [
  // Run by scripts/test before this test; here: they exist, and pkg/ is built.
  [/^bash scripts\/setup$/, async () => assert.ok(existsSync(join(REPO_ROOT, 'scripts', 'setup')))],
  [/^bash scripts\/build$/, async () => assertPkgBuilt()],
  [/^npm create vite@latest my-app -- --template (\S+)$/, async (app, m) => {
    assert.equal(m[1], APPS[app].template, `the docs scaffold ${app} from another template than the test`)
    await scaffold(app)
  }],
  [/^cd my-app$/, async () => {}],
  [/^npm install$/, async (app) => installTemplateDeps(app)],
  [/^npm install --install-links \/path\/to\/livestore-rs\/pkg$/, async (app) => installPackageCopy(app)],
  [/^npm install \/path\/to\/livestore-rs\/pkg$/, async (app) => installPackageLink(app)],
  [/^cp -R node_modules\/livestore-rs\/devtools public\/$/, async (app) => {
    await cp(join(appDir(app), 'node_modules', 'livestore-rs', 'devtools'), join(appDir(app), 'public', 'devtools'), { recursive: true })
  }],
  [/^npm run dev$/, async (app, m, ctx) => devAndCheck(app, ctx)],
  [/^npm run build$/, async (app, m, ctx) => buildAndCheck(app, ctx)],
]

const commandLines = (code) =>
  code
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter(Boolean)

/** The steps of an app: its docs commands, with the scaffold, install and run the docs leave implicit. */
function appSteps(app) {
  const lines = ofKind('commands')
    .filter((b) => b.attrs.app.split(',').includes(app))
    .flatMap((b) => commandLines(b.code).map((line) => ({ line, where: b.where })))
  const has = (re) => lines.some((l) => re.test(l.line))
  const steps = []
  if (!has(/^npm create vite/)) steps.push({ line: `npm create vite@latest my-app -- --template ${APPS[app].template}`, where: 'implicit' }, { line: 'npm install', where: 'implicit' })
  if (!has(/^npm install .*pkg$/)) steps.push({ line: 'npm install --install-links /path/to/livestore-rs/pkg', where: 'implicit' })
  steps.push(...lines)
  if (!has(/^npm run (dev|build)$/)) for (const r of APPS[app].run) steps.push({ line: `npm run ${r}`, where: 'implicit' })
  return steps
}

async function runSteps(app, ctx = {}) {
  for (const { line, where } of appSteps(app)) {
    const entry = PROJECT_COMMANDS.find(([re]) => re.test(line))
    assert.ok(entry, `${where}: the test does not know the command \`${line}\` (PROJECT_COMMANDS)`)
    await entry[1](app, entry[0].exec(line), ctx)
  }
}

// ---------------------------------------------------------------------------
// Browser helpers

/** A fresh browser context (its own OPFS, storage and locks) recording what goes wrong. */
async function newClient(name) {
  const context = await browser.newContext()
  const problems = []
  const logs = []
  const warnings = []
  const page = await context.newPage()
  watchPage(page, problems)
  page.on('console', (msg) => {
    if (msg.type() === 'log') logs.push(msg.text())
    if (msg.type() === 'warning') warnings.push(msg.text())
  })
  return { name, context, page, problems, logs, warnings }
}

/** Waits for `locator` to be visible, failing with the page's text and problems. */
async function see(client, locator, what, timeout = 30_000) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout })
  } catch (err) {
    const body = await client.page.locator('body').innerText().catch(() => '?')
    await client.page.screenshot({ path: await resultPath(`docs-${client.name}-${what.replace(/\W+/g, '-')}.png`) }).catch(() => {})
    throw new Error(`${client.name}: ${what}: ${err.message}\npage text: ${body}${describeProblems(client.problems)}`)
  }
}

const pageErrors = (client) => client.problems.filter((p) => p.startsWith('pageerror') || /^HTTP [45]/.test(p))

// ---------------------------------------------------------------------------
// Checks of the apps: what the docs say a user sees

/** docs/getting-started.md, Vite + React: add, complete, filter; reload keeps todos and filter; a second tab shares them. */
async function checkTodoApp({ url, mode }) {
  const a = await newClient(`todo-${mode}`)
  try {
    const { page } = a
    await page.goto(url)
    const input = page.getByPlaceholder('What needs to be done?')
    await see(a, input, 'the app renders')
    for (const text of ['Buy milk', 'Answer mail']) {
      await input.fill(text)
      await input.press('Enter')
      await see(a, page.locator('li', { hasText: text }), `"${text}" is listed`)
    }
    assert.equal(await input.inputValue(), '', 'the draft is cleared after adding')
    await expectTextIs(a, page.locator('footer span'), '2 left')
    await page.locator('li', { hasText: 'Buy milk' }).getByRole('checkbox').check()
    await expectTextIs(a, page.locator('footer span'), '1 left')
    await page.getByRole('button', { name: 'active' }).click()
    await waitUntil(a, async () => (await page.locator('li').allTextContents()).join('|') === 'Answer mailDelete', 'the active filter shows the open todo only')
    await input.fill('a draft')

    // Reload: the todos and the tab's filter are kept.
    await page.waitForTimeout(100)
    await page.reload()
    await see(a, page.locator('li', { hasText: 'Answer mail' }), 'the todos survive a reload')
    assert.equal(await page.getByRole('button', { name: 'active' }).isDisabled(), true, 'the filter survives a reload of the tab')
    assert.equal(await input.inputValue(), 'a draft', 'the draft survives a reload of the tab')

    // A second tab: the same todos, its own UI state; a change shows in the other tab.
    const second = await a.context.newPage()
    watchPage(second, a.problems)
    await second.goto(url)
    await see(a, second.locator('li', { hasText: 'Buy milk' }), 'the second tab lists every todo (filter all)')
    assert.equal(await second.getByPlaceholder('What needs to be done?').inputValue(), '', 'the draft is per tab')
    await second.locator('li', { hasText: 'Buy milk' }).getByRole('button', { name: 'Delete' }).click()
    await page.getByRole('button', { name: 'all' }).click()
    await waitUntil(a, async () => (await page.locator('li').count()) === 1, "the first tab sees the second tab's delete")
    assert.deepEqual(pageErrors(a), [])
  } finally {
    await a.context.close()
  }
}

/**
 * getting-started.md, npm install <folder>: with the template's vite.config.ts the dev server
 * refuses the wasm and the page says so; with the docs' fs.allow, the app works.
 */
async function checkLinkedApp(ctx) {
  const config = join(appDir(ctx.app), 'vite.template.config.ts')
  await writeFile(config, SCAFFOLDS['react-ts']['vite.config.ts'])
  const port = await freePort()
  const vite = startProcess(process.execPath, [VITE, '--config', config, '--host', '127.0.0.1', '--port', String(port), '--strictPort'], { cwd: appDir(ctx.app) })
  const a = await newClient('linked-without-allow')
  try {
    await waitForUrl(`http://127.0.0.1:${port}/`, { timeoutMs: 60_000 })
    await a.page.goto(`http://127.0.0.1:${port}/`)
    await see(a, a.page.getByText('The store could not start: [WASM_LOAD_FAILED]'), 'the error the docs quote')
    assert.match(await a.page.locator('body').innerText(), /403 Forbidden.*server\.fs\.allow/s)
  } finally {
    await a.context.close()
    await vite.stop()
  }
  await checkTodoApp(ctx)
}

async function expectTextIs(client, locator, expected) {
  await waitUntil(client, async () => (await locator.textContent()) === expected, `text "${expected}" (is "${await locator.textContent().catch(() => '?')}")`)
}

async function waitUntil(client, fn, what, timeout = 15_000) {
  const deadline = Date.now() + timeout
  while (!(await fn())) {
    if (Date.now() > deadline) {
      const body = await client.page.locator('body').innerText().catch(() => '?')
      throw new Error(`${client.name}: ${what}: not within ${timeout} ms\npage text: ${body}${describeProblems(client.problems)}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The in-memory plain app: lists the open todo; logs the counts the comments say. */
async function checkPlain({ url, mode }) {
  const a = await newClient(`plain-${mode}`)
  try {
    await a.page.goto(url)
    await see(a, a.page.locator('li', { hasText: 'Answer mail' }), 'the open todo is listed')
    assert.deepEqual(await a.page.locator('li').allTextContents(), ['Answer mail'])
    assert.deepEqual(a.logs, ['2', '1'])
    await a.page.reload()
    await see(a, a.page.locator('li'), 'the list renders again')
    assert.equal(await a.page.locator('li').count(), 1, 'in memory: a reload starts over')
    assert.deepEqual(pageErrors(a), [])
  } finally {
    await a.context.close()
  }
}

/** The persisted plain app: each load adds a todo; reloads keep them. */
async function checkPlainPersisted({ url, mode }) {
  const a = await newClient(`plain-persisted-${mode}`)
  try {
    await a.page.goto(url)
    await see(a, a.page.locator('li', { hasText: 'Visit 1' }), 'the first visit')
    assert.match(await a.page.locator('#app').innerText(), /persisted: true/)
    await a.page.reload()
    await see(a, a.page.locator('li', { hasText: 'Visit 2' }), 'the second visit')
    assert.deepEqual(await a.page.locator('li').allTextContents(), ['Visit 1', 'Visit 2'])
    assert.deepEqual(pageErrors(a), [])
  } finally {
    await a.context.close()
  }
}

/** docs/api.md, Devtools: the page copied from the package finds the app's store and shows its row. */
async function checkDevtoolsApp({ url, mode }) {
  const a = await newClient(`devtools-${mode}`)
  try {
    await a.page.goto(url)
    await see(a, a.page.getByText('persisted: true'), 'the app runs')
    const tools = { ...a, name: `devtools-page-${mode}`, page: await a.context.newPage() }
    watchPage(tools.page, a.problems)
    await tools.page.goto(new URL('devtools/index.html', url).href)
    await see(tools, tools.page.locator('#devtools[data-state="connected"]'), 'the devtools page finds the store', 60_000)
    await see(tools, tools.page.locator('#panel-tables', { hasText: 'Seen in the devtools' }), 'the tables panel shows the row')
    assert.match(await tools.page.locator('#store-details').innerText(), /todos/)
    assert.deepEqual(pageErrors(a), [])
  } finally {
    await a.context.close()
  }
}

/** README.md's quick start: the page says what is left to do; the count is logged. */
async function checkReadme({ url, mode }) {
  const a = await newClient(`readme-${mode}`)
  try {
    await a.page.goto(url)
    await see(a, a.page.getByText('To do: Answer mail'), 'the open todo is shown')
    assert.deepEqual(a.logs, ['2'])
    assert.deepEqual(pageErrors(a), [])
  } finally {
    await a.context.close()
  }
}

const syncLine = (client) => client.page.locator('p', { hasText: /online|offline|Syncing stopped|server's data was reset/ })

/** docs/sync.md: two browsers converge; a server reset stops syncing; "start over" resets and syncs again. */
async function checkSyncApp({ url, mode }) {
  const a = await newClient(`sync-a-${mode}`)
  const b = await newClient(`sync-b-${mode}`)
  try {
    for (const c of [a, b]) {
      await c.page.goto(url)
      await see(c, c.page.getByText('online · all synced'), 'the status line says online')
    }
    const input = a.page.getByPlaceholder('What needs to be done?')
    await input.fill('Synced milk')
    await input.press('Enter')
    await see(b, b.page.locator('li', { hasText: 'Synced milk' }), "A's todo reaches B")
    await b.page.locator('li', { hasText: 'Synced milk' }).getByRole('checkbox').check()
    await expectTextIs(a, a.page.locator('footer span'), '0 left')
    await see(a, a.page.getByText('online · all synced'), 'A is all synced')

    // The server starts over (a new --memory server on the same port): both stop with BACKEND_RESET.
    await servers.open.restart()
    for (const c of [a, b]) await see(c, c.page.getByText("The server's data was reset."), 'the reset is shown', 60_000)
    await a.page.getByRole('button', { name: 'Start over from the server' }).click()
    await see(a, a.page.getByText('online · all synced'), 'after starting over, A syncs again', 60_000)
    assert.equal(await a.page.locator('li').count(), 0, "the new server's store is empty")
    await input.fill('After the reset')
    await input.press('Enter')
    await see(a, a.page.getByText('online · all synced'), 'the new todo is synced')
    assert.match(await syncLine(b).innerText(), /server's data was reset/, 'B stays stopped until it starts over')
    assert.deepEqual([...pageErrors(a), ...pageErrors(b)], [])
  } finally {
    await a.context.close()
    await b.context.close()
  }
}

/** docs/sync.md, Authentication: the page fetches its token and syncs with the server that requires one. */
async function checkAuthApp({ url, mode }) {
  const a = await newClient(`auth-${mode}`)
  try {
    await a.page.goto(url)
    await see(a, a.page.getByText('online · all synced'), 'online with the token')
    const input = a.page.getByPlaceholder('What needs to be done?')
    await input.fill('Behind a token')
    await input.press('Enter')
    await see(a, a.page.locator('li', { hasText: 'Behind a token' }), 'the todo is listed')
    await see(a, a.page.getByText('online · all synced'), 'and synced')
    assert.deepEqual(pageErrors(a), [])
  } finally {
    await a.context.close()
  }
}

// The conflicts app's page and worker (not in the docs): a store on the docs' schema,
// syncing with the server given as ?sync=, driven by the test.
const CONFLICTS_FILES = {
  'src/livestore.worker.ts': `import { makeWorker } from 'livestore-rs/worker'
import { schema } from './schema'

makeWorker({ schema, sync: { url: ({ syncPayload }) => (syncPayload as { url: string }).url } })
`,
  'src/main.ts': `import { createStore, makePersistedAdapter } from 'livestore-rs'
import LeaderWorker from './livestore.worker.ts?worker'
import { events, schema, todos } from './schema'

const errors: string[] = []
const store = await createStore({
  schema,
  storeId: 'conflicts',
  adapter: makePersistedAdapter({ storage: { type: 'opfs' }, worker: LeaderWorker }),
  syncPayload: { url: new URLSearchParams(location.search).get('sync') },
  onError: (e) => errors.push(String((e as Error).message)),
})
const rows = () => store.query(todos.where({ deletedAt: null }).orderBy('text')).map((t) => t.text)
Object.assign(window, { app: { store, events, todos, errors, rows, clientId: store.clientId } })
document.querySelector('#app')!.textContent = 'ready'
`,
}

/** docs/conflicts.md: the rename rule keeps both texts, and drops a rename of a deleted todo. */
async function checkConflicts({ url, mode }) {
  const a = await newClient(`conflicts-a-${mode}`) // through the proxy that is cut
  const b = await newClient(`conflicts-b-${mode}`)
  const proxy = servers.proxy.proxy
  const status = (c) => c.page.evaluate(() => window.app.store.syncStatus)
  const until = (c, fn, what) => waitUntil(c, fn, what, 30_000)
  const synced = (c) => until(c, async () => (({ online, pending }) => online && pending === 0)(await status(c)), 'online and all synced')
  try {
    await a.page.goto(`${url}?sync=${encodeURIComponent(servers.proxy.url)}`)
    await b.page.goto(`${url}?sync=${encodeURIComponent(servers.open.url)}`)
    for (const c of [a, b]) await see(c, c.page.getByText('ready'), 'the page booted')
    await synced(a)
    await a.page.evaluate(() => {
      const { store, events } = window.app
      store.commit(events.todoCreated({ id: 'milk', text: 'Milk' }), events.todoCreated({ id: 'bread', text: 'Bread' }))
    })
    await synced(a)
    await until(b, async () => (await b.page.evaluate(() => window.app.rows())).length === 2, "B has A's todos")

    proxy.cut()
    await until(a, async () => !(await status(a)).online, 'A sees it is offline')
    // A, offline, renames both; B renames one and deletes the other, and syncs first.
    await a.page.evaluate(() => {
      const { store, events } = window.app
      store.commit(events.todoRenamed({ id: 'milk', from: 'Milk', text: 'Oat milk' }), events.todoRenamed({ id: 'bread', from: 'Bread', text: 'Rye bread' }))
    })
    await b.page.evaluate(() => {
      const { store, events } = window.app
      store.commit(events.todoRenamed({ id: 'milk', from: 'Milk', text: 'Soy milk' }), events.todoDeleted({ id: 'bread', deletedAt: new Date() }))
    })
    await synced(b)
    assert.equal((await status(a)).pending, 2)
    proxy.restore() // A reconnects by itself
    await synced(a)
    const expected = ['Oat milk', 'Soy milk']
    await until(a, async () => JSON.stringify(await a.page.evaluate(() => window.app.rows())) === JSON.stringify(expected), `A ends with ${expected}`)
    await until(b, async () => JSON.stringify(await b.page.evaluate(() => window.app.rows())) === JSON.stringify(expected), `B ends with ${expected}`)
    const copy = await a.page.evaluate(() => window.app.store.query(window.app.todos.where({ text: 'Oat milk' }).first()))
    assert.equal(copy.id, `milk-${await a.page.evaluate(() => window.app.clientId)}`, 'the copy has the id the rule gives it')
    assert.deepEqual(await a.page.evaluate(() => window.app.errors), [])
    assert.deepEqual([...pageErrors(a), ...pageErrors(b)], [])
  } finally {
    proxy.restore()
    await a.context.close()
    await b.context.close()
  }
}

// ---------------------------------------------------------------------------
// Run groups: snippets with asserted outcomes

const CHECKS_TS = `// Test harness of the docs' snippets (tests/e2e/docs.test.mjs).
declare global {
  function __check(actual: unknown, expected: unknown, where: string): void
  function __threw(error: unknown, code: string, where: string): void
  function __logs(expected: unknown[], where: string): void
  interface Window { __results: { where: string; ok: boolean; message?: string }[]; __logged: unknown[]; __done?: { ok: boolean; error?: string } }
}

function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime()
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i])
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]))
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a), kb = Object.keys(b)
    return ka.length === kb.length && ka.every((k) => same((a as any)[k], (b as any)[k]))
  }
  return false
}
const show = (v: unknown) => { try { return JSON.stringify(v, (_k, x) => (x === undefined ? '(undefined)' : x)) } catch { return String(v) } }
const record = (where: string, ok: boolean, message?: string) => window.__results.push({ where, ok, message })

window.__results = []
window.__logged = []
const log = console.log.bind(console)
console.log = (...args: unknown[]) => { window.__logged.push(args.length === 1 ? args[0] : args); log(...args) }
globalThis.__check = (actual, expected, where) => record(where, same(actual, expected), \`got \${show(actual)}, the docs say \${show(expected)}\`)
globalThis.__threw = (error, code, where) => {
  const e = error as { name?: string; code?: string; message?: string } | undefined
  record(where, e?.name === 'LiveStoreError' && e.code === code, e ? \`threw \${e.name} \${e.code}: \${e.message}\` : 'did not throw')
}
globalThis.__logs = (expected, where) => {
  const got = window.__logged.splice(0)
  record(where, same(got, expected), \`logged \${show(got)}, the docs say \${show(expected)}\`)
}
export {}
`

const MAIN_TS = `// Runs the snippet group named by ?run= (tests/e2e/docs.test.mjs).
import './checks'

const groups = import.meta.glob('./run-*.ts')
const name = new URLSearchParams(location.search).get('run')
try {
  await groups[\`./run-\${name}.ts\`]()
  window.__done = { ok: true }
} catch (e) {
  const err = e as Error & { code?: string }
  window.__done = { ok: false, error: \`\${err?.code ?? ''} \${err?.stack ?? err}\` }
}
`

/**
 * A group's module: its blocks in order, each marker line rewritten in place
 * (one output line per docs line, so that positions map back to the docs).
 */
function instrument(group, { ts = true } = {}) {
  const out = []
  const lineMap = [] // output line (0-based) → docs position
  const markers = []
  const push = (text, where) => {
    out.push(text)
    lineMap.push(where)
  }
  for (const b of group) {
    b.code
      .replace(/\n$/, '')
      .split('\n')
      .forEach((line, i) => {
        const where = `${b.file}:${b.line + 1 + i}`
        let m
        if ((m = /^(\s*)(.*?)\s*\/\/ → (.+)$/.exec(line))) {
          const [, indent, code, expected] = m
          const decl = /^(?:const|let)\s+([A-Za-z_$][\w$]*)\b/.exec(code)
          markers.push(where)
          if (decl) push(`${indent}${code}; __check(${decl[1]}, (${expected}), ${JSON.stringify(where)})`, where)
          else if (code) push(`${indent}__check((${code.replace(/;$/, '')}), (${expected}), ${JSON.stringify(where)})`, where)
          else throw new Error(`${where}: "// →" needs an expression on its line`)
        } else if ((m = /^(\s*)(.*?)\s*\/\/ throws ([A-Z_]+)\s*$/.exec(line))) {
          const [, indent, code, codeName] = m
          markers.push(where)
          push(`${indent}{ let __e${ts ? ': unknown' : ''}; try { ${code.replace(/;$/, '')} } catch (e) { __e = e }; __threw(__e, '${codeName}', ${JSON.stringify(where)}) }`, where)
        } else if ((m = /^(\s*)(.*?)\s*\/\/ logs (.+)$/.exec(line))) {
          const [, indent, code, said] = m
          // `logs nothing …`, or values followed by a remark in parentheses
          const expected = /^nothing\b/.test(said) ? '' : said.replace(/\s+\([^)]*\)$/, '')
          markers.push(where)
          push(`${indent}${code ? `${code.replace(/;$/, '')}; ` : ''}__logs([${expected}], ${JSON.stringify(where)})`, where)
        } else push(line, where)
      })
  }
  return { text: out.join('\n') + '\n', lineMap, markers }
}

const groupModules = new Map([...runGroups].map(([name, group]) => [name, instrument(group)]))

/** Rewrites tsc's positions in generated files to the docs' lines. */
function mapTscOutput(text) {
  return text.replace(/(\S+?)\((\d+),(\d+)\)/g, (all, file, line, col) => {
    const run = /run-([\w-]+)\.ts$/.exec(file)
    if (run && groupModules.has(run[1])) return `${groupModules.get(run[1]).lineMap[Number(line) - 1] ?? all}:${col} (${file}:${line})`
    const app = /apps\/([\w-]+)\/(.+)$/.exec(file)
    if (app && APPS[app[1]]) {
      const b = appFiles(app[1]).find((f) => f.attrs.file === app[2])
      if (b) return `${b.file}:${b.line + Number(line)}:${col} (${file})`
    }
    return all
  })
}

async function writeSnippetsApp() {
  await scaffold('snippets')
  await writeAppFile('snippets', 'src/checks.ts', CHECKS_TS)
  await writeAppFile('snippets', 'src/main.ts', MAIN_TS)
  for (const [name, mod] of groupModules) await writeAppFile('snippets', `src/run-${name}.ts`, mod.text)
}

// ---------------------------------------------------------------------------
// The tests: type-check everything once, then run each app and group

const appNames = Object.keys(APPS).filter((a) => !APPS[a].harness)

test('every app and snippet type-checks (strict, the template compiler options)', { timeout: 180_000 }, async () => {
  const { exports } = JSON.parse(await readFile(join(PKG_DIR, 'package.json'), 'utf8'))
  for (const entry of ['.', './worker', './react']) {
    assert.ok(exports[entry]?.types && existsSync(join(PKG_DIR, exports[entry].types)), `pkg/package.json declares no types for '${entry}'`)
  }
  for (const app of appNames) {
    await scaffold(app)
    await installTemplateDeps(app)
    await installPackageCopy(app)
  }
  await writeSnippetsApp()
  await installTemplateDeps('snippets')
  await installPackageCopy('snippets')
  const projects = [...appNames, 'snippets'].map((a) => join(appDir(a), 'tsconfig.json'))
  try {
    await run(process.execPath, [TSC, '-b', ...projects, '--pretty', 'false'], { cwd: workDir })
  } catch (err) {
    assert.fail(mapTscOutput(err.message))
  }
})

for (const app of appNames) {
  const steps = appSteps(app).map((s) => s.line)
  test(`app ${app}: ${steps.filter((l) => /^npm run/.test(l)).join(', ')}`, { timeout: 180_000 }, async () => {
    try {
      await runSteps(app)
    } catch (err) {
      const server = servers[APPS[app].server === 'proxy' ? 'open' : APPS[app].server]
      if (server?.process) err.message += `\nsync server output (last lines):\n${server.process.output.text.split('\n').slice(-30).join('\n')}`
      throw err
    }
  })
}

let snippetsUrl
let snippetsServer

/** Run groups whose page is served from a host other than localhost over http: not a secure context. */
const INSECURE_RUNS = new Set(['limits-insecure'])

for (const [name, group] of runGroups) {
  test(`snippets run=${name} (${group.map((b) => b.where).join(', ')})`, { timeout: 120_000 }, async () => {
    if (!snippetsServer) {
      const dist = join(workDir, 'dist', 'snippets')
      await run(process.execPath, [VITE, 'build', '--logLevel', 'warn', '--outDir', dist, '--emptyOutDir'], { cwd: appDir('snippets') })
      snippetsServer = await startStaticServer(dist)
      servers.snippets = { stop: () => snippetsServer.close() }
      snippetsUrl = snippetsServer.url
    }
    const c = await newClient(`run-${name}`)
    try {
      const origin = INSECURE_RUNS.has(name) ? snippetsUrl.replace('127.0.0.1', 'insecure.test') : snippetsUrl
      await c.page.goto(`${origin}?run=${encodeURIComponent(name)}`)
      if (INSECURE_RUNS.has(name)) assert.equal(await c.page.evaluate(() => window.isSecureContext), false)
      await c.page.waitForFunction(() => window.__done, null, { timeout: 60_000 }).catch(() => {})
      const { done, results } = await c.page.evaluate(() => ({ done: window.__done, results: window.__results }))
      const failed = results.filter((r) => !r.ok).map((r) => `${r.where}: ${r.message}`)
      assert.ok(done, `run=${name} did not finish within 60 s${describeProblems(c.problems)}`)
      assert.ok(done.ok, `run=${name} threw: ${done.error}${describeProblems(c.problems)}`)
      assert.deepEqual(failed, [], `run=${name}: outcomes that differ from the docs`)
      const ran = new Set(results.map((r) => r.where))
      const silent = groupModules.get(name).markers.filter((w) => !ran.has(w))
      assert.deepEqual(silent, [], `run=${name}: markers that never ran`)
      assert.deepEqual(c.problems.filter((p) => p.startsWith('pageerror')), [])
      if (INSECURE_RUNS.has(name)) assert.ok(c.warnings.some((w) => /NOT persisted/.test(w)), `the console warns: ${c.warnings}`)
    } finally {
      await c.context.close()
    }
  })
}

// ---------------------------------------------------------------------------
// Node groups: the same markers, run by Node

const CHECKS_MJS = `// Test harness of the docs' Node snippets (tests/e2e/docs.test.mjs).
import { isDeepStrictEqual, inspect } from 'node:util'
import { writeFileSync } from 'node:fs'
const results = []
const logged = []
const log = console.log.bind(console)
console.log = (...args) => { logged.push(args.length === 1 ? args[0] : args); log(...args) }
const record = (where, ok, message) => results.push({ where, ok, message })
const same = (a, b) => isDeepStrictEqual(a, b) || (a && b && typeof a === 'object' && JSON.stringify(a) === JSON.stringify(b))
globalThis.__check = (actual, expected, where) => record(where, same(actual, expected), \`got \${inspect(actual)}, the docs say \${inspect(expected)}\`)
globalThis.__threw = (e, code, where) => record(where, e?.name === 'LiveStoreError' && e.code === code, e ? \`threw \${e.name} \${e.code}: \${e.message}\` : 'did not throw')
globalThis.__logs = (expected, where) => { const got = logged.splice(0); record(where, same(got, expected), \`logged \${inspect(got)}, the docs say \${inspect(expected)}\`) }
process.on('exit', () => writeFileSync(new URL('./results.json', import.meta.url), JSON.stringify(results)))
`

for (const [name, group] of nodeGroups) {
  test(`node=${name} (${group.map((b) => b.where).join(', ')})`, { timeout: 60_000 }, async () => {
    const dir = join(workDir, `node-${name}`)
    await mkdir(join(dir, 'node_modules'), { recursive: true })
    const { files } = JSON.parse(await readFile(join(PKG_DIR, 'package.json'), 'utf8'))
    for (const f of ['package.json', ...files]) await cp(join(PKG_DIR, f), join(dir, 'node_modules', 'livestore-rs', f), { recursive: true })
    const mod = instrument(group, { ts: false })
    await writeFile(join(dir, 'checks.mjs'), CHECKS_MJS)
    await writeFile(join(dir, 'main.mjs'), mod.text)
    await run(process.execPath, ['--import', './checks.mjs', 'main.mjs'], { cwd: dir, timeoutMs: 60_000 })
    const results = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8'))
    assert.deepEqual(results.filter((r) => !r.ok).map((r) => `${r.where}: ${r.message}`), [], `node=${name}: outcomes that differ from the docs`)
    const ran = new Set(results.map((r) => r.where))
    assert.deepEqual(mod.markers.filter((w) => !ran.has(w)), [], `node=${name}: markers that never ran`)
  })
}

// ---------------------------------------------------------------------------
// Sync server command lines

/** Whether a command line starts a server (rather than a subcommand that exits). */
const servesLine = (line) => /livestore-rs-server/.test(line) && (/--example\b/.test(line) || !/ -- (token|reset)\b/.test(line))

/** What the sync server answers a raw `hello`, from a browser page. */
async function helloAnswer(url, token) {
  const c = await newClient('hello')
  try {
    return await c.page.evaluate(
      ([u, t]) =>
        new Promise((resolve) => {
          const ws = new WebSocket(u)
          ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', storeId: 'todos', clientId: 'docs-test', token: t }))
          ws.onmessage = (e) => {
            resolve(JSON.parse(e.data))
            ws.close()
          }
          ws.onerror = () => resolve({ type: 'socket error' })
        }),
      [url, token],
    )
  } finally {
    await c.context.close()
  }
}

for (const b of ofKind('server')) {
  test(`sync server commands at ${b.where}`, { timeout: 600_000 }, async () => {
    const dir = await mkdtemp(join(workDir, 'server-'))
    const port = await freePort()
    const lines = b.code
      .split('\n')
      .map((raw) => {
        const expected = /\s# → (.+)$/.exec(raw)?.[1]
        const line = raw.replace(/(^|\s)#.*$/, '').trim()
        return { line, expected, run: line.replaceAll('8787', String(port)).replaceAll('./data/', `${dir}/data/`) }
      })
      .filter((l) => l.line)
    // One bash script, as a user would type the lines in a terminal: servers in the background
    // (each in its own process group), the next line once /health answers.
    const script = ['set -u', `cd ${JSON.stringify(REPO_ROOT)}`, `health() { for i in $(seq 1 1500); do curl -fsS "http://127.0.0.1:${port}/health" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }`]
    lines.forEach((l, i) => {
      if (servesLine(l.line)) {
        script.push(`cat > ${dir}/serve${i}.sh <<'LINE'\n${l.run}\nLINE`, `setsid bash ${dir}/serve${i}.sh > ${dir}/out${i} 2>&1 & echo $! > ${dir}/pid${i}`, `health || { echo 'no answer on /health' > ${dir}/fail${i}; exit 1; }`)
      } else script.push(`${l.run} > ${dir}/out${i} 2> ${dir}/err${i}; echo $? > ${dir}/rc${i}`)
    })
    const read = (f) => readFile(join(dir, f), 'utf8').catch(() => '')
    try {
      await run('bash', ['-c', script.join('\n')], { cwd: REPO_ROOT, timeoutMs: 540_000 }).catch(async (err) => {
        const outs = await Promise.all(lines.map((_, i) => read(`out${i}`)))
        throw new Error(`${b.where}: ${err.message}\n${outs.join('\n---\n')}`)
      })
      for (const [i, l] of lines.entries()) {
        const out = (await read(`out${i}`)).trim()
        if (servesLine(l.line)) {
          if (l.line.includes('./data/')) assert.ok(existsSync(join(dir, 'data', 'sync.db')), `${b.where}: \`${l.line}\` made no ./data/sync.db`)
          continue
        }
        assert.equal((await read(`rc${i}`)).trim(), '0', `${b.where}: \`${l.line}\` failed: ${await read(`err${i}`)}`)
        if (l.expected !== undefined) assert.equal(out, l.expected, `${b.where}: the output of \`${l.line}\``)
        if (/ -- token\b/.test(l.line)) {
          assert.match(out, /^[\w-]+\.[\w-]+$/, `${b.where}: \`${l.line}\` printed no token`)
          if (lines.some((x) => servesLine(x.line))) {
            const url = `ws://127.0.0.1:${port}`
            assert.equal((await helloAnswer(url, out)).type, 'welcome', `${b.where}: the server of this block does not accept the token`)
            assert.equal((await helloAnswer(url, undefined)).code, 'UNAUTHORIZED', `${b.where}: the server of this block accepts a hello without token`)
          }
        }
      }
    } finally {
      for (const i of lines.keys()) {
        const pid = Number(await read(`pid${i}`))
        if (pid) {
          try {
            process.kill(-pid, 'SIGTERM')
          } catch {}
        }
      }
    }
  })
}
