// Types of `livestore-rs/react`: the provider and hooks over a store.
import type { ReactNode } from 'react'
import type { BootStatus, ClientDocumentDef, CreateStoreOptions, LiveStoreSchema, Queryable, RawResult, RawSqlQuery, Store, SyncStatus } from './index.js'

/** Props of `LiveStoreProvider`: the options of `createStore` plus what to render while it is not ready. */
export type LiveStoreProviderProps<S extends LiveStoreSchema<any>> = CreateStoreOptions<S> & {
  readonly children?: ReactNode
  /** Rendered while booting, with the latest boot status (undefined before the first). */
  readonly renderLoading?: (status: BootStatus | undefined) => ReactNode
  /** Rendered when the store could not start (the error has a `code`). */
  readonly renderError?: (error: unknown) => ReactNode
  /** Rendered after the store shut down (reset from another tab, or `store.shutdown()`). */
  readonly renderShutdown?: (info: { readonly reason: 'closed' | 'reset' }) => ReactNode
  /** Runs once after the store booted, before the children render (e.g. to seed data). */
  readonly boot?: (store: Store<S>) => void | Promise<void>
}

/**
 * Boots a store and renders `children` once it is ready; the store shuts down
 * on unmount. Create the adapter once, outside components: the store boots
 * again when `schema`, `storeId`, `adapter`, `clientId`, `sessionId` or
 * `syncPayload` change.
 * ```tsx
 * <LiveStoreProvider schema={schema} storeId="todos" adapter={adapter} renderLoading={(s) => <p>Loading ({s?.stage})</p>}>
 *   <App />
 * </LiveStoreProvider>
 * ```
 */
export declare function LiveStoreProvider<S extends LiveStoreSchema<any>>(props: LiveStoreProviderProps<S>): ReactNode

/** The store of the nearest `LiveStoreProvider` (throws `NO_STORE` outside one). */
export declare function useStore<S extends LiveStoreSchema<any> = LiveStoreSchema>(): { readonly store: Store<S> }

/**
 * The current result of a query, re-rendering only when it changes.
 * ```tsx
 * const todos = useQuery(todosTable.where({ completed: false }))
 * ```
 */
export declare function useQuery<T>(query: Queryable<T>): T
export declare function useQuery<const Q extends RawSqlQuery>(query: Q): RawResult<Q>

/**
 * `[value, setValue, id]` of a client document; `setValue` merges a partial
 * value (or `(value) => partial`) by committing the document's set event.
 * ```tsx
 * const [{ filter }, setUi] = useClientDocument(uiState)
 * setUi({ filter: 'active' })
 * ```
 */
export declare function useClientDocument<TName extends string, TValue>(
  table: ClientDocumentDef<TName, TValue>,
  id?: string,
): readonly [TValue, (update: Partial<TValue> | ((value: TValue) => Partial<TValue>)) => void, string]

/** The store's sync status, re-rendering when it changes. */
export declare function useSyncStatus(): SyncStatus
