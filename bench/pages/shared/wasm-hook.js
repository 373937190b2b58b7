// Records every WebAssembly.Memory the page's main thread creates or gets from an
// instantiated module, so that W7 can report the wasm memory of both libraries
// the same way (livestore-rs: its own module; LiveStore: wa-sqlite's module).
// Imported first by each page's main.js, before the library touches wasm.

const memories = new Set()

function collect(result) {
  const instance = result instanceof WebAssembly.Instance ? result : result?.instance
  const exports = instance?.exports
  if (exports) for (const v of Object.values(exports)) if (v instanceof WebAssembly.Memory) memories.add(v)
  return result
}

const W = WebAssembly
const { instantiate, instantiateStreaming, Instance, Memory } = W

W.instantiate = function (...args) {
  return instantiate.apply(this, args).then(collect)
}
if (instantiateStreaming) {
  W.instantiateStreaming = function (...args) {
    return instantiateStreaming.apply(this, args).then(collect)
  }
}
W.Instance = new Proxy(Instance, {
  construct(target, args, newTarget) {
    return collect(Reflect.construct(target, args, newTarget))
  },
})
W.Memory = new Proxy(Memory, {
  construct(target, args, newTarget) {
    const m = Reflect.construct(target, args, newTarget)
    memories.add(m)
    return m
  },
})

/** Bytes of all wasm memories of this thread (their current buffer sizes). */
export function wasmMemoryBytes() {
  let total = 0
  for (const m of memories) total += m.buffer.byteLength
  return total
}

export function wasmMemoryCount() {
  return memories.size
}
