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
