// Type definitions for `livestore-rs/worker`: the leader worker of a persisted store.

import type { LiveStoreSchema } from './index.js'

/** Options of `makeWorker`. */
export interface WorkerOptions<S extends LiveStoreSchema<any> = LiveStoreSchema<any>> {
  /** The same schema as the page's (from `makeSchema`): the leader materializes with it. */
  readonly schema: S
  /**
   * Events in the eventlog that this schema does not know: `'warn'` (default),
   * `'ignore'` or `'fail'`. `makePersistedAdapter({ unknownEvents })` overrides it.
   */
  readonly unknownEvents?: 'warn' | 'ignore' | 'fail'
  /**
   * Sync with a livestore-rs sync server: its WebSocket URL
   * (`'ws://127.0.0.1:8787'`), or a function of the store and the page's
   * `syncPayload` returning it (or `undefined` not to sync that store).
   */
  readonly sync?: {
    readonly url: string | ((context: { readonly storeId: string; readonly syncPayload: unknown }) => string | undefined)
  }
}

/**
 * Runs the leader of a persisted store in this dedicated worker: waits for the
 * page's init message, loads the wasm, waits for the store's Web Lock, then
 * keeps the eventlog and the state in OPFS and serves every tab of the store.
 * ```ts
 * // livestore.worker.ts
 * import { makeWorker } from 'livestore-rs/worker'
 * import { schema } from './schema'
 * makeWorker({ schema })
 * ```
 */
export declare function makeWorker<S extends LiveStoreSchema<any>>(options: WorkerOptions<S>): void
