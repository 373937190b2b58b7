// Reactivity, in JS, over the live queries of the wasm core.
//
// Definitions (`signal`, `computed`, `queryDb`) are store-independent frozen
// objects. Each store keeps a ReactiveGraph that instantiates a node per
// definition in use. queryDb nodes own one live query of the core; computeds
// track the nodes they `get` (dynamically, re-tracked on every run).
//
// Propagation is push-pull and glitch-free: a change (commit → ids of changed
// live queries, or setSignal) marks the changed nodes and all their transitive
// dependents CHECK; then every marked node is brought up to date, pulling its
// dependencies first, so each node recomputes at most once per change and only
// sees consistent values; finally the subscribers of nodes whose value changed
// are called, once each, never with a value equal to the last one they got.

import { BRAND, LiveStoreError, deepEqual, describe } from './util.js'
import { toQuery, isQueryBuilder, isTable, isDocumentQuery } from './query-builder.js'

let nextId = 1

function makeDef(kind, props, label) {
  const id = nextId++
  if (label !== undefined && typeof label !== 'string') throw new LiveStoreError('INVALID_ARGUMENT', `${kind}: label must be a string`)
  const def = { kind, id, label: label ?? `${kind}#${id}`, ...props }
  Object.defineProperty(def, BRAND.liveDef, { value: true })
  return Object.freeze(def)
}

export const isLiveDef = (d) => d != null && d[BRAND.liveDef] === true

/** A mutable value living in each store, set with `store.setSignal`. */
export function signal(initial, options) {
  return makeDef('signal', { initial }, options?.label)
}

/** A value derived from other queries: `computed((get) => get(a$) + get(b$))`. */
export function computed(fn, options) {
  if (typeof fn !== 'function') throw new LiveStoreError('INVALID_ARGUMENT', `computed: expected a function (get) => value, got ${describe(fn)}`)
  return makeDef('computed', { fn }, options?.label)
}

const defaultLabel = (q) => {
  const t = isQueryBuilder(q) ? q.table : isDocumentQuery(q) ? q.tableDef : isTable(q) ? q : undefined
  return t ? `queryDb:${t.name}` : undefined
}

/**
 * A reactive database query: a table query, a client document `get()`, raw SQL
 * `{ query, bindValues }`, or a function `(get) => query` depending on signals
 * and computeds (the live query is re-registered when they change).
 */
export function queryDb(query, options) {
  const map = options?.map
  if (map !== undefined && typeof map !== 'function') throw new LiveStoreError('INVALID_ARGUMENT', 'queryDb: options.map must be a function')
  if (typeof query === 'function') return makeDef('queryDb', { fn: query, query: undefined, map }, options?.label)
  toQuery(query) // validate now, with a clear error at the definition site
  return makeDef('queryDb', { fn: undefined, query, map }, options?.label ?? defaultLabel(query))
}

const implicitDefs = new WeakMap()

/** Anything queryable → a live definition (builders and raw queries get a cached implicit queryDb). */
export function asDef(q) {
  if (isLiveDef(q)) return q
  if (q !== null && typeof q === 'object') {
    let def = implicitDefs.get(q)
    if (!def) {
      // toQuery throws the descriptive error for what is not a query. The key lets a
      // computed that builds its query inline on every run
      // (`get(todos.where({ id: get(id$) }))`) keep the same node and live query.
      const implicitKey = JSON.stringify(toQuery(q).desc)
      def = makeDef('queryDb', { fn: undefined, query: q, map: undefined, implicitKey }, defaultLabel(q))
      implicitDefs.set(q, def)
    }
    return def
  }
  return toQuery(q) // throws
}

const CLEAN = 0
const CHECK = 1

const cycleError = (def) =>
  new LiveStoreError('QUERY_CYCLE', `'${def.label}' depends on itself (a cycle between computed / queryDb definitions)`)

class Node {
  constructor(def) {
    this.def = def
    this.value = undefined
    this.deps = new Set()
    this.dependents = new Set()
    this.subscribers = new Set()
    this.state = CLEAN
    this.changedAt = 0
    this.liveId = undefined
    this.desc = undefined
    this.finish = undefined
    this.rustDirty = false
    this.evaluating = false
    this.disposed = false
    // For devtools: how often the value was (re)computed, and how long it took.
    this.runs = 0
    this.totalMs = 0
    this.lastMs = 0
  }
}

function recordRun(node, start) {
  const ms = performance.now() - start
  node.runs++
  node.lastMs = ms
  node.totalMs += ms
}

export class ReactiveGraph {
  /**
   * @param {object} o
   * @param {object} o.session the WasmSession
   * @param {Map} o.tables table definitions by name
   * @param {(error: unknown, context: object) => void} o.reportError
   */
  constructor({ session, tables, reportError }) {
    this.session = session
    this.tables = tables
    this.reportError = reportError
    this.nodes = new Map() // def → Node
    this.live = new Map() // live-query id → Set<Node>
    this.signalValues = new Map() // signal def → value (kept even while no node exists)
    this.epoch = 0
    this.updating = false
    this.pending = new Set()
    this.flushing = false
    this.untracked = new Set()
  }

  // ---- values ------------------------------------------------------------

  signalValue(def) {
    return this.signalValues.has(def) ? this.signalValues.get(def) : def.initial
  }

  /** Current value of anything queryable, without subscribing. */
  query(q) {
    if (isLiveDef(q)) {
      const node = this.nodes.get(q)
      if (node) {
        this.ensureFresh(node)
        return node.value
      }
      if (q.kind === 'signal') return this.signalValue(q)
      if (this.untracked.has(q)) throw cycleError(q)
      this.untracked.add(q)
      try {
        const get = (d) => this.query(d)
        if (q.kind === 'computed') return q.fn(get)
        const v = this.#once(q.fn ? q.fn(get) : q.query)
        return q.map ? q.map(v) : v
      } finally {
        this.untracked.delete(q)
      }
    }
    return this.#once(q)
  }

  #once(q) {
    const { desc, finish } = toQuery(q, this.tables)
    return finish(this.session.query(desc))
  }

  // ---- nodes -------------------------------------------------------------

  acquire(def) {
    let node = this.nodes.get(def)
    if (node) return node
    node = new Node(def)
    this.nodes.set(def, node)
    try {
      if (def.kind === 'signal') node.value = this.signalValue(def)
      else if (def.kind === 'computed') node.value = this.#evaluate(node, def.fn)
      else this.#register(node, def.fn ? this.#evaluate(node, def.fn) : def.query, true)
    } catch (e) {
      this.#dispose(node)
      throw e
    }
    return node
  }

  #evaluate(node, fn) {
    if (node.evaluating) throw cycleError(node.def)
    node.evaluating = true
    const newDeps = new Set()
    const start = node.def.kind === 'computed' ? performance.now() : 0
    const get = (q) => {
      let def = asDef(q)
      if (def.implicitKey !== undefined && !this.nodes.has(def)) {
        for (const d of node.deps) {
          if (d.def.implicitKey === def.implicitKey && !d.disposed) {
            def = d.def
            break
          }
        }
      }
      const dep = this.acquire(def)
      if (dep === node || dep.evaluating) throw cycleError(node.def)
      newDeps.add(dep)
      dep.dependents.add(node)
      this.ensureFresh(dep)
      return dep.value
    }
    try {
      return fn(get)
    } finally {
      // A queryDb's run is the read of its result (#read), not the building of its query.
      if (node.def.kind === 'computed') recordRun(node, start)
      node.evaluating = false
      const old = node.deps
      node.deps = newDeps
      for (const d of old) {
        if (!newDeps.has(d)) {
          d.dependents.delete(node)
          this.#maybeDispose(d)
        }
      }
    }
  }

  /** (Re-)registers the live query of a queryDb node; returns whether it changed. */
  #register(node, q, initial = false) {
    const { desc, finish } = toQuery(q, this.tables)
    node.finish = finish
    if (node.liveId !== undefined && deepEqual(desc, node.desc)) return false
    const id = this.session.subscribeQuery(desc)
    const oldId = node.liveId
    node.liveId = id
    node.desc = desc
    let set = this.live.get(id)
    if (!set) this.live.set(id, (set = new Set()))
    set.add(node)
    if (oldId !== undefined) this.#releaseLive(oldId, node)
    const v = this.#read(node)
    if (initial) node.value = v
    else if (!deepEqual(v, node.value)) {
      node.value = v
      node.changedAt = this.epoch
    }
    return true
  }

  #read(node) {
    const start = performance.now()
    const v = node.finish(this.session.liveResult(node.liveId))
    const value = node.def.map ? node.def.map(v) : v
    recordRun(node, start)
    return value
  }

  #releaseLive(id, node) {
    const set = this.live.get(id)
    if (set) {
      set.delete(node)
      if (set.size === 0) this.live.delete(id)
    }
    if (this.session) {
      try {
        this.session.unsubscribeQuery(id)
      } catch (e) {
        this.reportError(e, { label: node.def.label, phase: 'unsubscribeQuery' })
      }
    }
  }

  #maybeDispose(node) {
    if (!node.disposed && !node.evaluating && node.subscribers.size === 0 && node.dependents.size === 0) this.#dispose(node)
  }

  #dispose(node) {
    node.disposed = true
    if (this.nodes.get(node.def) === node) this.nodes.delete(node.def)
    if (node.liveId !== undefined) {
      const id = node.liveId
      node.liveId = undefined
      this.#releaseLive(id, node)
    }
    const deps = [...node.deps]
    node.deps.clear()
    for (const d of deps) {
      d.dependents.delete(node)
      this.#maybeDispose(d)
    }
  }

  // ---- propagation -------------------------------------------------------

  ensureFresh(node) {
    if (node.state !== CHECK || node.disposed) return
    let depChanged = false
    for (const d of node.deps) {
      this.ensureFresh(d)
      if (d.changedAt === this.epoch) {
        depChanged = true
        break
      }
    }
    node.state = CLEAN
    const def = node.def
    try {
      if (def.kind === 'computed') {
        if (depChanged) {
          const v = this.#evaluate(node, def.fn)
          if (!deepEqual(v, node.value)) {
            node.value = v
            node.changedAt = this.epoch
          }
        }
      } else if (def.kind === 'queryDb') {
        let replaced = false
        if (depChanged && def.fn) replaced = this.#register(node, this.#evaluate(node, def.fn))
        if (!replaced && node.rustDirty && node.liveId !== undefined) {
          const v = this.#read(node)
          // The core reported a change of the rows; a `map` may still make them equal.
          if (!def.map || !deepEqual(v, node.value)) {
            node.value = v
            node.changedAt = this.epoch
          }
        }
      }
    } catch (e) {
      // The commit / setSignal already happened: keep the previous value, report.
      this.reportError(e, { label: def.label, phase: 'recompute' })
    } finally {
      node.rustDirty = false
    }
  }

  #mark(node, affected) {
    if (node.state === CHECK) return
    node.state = CHECK
    affected.push(node)
    for (const d of node.dependents) this.#mark(d, affected)
  }

  /** After WasmSession.commit: `changedIds` are the live queries whose result changed. */
  onCommit(changedIds) {
    if (!changedIds || changedIds.length === 0) return
    this.epoch++
    const affected = []
    for (const id of changedIds) {
      const set = this.live.get(id)
      if (!set) continue
      for (const n of set) {
        n.rustDirty = true
        this.#mark(n, affected)
      }
    }
    this.#propagate(affected)
  }

  setSignal(def, value) {
    const prev = this.signalValue(def)
    if (deepEqual(prev, value)) return
    this.signalValues.set(def, value)
    const node = this.nodes.get(def)
    if (!node) return
    this.epoch++
    node.value = value
    node.changedAt = this.epoch
    const affected = [node]
    for (const d of node.dependents) this.#mark(d, affected)
    this.#propagate(affected)
  }

  #propagate(affected) {
    this.updating = true
    try {
      for (const n of affected) this.ensureFresh(n)
    } finally {
      this.updating = false
    }
    for (const n of affected) {
      if (!n.disposed && n.changedAt === this.epoch && n.subscribers.size > 0) this.pending.add(n)
    }
    this.flush()
  }

  /** Calls subscribers of changed nodes; re-entrant commits from callbacks queue behind. */
  flush() {
    if (this.flushing) return
    this.flushing = true
    try {
      while (this.pending.size > 0) {
        const node = this.pending.values().next().value
        this.pending.delete(node)
        if (node.disposed) continue
        for (const sub of [...node.subscribers]) {
          if (!sub.active) continue
          const v = node.value
          if (Object.is(sub.last, v)) continue
          sub.last = v
          this.#call(sub, v, node)
        }
      }
    } finally {
      this.flushing = false
    }
  }

  #call(sub, v, node) {
    try {
      sub.cb(v)
    } catch (e) {
      this.reportError(e, { label: sub.label ?? node.def.label, phase: 'subscriber' })
    }
  }

  subscribe(q, cb, { skipInitialRun = false, label } = {}) {
    const node = this.acquire(asDef(q))
    const sub = { cb, active: true, last: node.value, label }
    node.subscribers.add(sub)
    if (!skipInitialRun) this.#call(sub, node.value, node)
    return () => {
      if (!sub.active) return
      sub.active = false
      node.subscribers.delete(sub)
      if (this.session) this.#maybeDispose(node)
    }
  }

  /**
   * The queryDb and computed nodes in use, for devtools: runs count each time
   * the value was computed (a queryDb: its result read from the core, at first
   * and after each change the core reported; the core's re-run of the SQL on
   * commit is not in it), with their time in ms.
   */
  liveQueries() {
    const out = []
    for (const node of this.nodes.values()) {
      const { kind, id, label } = node.def
      if (kind === 'signal') continue
      out.push({
        id,
        kind,
        label,
        query: node.desc,
        runs: node.runs,
        totalMs: node.totalMs,
        lastMs: node.lastMs,
        subscribers: node.subscribers.size,
        dependents: node.dependents.size,
      })
    }
    return out
  }

  /** Releases every live query; used by store.close() before the session closes. */
  close() {
    for (const node of [...this.nodes.values()]) {
      for (const sub of node.subscribers) sub.active = false
      node.subscribers.clear()
      node.dependents.clear()
    }
    for (const node of [...this.nodes.values()]) this.#dispose(node)
    this.pending.clear()
    this.session = undefined
  }
}
