// Loading the wasm module (wasm.js) against a stand-in for wasm-bindgen's init:
// failures become WASM_LOAD_FAILED with a hint at the usual cause, and a
// later call tries again. Run: node --test js/wasm.test.mjs
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, copyFileSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'livestore-wasm-'))
for (const f of ['wasm.js', 'util.js']) copyFileSync(join(here, f), join(dir, f))
// init() fails as globalThis.initFails says, else succeeds.
writeFileSync(join(dir, 'livestore_rs.js'), 'export default async function init(arg) { globalThis.initCalls = [...(globalThis.initCalls ?? []), arg]; if (globalThis.initFails) throw globalThis.initFails }\n')
const { initWasm } = await import(pathToFileURL(join(dir, 'wasm.js')).href)
after(() => rmSync(dir, { recursive: true, force: true }))

test('a 403 of Vite\'s dev server names the fix; a later call tries again and succeeds', async () => {
  globalThis.initFails = new Error("failed to fetch Wasm: 403 Forbidden fetching 'http://127.0.0.1:5173/@fs/home/me/livestore-rs/pkg/livestore_rs_bg.wasm'")
  const err = await initWasm('http://127.0.0.1:5173/@fs/x.wasm').then(() => null, (e) => e)
  assert.equal(err?.name, 'LiveStoreError')
  assert.equal(err.code, 'WASM_LOAD_FAILED')
  assert.match(err.message, /403 Forbidden/)
  assert.match(err.message, /--install-links/)
  assert.match(err.message, /server\.fs\.allow/)
  assert.equal(err.cause, globalThis.initFails)
  globalThis.initFails = undefined
  await initWasm(new Uint8Array([0]))
  await initWasm() // loaded: no second init
  assert.equal(globalThis.initCalls.length, 2)
})

test('in Node without the wasm option, the error says how to pass the bytes', async () => {
  const { initWasm: fresh } = await import(pathToFileURL(join(dir, 'wasm.js')).href + '?fresh')
  globalThis.initFails = new TypeError('fetch failed')
  const err = await fresh().then(() => null, (e) => e)
  assert.equal(err?.code, 'WASM_LOAD_FAILED')
  assert.match(err.message, /fetch failed/)
  assert.match(err.message, /readFileSync/)
  globalThis.initFails = undefined
})

test('compileWasm compiles once per realm and hands back the same module; a failure can be retried', async () => {
  const { compileWasm } = await import(pathToFileURL(join(dir, 'wasm.js')).href + '?compile')
  const bad = await compileWasm(new Uint8Array([0, 1, 2])).then(() => null, (e) => e)
  assert.equal(bad?.code, 'WASM_LOAD_FAILED')
  const empty = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]) // the smallest valid module
  const module = await compileWasm(empty)
  assert.ok(module instanceof WebAssembly.Module)
  assert.equal(await compileWasm(), module) // compiled already: no fetch
  assert.equal(await compileWasm(module), module)
})
