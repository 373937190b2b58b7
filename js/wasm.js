// Loading the wasm module, once per JS realm (page or worker). Shared by the
// store (main thread) and the leader worker, so that both load it the same way.

import init from './livestore_rs.js'
import { LiveStoreError } from './util.js'

let initPromise

/**
 * Loads the wasm module once. `wasm` is anything wasm-bindgen's `init` accepts as
 * `module_or_path`: URL / string path / Request / Response / bytes / WebAssembly.Module.
 * Without it, the module is fetched from `livestore_rs_bg.wasm` next to this file.
 * A failure rejects with a LiveStoreError `WASM_LOAD_FAILED` (and a later call tries again).
 */
export function initWasm(wasm) {
  if (!initPromise) {
    initPromise = Promise.resolve()
      .then(() => (wasm === undefined ? init() : init({ module_or_path: wasm })))
      .then(
        () => undefined,
        (e) => {
          initPromise = undefined // allow a retry with another source
          throw loadError(e, wasm)
        },
      )
  }
  return initPromise
}

let modulePromise

/**
 * Compiles the module once per JS realm, without instantiating it: a
 * persisted store compiles it on the page and hands the compiled module to its
 * leader worker, which then only instantiates it (one compile instead of two,
 * and the functions compiled lazily by either thread serve both). `wasm` is
 * what initWasm accepts. A failure rejects with `WASM_LOAD_FAILED` (and a
 * later call tries again).
 */
export function compileWasm(wasm) {
  if (!modulePromise) {
    modulePromise = compile(wasm).catch((e) => {
      modulePromise = undefined
      throw loadError(e, wasm)
    })
  }
  return modulePromise
}

async function compile(source) {
  if (source instanceof WebAssembly.Module) return source
  // The same URL as wasm-bindgen's init uses (bundlers emit the file for this pattern).
  if (source === undefined) source = new URL('livestore_rs_bg.wasm', import.meta.url)
  if (typeof source === 'string' || source instanceof URL || (typeof Request === 'function' && source instanceof Request)) source = fetch(source)
  source = await source
  if (typeof Response === 'function' && source instanceof Response) {
    if (!source.ok) throw new Error(`failed to fetch Wasm: ${source.status} ${source.statusText} fetching '${source.url}'`)
    // Streaming compiles while the bytes arrive; it needs the wasm MIME type.
    if (typeof WebAssembly.compileStreaming === 'function' && source.headers.get('Content-Type') === 'application/wasm') {
      return WebAssembly.compileStreaming(source)
    }
    return WebAssembly.compile(await source.arrayBuffer())
  }
  return WebAssembly.compile(source)
}

/** The load failure with what usually causes it. */
function loadError(cause, source) {
  const message = String(cause?.message ?? cause)
  let hint = ''
  if (/\b403\b/.test(message) && message.includes('/@fs/')) {
    hint =
      " Vite's dev server refuses to serve it from outside the project: the package is linked (npm install <folder>). Install it with `npm install --install-links <folder>`, or add the folder to server.fs.allow in vite.config."
  } else if (source === undefined && typeof window === 'undefined' && typeof globalThis.process?.versions?.node === 'string') {
    hint = " In Node, pass the module's bytes: createStore({ wasm: readFileSync(new URL('./livestore_rs_bg.wasm', import.meta.resolve('livestore-rs'))), … })."
  }
  return new LiveStoreError('WASM_LOAD_FAILED', `could not load the livestore-rs WebAssembly module: ${message}.${hint}`, { cause })
}
