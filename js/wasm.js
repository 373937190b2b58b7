// Loading the wasm module, once per JS realm (page or worker). Shared by the
// store (main thread) and the leader worker, so that both load it the same way.

import init from './livestore_rs.js'

let initPromise

/**
 * Loads the wasm module once. `wasm` is anything wasm-bindgen's `init` accepts as
 * `module_or_path`: URL / string path / Request / Response / bytes / WebAssembly.Module.
 * Without it, the module is fetched from `livestore_rs_bg.wasm` next to this file.
 */
export function initWasm(wasm) {
  if (!initPromise) {
    const p = wasm === undefined ? init() : init({ module_or_path: wasm })
    initPromise = Promise.resolve(p).then(() => undefined)
    initPromise.catch(() => {
      initPromise = undefined // allow a retry with another source
    })
  }
  return initPromise
}
