// Type definitions for livestore-rs: event sourcing + reactive SQLite, with its
// core in Rust compiled to WebAssembly. The names follow LiveStore.

// ---------------------------------------------------------------------------
// Phantom type carriers (never present at runtime)

declare const TypeId: unique symbol
declare const OptionalId: unique symbol
declare const InsertOptionalId: unique symbol
declare const ResultId: unique symbol
declare const ArgsId: unique symbol
declare const EventsId: unique symbol
declare const TablesId: unique symbol
declare const ClientDocumentSetId: unique symbol

type Simplify<T> = { [K in keyof T]: T[K] }

/** A read-only map by name (a `Map` at runtime). */
export interface NameMap<V> {
  get(name: string): V | undefined
  has(name: string): boolean
  readonly size: number
  forEach(fn: (value: V, name: string) => void): void
}

// ---------------------------------------------------------------------------
// Errors

/** Stable error codes, of the JS layer and of the wasm core. */
export type LiveStoreErrorCode =
  | 'STORE_CLOSED'
  | 'INVALID_SCHEMA'
  | 'INVALID_QUERY'
  | 'UNKNOWN_EVENT'
  | 'INVALID_EVENT_ARGS'
  | 'MATERIALIZER_FAILED'
  | 'UNKNOWN_TABLE'
  | 'UNKNOWN_COLUMN'
  | 'INVALID_VALUE'
  | 'SQL_ERROR'
  | 'ROLLBACK_FAILED'
  | 'UNKNOWN_LIVE_QUERY'
  | 'QUERY_CYCLE'
  | 'MATERIALIZER_INVALID'
  | 'INVALID_ARGUMENT'
  | 'INVALID_OPTIONS'
  | 'COMMIT_IN_QUERY'
  | 'COMMIT_IN_MATERIALIZER'
  | 'QUERY_IN_MATERIALIZER'
  | 'UNSUPPORTED'
  | 'OPFS_UNAVAILABLE'
  | 'OPFS_BUSY'
  | 'INVALID_UPSTREAM'
  | 'PUSH_FAILED'
  | 'EVENT_DROPPED'
  | 'LEADER_BEHIND'
  | 'LEADER_FAILED'
  | 'WORKER_FAILED'
  | 'STORE_RESET'
  | 'SCHEMA_MISMATCH'
  | 'TIMEOUT'
  | 'SNAPSHOT_NEEDED'
  | 'INVALID_IMPORT'
  | 'PERSIST_FAILED'
  | 'WASM_LOAD_FAILED'
  | 'NO_STORE'
  // sync (reported to onError with phase 'sync')
  | 'EVENT_REJECTED'
  | 'EVENT_TOO_LARGE'
  | 'BACKEND_RESET'
  | 'SERVER_BEHIND'
  | 'SYNC_FAILED'
  | 'UNAUTHORIZED'
  | 'STORE_MISMATCH'
  | 'PROTOCOL_ERROR'
  // sync, passing: the leader reconnects by itself
  | 'SERVER_FULL'
  | 'LAGGING'
  | 'INTERNAL'
  | (string & {})

/**
 * The error of livestore-rs: `name === 'LiveStoreError'`, a stable `code`, and
 * where known the `event` name and the argument `field` path. `instanceof
 * LiveStoreError` is true for errors thrown by the JS layer and by the wasm core.
 *
 * ```ts
 * try { store.commit(events.todoCreated({ id: 1 as any, text: 'x' })) }
 * catch (e) { if (e instanceof LiveStoreError && e.code === 'INVALID_EVENT_ARGS') console.log(e.field) }
 * ```
 */
export declare class LiveStoreError extends Error {
  constructor(code: string, message: string, extra?: { event?: string; field?: string })
  readonly name: 'LiveStoreError'
  readonly code: LiveStoreErrorCode
  readonly event?: string
  readonly field?: string
  /** Sync errors about one event: its sequence number. */
  readonly seqNum?: SeqNum
}

// ---------------------------------------------------------------------------
// Descriptors of the wasm boundary (docs/ARCHITECTURE.md)

/** Column types of state tables. */
export type ColumnType = 'text' | 'integer' | 'real' | 'blob' | 'boolean' | 'json' | 'datetime'

/** A literal value of `Schema.Literal`. */
export type LiteralValue = string | number | boolean | null

/** Argument schema descriptor, as sent to the wasm core. */
export type ArgSchema =
  | { readonly type: 'string' }
  | { readonly type: 'number' }
  | { readonly type: 'boolean' }
  | { readonly type: 'date' }
  | { readonly type: 'json' }
  | { readonly type: 'literal'; readonly values: readonly LiteralValue[] }
  | { readonly type: 'array'; readonly items: ArgSchema }
  | { readonly type: 'struct'; readonly fields: { readonly [name: string]: ArgSchema } }
  | { readonly type: 'optional'; readonly inner: ArgSchema }
  | { readonly type: 'nullable'; readonly inner: ArgSchema }

/** One column of a table descriptor. */
export interface ColumnDesc {
  readonly name: string
  readonly type: ColumnType
  readonly primaryKey?: boolean
  readonly nullable?: boolean
  readonly default?: unknown
}

/** One index of a table descriptor. */
export interface IndexDesc {
  readonly name: string
  readonly columns: readonly string[]
  readonly unique?: boolean
}

/** A table descriptor. */
export interface TableDesc {
  readonly name: string
  readonly columns: readonly ColumnDesc[]
  readonly indexes?: readonly IndexDesc[]
  readonly clientDocument?: { readonly default: unknown; readonly valueSchema: ArgSchema }
}

/** The schema descriptor handed to `new WasmSession(...)`. */
export interface SchemaDesc {
  readonly tables: readonly TableDesc[]
  readonly events: readonly { readonly name: string; readonly clientOnly: boolean; readonly schema: ArgSchema }[]
  readonly materializers: { readonly [event: string]: { readonly sql: string } | { readonly source: string } }
}

/** Comparison operators of `where`. Lower case is accepted too. */
export type WhereOp = '=' | '!=' | '<' | '>' | '<=' | '>=' | 'IN' | 'NOT IN' | 'LIKE'

/** A `where` descriptor: keys of one object are ANDed. */
export type WhereDesc = {
  readonly [column: string]: unknown
  readonly $and?: readonly WhereDesc[]
  readonly $or?: readonly WhereDesc[]
}

/** Bind values of raw SQL: named (`:name`) or positional (`?`). */
export type BindValues = { readonly [name: string]: unknown } | readonly unknown[]

/** A query descriptor, as sent to the wasm core. */
export type QueryDesc =
  | {
      readonly kind: 'select'
      readonly table: string
      readonly select?: readonly string[]
      readonly where?: WhereDesc
      readonly orderBy?: readonly { readonly column: string; readonly direction: 'asc' | 'desc' }[]
      readonly limit?: number
      readonly offset?: number
      readonly result: 'rows' | 'first' | 'count'
    }
  | { readonly kind: 'sql'; readonly sql: string; readonly bind?: BindValues; readonly result?: 'rows' | 'first' }
  | { readonly kind: 'document'; readonly table: string; readonly id: string }

/** A write descriptor: what a materializer produces. */
export type WriteDesc =
  | {
      readonly kind: 'insert'
      readonly table: string
      readonly values: { readonly [column: string]: unknown }
      readonly onConflict?: {
        readonly target: readonly string[]
        readonly action: 'ignore' | 'replace' | 'update'
        readonly update?: { readonly [column: string]: unknown }
      }
    }
  | { readonly kind: 'update'; readonly table: string; readonly set: { readonly [column: string]: unknown }; readonly where?: WhereDesc }
  | { readonly kind: 'delete'; readonly table: string; readonly where?: WhereDesc }
  | { readonly kind: 'sql'; readonly sql: string; readonly bind?: BindValues }

// ---------------------------------------------------------------------------
// Schema: argument schemas

/** An argument schema whose values have type `T` (a plain ArgSchema descriptor at runtime). */
export type SchemaDef<T, D extends ArgSchema = ArgSchema> = D & { readonly [TypeId]: T }

/** `Schema.optional(x)`: a struct field that may be absent. */
export type OptionalSchemaDef<T> = SchemaDef<T, { readonly type: 'optional'; readonly inner: ArgSchema }> & {
  readonly [OptionalId]: true
}

type AnySchemaDef = SchemaDef<any>
type TypeOfSchema<S> = S extends { readonly [TypeId]: infer T } ? T : never
type OptionalKeys<F> = { [K in keyof F]: F[K] extends { readonly [OptionalId]: true } ? K : never }[keyof F]
type StructType<F> = Simplify<
  { -readonly [K in Exclude<keyof F, OptionalKeys<F>>]: TypeOfSchema<F[K]> } & {
    -readonly [K in OptionalKeys<F>]?: TypeOfSchema<F[K]>
  }
>

/** Type helpers for argument schemas. */
export declare namespace Schema {
  /**
   * The value type of a schema.
   * ```ts
   * const Todo = Schema.Struct({ id: Schema.String, done: Schema.Boolean })
   * type Todo = Schema.Type<typeof Todo> // { id: string; done: boolean }
   * ```
   */
  type Type<S> = TypeOfSchema<S>
  /** Any argument schema. */
  type Any = AnySchemaDef
}

/**
 * Argument schemas of events and client documents. They are plain descriptors;
 * the wasm core validates every committed event against them.
 *
 * ```ts
 * const args = Schema.Struct({
 *   id: Schema.String,
 *   due: Schema.optional(Schema.Date),
 *   tags: Schema.Array(Schema.String),
 *   priority: Schema.Literal('low', 'high'),
 *   note: Schema.NullOr(Schema.String),
 * })
 * ```
 */
export declare const Schema: {
  /** A string. */
  readonly String: SchemaDef<string, { readonly type: 'string' }>
  /** A finite number. */
  readonly Number: SchemaDef<number, { readonly type: 'number' }>
  /** A boolean. */
  readonly Boolean: SchemaDef<boolean, { readonly type: 'boolean' }>
  /** A `Date` (stored as epoch milliseconds, given back as `Date`). */
  readonly Date: SchemaDef<Date, { readonly type: 'date' }>
  /** Any JSON value. */
  readonly Json: SchemaDef<unknown, { readonly type: 'json' }>
  /** Alias of `Schema.Json`. */
  readonly Any: SchemaDef<unknown, { readonly type: 'json' }>
  /** Alias of `Schema.Json`. */
  readonly Unknown: SchemaDef<unknown, { readonly type: 'json' }>
  /**
   * One of the given values: `Schema.Literal('all', 'active', 'completed')`.
   */
  Literal<const L extends readonly LiteralValue[]>(...values: L): SchemaDef<L[number], { readonly type: 'literal'; readonly values: L }>
  /** An array: `Schema.Array(Schema.String)`. */
  Array<S extends AnySchemaDef>(items: S): SchemaDef<ReadonlyArray<TypeOfSchema<S>>, { readonly type: 'array'; readonly items: S }>
  /** An object with the given fields: `Schema.Struct({ id: Schema.String })`. Extra fields are rejected. */
  Struct<const F extends { readonly [name: string]: AnySchemaDef }>(
    fields: F,
  ): SchemaDef<StructType<F>, { readonly type: 'struct'; readonly fields: F }>
  /** A struct field that may be absent: `Schema.Struct({ note: Schema.optional(Schema.String) })`. */
  optional<S extends AnySchemaDef>(inner: S): OptionalSchemaDef<TypeOfSchema<S>>
  /** The value or `null`: `Schema.NullOr(Schema.String)`. */
  NullOr<S extends AnySchemaDef>(inner: S): SchemaDef<TypeOfSchema<S> | null, { readonly type: 'nullable'; readonly inner: S }>
  /** Alias of `Schema.NullOr`. */
  nullable<S extends AnySchemaDef>(inner: S): SchemaDef<TypeOfSchema<S> | null, { readonly type: 'nullable'; readonly inner: S }>
}

// ---------------------------------------------------------------------------
// Columns and tables

/** A column definition; `T` is the decoded value type (with `| null` when nullable). */
export interface ColumnDef<T = unknown, TOptionalOnInsert extends boolean = boolean, TType extends ColumnType = ColumnType> {
  readonly type: TType
  readonly primaryKey?: true
  readonly nullable?: true
  readonly default?: unknown
  readonly schema?: ArgSchema
  readonly [TypeId]: T
  readonly [InsertOptionalId]: TOptionalOnInsert
}

/** Options of a column. */
export interface ColumnOptions<T> {
  /** Part of the primary key. */
  readonly primaryKey?: boolean
  /** May hold `null` (and may then be left out of an insert). */
  readonly nullable?: boolean
  /** Value used when an insert leaves the column out. */
  readonly default?: T | null
}

/** Options of a json column: `schema` types its values (the type only; the core stores any JSON). */
export interface JsonColumnOptions extends ColumnOptions<unknown> {
  readonly schema?: AnySchemaDef
}

type ColumnValue<T, O> = O extends { readonly nullable: true } ? T | null : T
type OptionalOnInsert<O> = O extends { readonly nullable: true } ? true : O extends { readonly default: {} | null } ? true : false
type Column<TType extends ColumnType, T, O> = ColumnDef<ColumnValue<T, O>, OptionalOnInsert<O>, TType>
type JsonValue<O> = O extends { readonly schema: infer S } ? TypeOfSchema<S> : unknown

/** Column definitions of a table, by name. */
export type Columns = { readonly [name: string]: ColumnDef<any, boolean> }

type ColumnName<C> = keyof C & string
type ValueOf<C, K extends keyof C> = C[K] extends { readonly [TypeId]: infer T } ? T : never
type InsertOptionalKeys<C> = { [K in keyof C]: C[K] extends { readonly [InsertOptionalId]: true } ? K : never }[keyof C]

/** The row type of a table's columns. */
export type RowOf<C> = Simplify<{ -readonly [K in keyof C]: ValueOf<C, K> }>

/** The values `insert` takes: columns with a default or nullable may be left out. */
export type InsertOf<C> = Simplify<
  { -readonly [K in Exclude<keyof C, InsertOptionalKeys<C>>]: ValueOf<C, K> } & {
    -readonly [K in InsertOptionalKeys<C>]?: ValueOf<C, K>
  }
>

/** The row type of a table: `type Todo = Row<typeof todos>`. */
export type Row<T> = T extends TableDef<string, infer C> ? RowOf<C> : never

/** A condition on one column: a value (equality), or `{ op, value }`. */
export type WhereCondition<T> =
  | T
  | { readonly op: '=' | '!=' | '<' | '>' | '<=' | '>=' | Lowercase<'=' | '!='>; readonly value: T }
  | { readonly op: 'LIKE' | 'like'; readonly value: string }
  | { readonly op: 'IN' | 'NOT IN' | 'in' | 'not in'; readonly value: readonly T[] }
  | undefined

/** A `where` object: `{ column: value }`, `{ column: { op, value } }`, `$or` / `$and` lists. Keys are ANDed. */
export type WhereParams<C> = { readonly [K in keyof C]?: WhereCondition<ValueOf<C, K>> } & {
  readonly $and?: readonly WhereParams<C>[]
  readonly $or?: readonly WhereParams<C>[]
}

/** Something with a result of type `T`: query builders, tables, document gets, queryDb / computed / signal. */
export interface Queryable<T> {
  readonly [ResultId]: T
}

/** A database query: a query builder, a table or a client document `get()`. */
export interface DbQuery<T> extends Queryable<T> {
  readonly desc: QueryDesc
}

/** How a select returns: all rows, the first row, or a count. */
export type QueryMode = 'rows' | 'first' | 'count'
type ResultFor<TRow, TMode extends QueryMode, TFallback> = TMode extends 'rows'
  ? TRow[]
  : TMode extends 'first'
    ? TRow | TFallback
    : number

/**
 * An immutable query over one table; every method returns a new frozen builder.
 * `store.query(builder)` runs it; `queryDb(builder)` makes it reactive.
 *
 * ```ts
 * store.query(todos.where({ completed: false }).orderBy('text', 'asc').limit(10)) // Todo[]
 * store.query(todos.where({ id: 'a' }).first())                                   // Todo | undefined
 * store.query(todos.count())                                                      // number
 * store.query(todos.select('text'))                                               // string[] (one column is plucked)
 * ```
 */
export interface QueryBuilder<C extends Columns, TRow = RowOf<C>, TMode extends QueryMode = 'rows', TFallback = undefined>
  extends DbQuery<ResultFor<TRow, TMode, TFallback>> {
  /** The query descriptor sent to the wasm core. */
  readonly desc: Extract<QueryDesc, { kind: 'select' }>
  /** The table queried. */
  readonly table: TableDef<string, C>
  /**
   * Filters rows; several calls are ANDed.
   * ```ts
   * todos.where({ completed: false, text: { op: 'LIKE', value: '%milk%' } })
   * todos.where({ $or: [{ id: 'a' }, { id: 'b' }] })
   * todos.where('id', 'a')
   * todos.where('createdAt', '>', new Date('2024-01-01'))
   * ```
   */
  where(params: WhereParams<C>): QueryBuilder<C, TRow, TMode, TFallback>
  where<K extends ColumnName<C>>(column: K, value: ValueOf<C, K>): QueryBuilder<C, TRow, TMode, TFallback>
  where<K extends ColumnName<C>>(
    column: K,
    op: 'IN' | 'NOT IN' | 'in' | 'not in',
    value: readonly ValueOf<C, K>[],
  ): QueryBuilder<C, TRow, TMode, TFallback>
  where<K extends ColumnName<C>>(column: K, op: 'LIKE' | 'like', value: string): QueryBuilder<C, TRow, TMode, TFallback>
  where<K extends ColumnName<C>>(column: K, op: WhereOp, value: ValueOf<C, K>): QueryBuilder<C, TRow, TMode, TFallback>
  /**
   * Selects columns. With one column, results are that column's values (plucked),
   * as in LiveStore; with several, objects with those columns.
   * ```ts
   * todos.select('id')          // string[]
   * todos.select('id', 'text')  // { id: string; text: string }[]
   * ```
   */
  select<K extends ColumnName<C>>(column: K): QueryBuilder<C, ValueOf<C, K>, TMode, TFallback>
  select<K extends ColumnName<C>>(...columns: K[]): QueryBuilder<C, Simplify<Pick<RowOf<C>, K>>, TMode, TFallback>
  /**
   * Orders rows; several calls add tie-breakers.
   * ```ts
   * todos.orderBy('text', 'asc')
   * todos.orderBy([{ col: 'completed', direction: 'asc' }, { col: 'text', direction: 'desc' }])
   * ```
   */
  orderBy<K extends ColumnName<C>>(column: K, direction?: 'asc' | 'desc'): QueryBuilder<C, TRow, TMode, TFallback>
  orderBy(
    list: readonly ({ readonly col: ColumnName<C>; readonly direction?: 'asc' | 'desc' } | { readonly column: ColumnName<C>; readonly direction?: 'asc' | 'desc' })[],
  ): QueryBuilder<C, TRow, TMode, TFallback>
  /** At most `n` rows: `todos.limit(10)`. */
  limit(n: number): QueryBuilder<C, TRow, TMode, TFallback>
  /** Skips `n` rows: `todos.orderBy('id').offset(20).limit(10)`. */
  offset(n: number): QueryBuilder<C, TRow, TMode, TFallback>
  /**
   * The first row, or `undefined` (or the fallback's value) when there is none.
   * ```ts
   * todos.where({ id }).first()                              // Todo | undefined
   * todos.where({ id }).first({ fallback: () => null })      // Todo | null
   * ```
   */
  first(): QueryBuilder<C, TRow, 'first', undefined>
  first<F>(options: { readonly fallback: () => F }): QueryBuilder<C, TRow, 'first', F>
  /** The number of matching rows: `todos.where({ completed: true }).count()`. */
  count(): QueryBuilder<C, number, 'count', never>
  /** Updates the rows this query's `where` selects (for materializers): `todos.where({ id }).update({ text })`. */
  update(values: Partial<RowOf<C>>): MutationBuilder<C>
  /** Deletes the rows this query's `where` selects (for materializers): `todos.where({ id }).delete()`. */
  delete(): MutationBuilder<C>
  /** Inserts a row (for materializers): `todos.insert({ id, text })`. */
  insert(values: InsertOf<C>): InsertBuilder<C>
}

/** Base of the write builders that materializers return. */
export interface WriteBuilderBase {
  /** The write descriptor sent to the wasm core. */
  readonly desc: WriteDesc
}

/**
 * An insert; what a materializer returns.
 * ```ts
 * todos.insert({ id, text })
 * todos.insert({ id, text }).onConflict('id', 'ignore')
 * todos.insert({ id, text }).onConflict('id', 'update', { text })
 * ```
 */
export interface InsertBuilder<C extends Columns> extends WriteBuilderBase {
  /** What happens when the insert hits a unique / primary key conflict on `target`. */
  onConflict(target: ColumnName<C> | readonly ColumnName<C>[], action: 'ignore' | 'replace'): InsertBuilder<C>
  onConflict(target: ColumnName<C> | readonly ColumnName<C>[], action: 'update', update: Partial<RowOf<C>>): InsertBuilder<C>
}

/**
 * An update or delete; what a materializer returns.
 * ```ts
 * todos.update({ completed: true }).where({ id })
 * todos.delete().where({ completed: true })
 * ```
 */
export interface MutationBuilder<C extends Columns> extends WriteBuilderBase {
  /** Restricts the rows written; several calls are ANDed. Without where, every row is written. */
  where(params: WhereParams<C>): MutationBuilder<C>
  where<K extends ColumnName<C>>(column: K, value: ValueOf<C, K>): MutationBuilder<C>
  where<K extends ColumnName<C>>(column: K, op: WhereOp | Lowercase<WhereOp>, value: unknown): MutationBuilder<C>
}

/** Any builder a materializer may return. */
export type AnyWriteBuilder = InsertBuilder<any> | MutationBuilder<any>

/**
 * A table definition. It is also the query of all its rows, and has every
 * query-builder method (`todos.where(...)`, `todos.count()`, `todos.insert(...)`).
 */
export interface TableDef<TName extends string = string, C extends Columns = Columns> extends QueryBuilder<C> {
  readonly name: TName
  readonly columns: C
  readonly indexes: readonly IndexDesc[]
  /** The table descriptor in the SchemaDesc. */
  readonly tableDesc: TableDesc
}

/** Options of `State.SQLite.table`. */
export interface TableOptions<TName extends string, C extends Columns> {
  readonly name: TName
  readonly columns: C
  readonly indexes?: readonly { readonly name: string; readonly columns: readonly ColumnName<C>[]; readonly unique?: boolean }[]
}

/** A query of one client document's value: `uiState.get()` is `{ kind: 'document', table: 'uiState', id: '__session__' }`. */
export interface DocumentQuery<TValue> extends DbQuery<TValue> {
  readonly kind: 'document'
  readonly table: string
  readonly id: string
  readonly desc: Extract<QueryDesc, { kind: 'document' }>
}

/** The args of a client document's set event. */
export type ClientDocumentSetArgs<TValue> = { id: string; value: Partial<TValue> }

/**
 * The set event of a client document: `uiState.set({ filter: 'active' })` merges the
 * partial value into the document (id defaults to the current session). It is also
 * an event definition (client-only, named `${name}Set`) to list in `events`.
 */
export interface ClientDocumentSet<TName extends string, TValue> {
  (value: Partial<TValue>, id?: string): Event<`${TName}Set`, ClientDocumentSetArgs<TValue>>
  readonly name: `${TName}Set`
  readonly schema: ArgSchema
  readonly clientOnly: true
  readonly clientDocumentTable: TName
  readonly [ArgsId]: ClientDocumentSetArgs<TValue>
  readonly [ClientDocumentSetId]: true
}

/** A client document table: per-session (or per-id) state such as UI state. */
export interface ClientDocumentDef<TName extends string = string, TValue = unknown>
  extends TableDef<TName, { readonly id: ColumnDef<string, false, 'text'>; readonly value: ColumnDef<TValue, false, 'json'> }> {
  /** The event that merges a partial value into the document. */
  readonly set: ClientDocumentSet<TName, TValue>
  /** The query of the document's value (the default merged in): `store.query(uiState.get())`. */
  get(id?: string): DocumentQuery<TValue>
  readonly default: { readonly id: string; readonly value: TValue }
  readonly valueSchema: ArgSchema
  readonly clientDocument: { readonly default: unknown; readonly valueSchema: ArgSchema }
}

// ---------------------------------------------------------------------------
// Events

/** An event to commit: `{ name, args }`. */
export interface Event<TName extends string = string, TArgs = unknown> {
  readonly name: TName
  readonly args: TArgs
}

/**
 * An event definition: call it with the args to get the event to commit.
 * ```ts
 * const todoCreated = Events.synced({ name: 'v1.TodoCreated', schema: Schema.Struct({ id: Schema.String, text: Schema.String }) })
 * store.commit(todoCreated({ id: 'a', text: 'Buy milk' }))
 * ```
 */
export interface EventDef<TName extends string = string, TArgs = any, TClientOnly extends boolean = boolean> {
  (...args: {} extends TArgs ? [args?: TArgs] : [args: TArgs]): Event<TName, TArgs>
  readonly name: TName
  readonly schema: ArgSchema
  readonly clientOnly: TClientOnly
  readonly [ArgsId]: TArgs
}

/** Any event definition, including client document set events. */
export type AnyEventDef = EventDef<string, any> | ClientDocumentSet<string, any>

/** Options of `Events.synced` / `Events.clientOnly`. */
export interface EventOptions<TName extends string, S extends AnySchemaDef> {
  /** A unique, versioned name, e.g. `'v1.TodoCreated'`. */
  readonly name: TName
  /** The args schema; the wasm core validates every committed event against it. */
  readonly schema: S
}

/**
 * Event definitions.
 * ```ts
 * const events = {
 *   todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: Schema.Struct({ id: Schema.String, text: Schema.String }) }),
 *   draftSaved: Events.clientOnly({ name: 'DraftSaved', schema: Schema.Struct({ text: Schema.String }) }),
 * }
 * ```
 */
export declare const Events: {
  /** An event that syncs to the other clients of the store. */
  synced<const TName extends string, S extends AnySchemaDef>(options: EventOptions<TName, S>): EventDef<TName, TypeOfSchema<S>, false>
  /** An event that stays on this client (not synced). */
  clientOnly<const TName extends string, S extends AnySchemaDef>(options: EventOptions<TName, S>): EventDef<TName, TypeOfSchema<S>, true>
}

// ---------------------------------------------------------------------------
// Materializers, state, schema

/** The context of a JS materializer. */
export interface MaterializerContext {
  /** Reads the state as it is at this point of the commit. */
  query<T>(q: DbQuery<T>): T
  query<const Q extends RawSqlQuery>(q: Q): RawResult<Q>
  /** The event being materialized. */
  readonly event: { readonly name: string; readonly seqNum: string; readonly clientId: string; readonly sessionId: string } | undefined
}

/** What a JS materializer may return. */
export type MaterializerResult =
  | string
  | AnyWriteBuilder
  | WriteDesc
  | { readonly sql: string; readonly bindValues?: BindValues }
  | readonly MaterializerResult[]
  | void
  | null
  | undefined

/**
 * A materializer: SQL text (named parameters `:name` bound from the args) or a
 * function `(args, ctx) => writes`.
 */
export type Materializer<TArgs> = string | ((args: TArgs, ctx: MaterializerContext) => MaterializerResult)

type EventDefsIn<E> = E extends readonly (infer D)[] ? D : E[keyof E]
type ArgsOfDef<D> = D extends { readonly [ArgsId]: infer A } ? A : never

/** The materializers an events object needs: one per event name (client document events excluded). */
export type MaterializerMap<E> = {
  readonly [D in EventDefsIn<E> as D extends { readonly [ClientDocumentSetId]: true } ? never : D extends { readonly name: infer N extends string } ? N : never]: Materializer<ArgsOfDef<D>>
}

type EventOfDef<D> = D extends { readonly name: infer N extends string; readonly [ArgsId]: infer A } ? Event<N, A> : never
type TablesIn<T> = T extends readonly (infer D)[] ? D : T[keyof T]
type DocEventsOf<T> = T extends ClientDocumentDef<infer N, infer V> ? Event<`${N}Set`, ClientDocumentSetArgs<V>> : never

/** A state definition: tables + materializers. */
export interface StateDef<TTable = TableDef> {
  readonly tables: readonly TableDef<string, any>[]
  readonly materializers: { readonly [event: string]: Materializer<any> }
  readonly [TablesId]: TTable
}

/**
 * The schema object `createStore` takes: the SchemaDesc for the wasm core plus
 * the JS materializer functions.
 */
export interface LiveStoreSchema<TEvent extends Event = Event> {
  /** The descriptor handed to the wasm core. */
  readonly desc: SchemaDesc
  /** Event name → JS materializer (wrapped: returns plain write descriptors). */
  readonly materializers: { readonly [event: string]: (args: unknown, ctx: unknown) => unknown }
  /** Tables by name. */
  readonly tables: NameMap<TableDef<string, any>>
  /** Event definitions by name (client document set events included). */
  readonly events: NameMap<AnyEventDef>
  readonly state: StateDef
  readonly [EventsId]: TEvent
}

/** The events a schema's store accepts. */
export type EventsOf<S> = S extends LiveStoreSchema<infer E> ? E : never

/**
 * State definitions (SQLite tables) and materializers.
 * ```ts
 * const todos = State.SQLite.table({
 *   name: 'todos',
 *   columns: {
 *     id: State.SQLite.text({ primaryKey: true }),
 *     text: State.SQLite.text({ default: '' }),
 *     completed: State.SQLite.boolean({ default: false }),
 *     deletedAt: State.SQLite.datetime({ nullable: true }),
 *   },
 *   indexes: [{ name: 'todos_completed', columns: ['completed'] }],
 * })
 * ```
 */
export declare const State: {
  readonly SQLite: {
    /** A text column (`string`). */
    text<const O extends ColumnOptions<string> = {}>(options?: O): Column<'text', string, O>
    /** An integer column (`number`). */
    integer<const O extends ColumnOptions<number> = {}>(options?: O): Column<'integer', number, O>
    /** A floating-point column (`number`). */
    real<const O extends ColumnOptions<number> = {}>(options?: O): Column<'real', number, O>
    /** A bytes column (`Uint8Array`). */
    blob<const O extends ColumnOptions<Uint8Array> = {}>(options?: O): Column<'blob', Uint8Array, O>
    /** A boolean column (stored as 0/1, read as `boolean`). */
    boolean<const O extends ColumnOptions<boolean> = {}>(options?: O): Column<'boolean', boolean, O>
    /** A JSON column; `schema` types its values: `State.SQLite.json({ schema: Schema.Array(Schema.String), default: [] })`. */
    json<const O extends JsonColumnOptions = {}>(options?: O): Column<'json', JsonValue<O>, O>
    /** A date-time column (stored as epoch ms, read as `Date`). */
    datetime<const O extends ColumnOptions<Date> = {}>(options?: O): Column<'datetime', Date, O>
    /** A table. */
    table<const TName extends string, const C extends Columns>(options: TableOptions<TName, C>): TableDef<TName, C>
    /**
     * A client document: a table of JSON documents by id (default: the session's),
     * with a generated client-only set event that merges partial values.
     * ```ts
     * const uiState = State.SQLite.clientDocument({
     *   name: 'uiState',
     *   schema: Schema.Struct({ newTodoText: Schema.String, filter: Schema.Literal('all', 'active', 'completed') }),
     *   default: { value: { newTodoText: '', filter: 'all' } },
     * })
     * store.commit(uiState.set({ filter: 'active' }))
     * store.query(uiState.get()) // { newTodoText: '', filter: 'active' }
     * ```
     */
    clientDocument<const TName extends string, S extends AnySchemaDef>(options: {
      readonly name: TName
      readonly schema: S
      readonly default: { readonly id?: string; readonly value: TypeOfSchema<S> }
    }): ClientDocumentDef<TName, TypeOfSchema<S>>
    /**
     * Materializers by event name; throws when a key is not the name of an event.
     * ```ts
     * const materializers = State.SQLite.materializers(events, {
     *   'v1.TodoCreated': ({ id, text }) => todos.insert({ id, text }),
     *   'v1.TodoCompleted': ({ id }) => todos.update({ completed: true }).where({ id }),
     *   'v1.TodoClearedCompleted': 'UPDATE todos SET deletedAt = :deletedAt WHERE completed = 1',
     * })
     * ```
     */
    materializers<const E extends { readonly [key: string]: AnyEventDef } | readonly AnyEventDef[]>(
      events: E,
      materializers: NoInfer<MaterializerMap<E>>,
    ): MaterializerMap<E>
    /** The state: tables and materializers. `State.SQLite.makeState({ tables: { todos, uiState }, materializers })` */
    makeState<const T extends { readonly [key: string]: TableDef<string, any> } | readonly TableDef<string, any>[]>(options: {
      readonly tables: T
      readonly materializers?: { readonly [event: string]: Materializer<any> }
    }): StateDef<TablesIn<T>>
  }
}

/**
 * The schema of a store: events + state. Checks that every event has a
 * materializer (client document events excepted) and that names are unique.
 * ```ts
 * const schema = makeSchema({ events, state: State.SQLite.makeState({ tables: { todos, uiState }, materializers }) })
 * ```
 */
export declare function makeSchema<
  const E extends { readonly [key: string]: AnyEventDef } | readonly AnyEventDef[],
  TTable,
>(options: {
  readonly events: E
  readonly state: StateDef<TTable>
  /**
   * The conflict rule: called for each pending event of this client that is
   * re-applied after events that came first in the server's order (a rebase),
   * with `ctx.query` reading the state at that point. Return `undefined` or
   * `'keep'` to re-apply it (the default: last write wins in the server's
   * order), `'drop'` to discard it, or another event to apply instead.
   */
  readonly onRebase?: (
    event: PendingEvent<EventOfDef<EventDefsIn<E>> | DocEventsOf<TTable>>,
    ctx: RebaseContext,
  ) => undefined | 'keep' | 'drop' | (EventOfDef<EventDefsIn<E>> | DocEventsOf<TTable>)
}): LiveStoreSchema<EventOfDef<EventDefsIn<E>> | DocEventsOf<TTable>>

/** A pending event as the conflict rule (`makeSchema({ onRebase })`) sees it. */
export type PendingEvent<Ev> = Ev extends { readonly name: infer N; readonly args: infer A }
  ? { readonly name: N; readonly args: A; readonly seqNum: string; readonly clientId: string; readonly sessionId: string }
  : never

/** What the conflict rule can read: the state with the server's events applied. */
export interface RebaseContext {
  query<Q extends Queryable<any> | RawSqlQuery>(query: Q): ResultOf<Q>
}

// ---------------------------------------------------------------------------
// Reactivity

/**
 * Raw SQL query: `{ query: 'SELECT …', bindValues: { id: 'a' } }`. Its result is
 * `Record<string, unknown>[]` (or one row / `undefined` with `result: 'first'`),
 * or the type of `schema` when given (Dates in it are decoded).
 */
export interface RawSqlQuery {
  readonly query: string
  readonly bindValues?: BindValues
  /** `'first'` returns the first row or `undefined`. */
  readonly result?: 'rows' | 'first'
  /** The schema of the whole result, e.g. `Schema.Array(Schema.Struct({ id: Schema.String }))`. */
  readonly schema?: AnySchemaDef
}

/** The result type of a raw SQL query. */
export type RawResult<Q> = Q extends { readonly schema: infer S extends AnySchemaDef }
  ? TypeOfSchema<S>
  : Q extends { readonly result: 'first' }
    ? Record<string, unknown> | undefined
    : Record<string, unknown>[]

/** Reads another query inside `computed` / `queryDb(fn)` and makes it a dependency. */
export interface Getter {
  <T>(q: Queryable<T>): T
  <const Q extends RawSqlQuery>(q: Q): RawResult<Q>
}

/** A reactive definition (store-independent): signal, computed or queryDb. */
export interface LiveQueryDef<T, TKind extends 'signal' | 'computed' | 'queryDb' = 'signal' | 'computed' | 'queryDb'> extends Queryable<T> {
  readonly kind: TKind
  readonly id: number
  readonly label: string
}

/** A signal: a value held by each store, set with `store.setSignal`. */
export interface Signal<T> extends LiveQueryDef<T, 'signal'> {
  readonly initial: T
}

/** A computed: a value derived from other queries. */
export interface Computed<T> extends LiveQueryDef<T, 'computed'> {}

/** A reactive database query. */
export interface QueryDb<T> extends LiveQueryDef<T, 'queryDb'> {}

/** Options of `queryDb`. */
export interface QueryDbOptions<T, U> {
  /** Name shown in errors and devtools. */
  readonly label?: string
  /** Maps the result; subscribers are called only when the mapped value changes (deep equality). */
  readonly map?: (value: T) => U
}

/**
 * A signal: its value lives in each store (initially `initial`) and is set with
 * `store.setSignal`; computeds and `queryDb(fn)` depending on it update.
 * ```ts
 * const filter = signal<'all' | 'active' | 'completed'>('all', { label: 'filter' })
 * store.setSignal(filter, 'active')
 * ```
 */
export declare function signal<T>(initial: T, options?: { readonly label?: string }): Signal<T>

/**
 * A value computed from other queries with `get`; recomputed once per change of
 * what it read (glitch-free), and only passed on when it changed (deep equality).
 * ```ts
 * const openCount$ = computed((get) => get(queryDb(todos.where({ completed: false }))).length, { label: 'openCount' })
 * ```
 */
export declare function computed<T>(fn: (get: Getter) => T, options?: { readonly label?: string }): Computed<T>

/**
 * A reactive database query. Give a query builder, a client document `get()`,
 * raw SQL, or a function of `get` returning one of these (the live query is
 * re-registered when what it read changes).
 * ```ts
 * const todos$ = queryDb(todos.where({ completed: false }), { label: 'openTodos' })
 * const visible$ = queryDb((get) => get(filter) === 'all' ? todos : todos.where({ completed: get(filter) === 'completed' }))
 * const raw$ = queryDb({ query: 'SELECT id FROM todos WHERE completed = :c', bindValues: { c: 1 } })
 * ```
 */
export declare function queryDb<T, U = T>(query: DbQuery<T>, options?: QueryDbOptions<T, U>): QueryDb<U>
/**
 * A reactive raw SQL query.
 * ```ts
 * const done$ = queryDb({ query: 'SELECT id FROM todos WHERE completed = :c', bindValues: { c: 1 } }, { label: 'done' })
 * ```
 */
export declare function queryDb<const Q extends RawSqlQuery, U = RawResult<Q>>(query: Q, options?: QueryDbOptions<RawResult<Q>, U>): QueryDb<U>
/**
 * A reactive query that depends on signals / computeds read with `get`.
 * ```ts
 * const visible$ = queryDb((get) => todos.where({ completed: get(showDone) }))
 * ```
 */
export declare function queryDb<T, U = T>(fn: (get: Getter) => DbQuery<T>, options?: QueryDbOptions<T, U>): QueryDb<U>
/**
 * A reactive raw SQL query whose bind values depend on signals / computeds.
 * ```ts
 * const byId$ = queryDb((get) => ({ query: 'SELECT * FROM todos WHERE id = :id', bindValues: { id: get(selectedId) } }))
 * ```
 */
export declare function queryDb<const Q extends RawSqlQuery, U = RawResult<Q>>(
  fn: (get: Getter) => Q,
  options?: QueryDbOptions<RawResult<Q>, U>,
): QueryDb<U>

/** The result type of anything a store can query. */
export type ResultOf<Q> = Q extends Queryable<infer T> ? T : Q extends RawSqlQuery ? RawResult<Q> : never

// ---------------------------------------------------------------------------
// Store

/** A sequence number: `global` orders synced events, `client` counts client-only ones. */
export interface SeqNum {
  readonly global: number
  readonly client: number
  readonly rebaseGeneration: number
}

/** One entry of the eventlog. */
export interface EventRecord {
  readonly seqNum: SeqNum
  readonly parentSeqNum: SeqNum
  readonly name: string
  /** The args, decoded by the event's schema (Dates as `Date`). */
  readonly args: unknown
  readonly clientId: string
  readonly sessionId: string
  readonly clientOnly: boolean
}

/** Options of `store.subscribe`. */
export interface SubscribeOptions {
  /** Do not call the callback immediately with the current value. */
  readonly skipInitialRun?: boolean
  /** Name shown when the callback throws. */
  readonly label?: string
}

/** Removes a subscription (and disposes its live queries when unused). Calling it again does nothing. */
export type Unsubscribe = () => void

/** Where errors of subscribers and of recomputations go (default: `console.error`). */
export type ErrorHandler = (error: unknown, context: { readonly label?: string; readonly phase: string }) => void

/**
 * The wasm module: a URL or path, a `Request` / `Response` (or a promise of one),
 * its bytes, or a compiled `WebAssembly.Module` (typed loosely so that no DOM lib is needed).
 */
export type WasmSource = string | ArrayBuffer | ArrayBufferView | object

/** Options of `createStore`. */
export interface CreateStoreOptions<S extends LiveStoreSchema<any>> {
  /** From `makeSchema`. */
  readonly schema: S
  /** Identifies the store (one eventlog, one state). */
  readonly storeId: string
  /** Identifies this client (browser profile); random when not given. */
  readonly clientId?: string
  /** Identifies this session (tab); random when not given. */
  readonly sessionId?: string
  /** The wasm module, e.g. its bytes in Node: `{ wasm: readFileSync('node_modules/livestore-rs/livestore_rs_bg.wasm') }`. */
  readonly wasm?: WasmSource
  /** Alias of `wasm` for a URL. */
  readonly wasmUrl?: string | object
  /**
   * Receives errors thrown by subscribers and recomputations, and those of
   * persistence (phase `'persist'`: a push the leader could not store, whose
   * events were rolled back; phase `'rebase'`: an event dropped because it no
   * longer applies after another tab's events; code `'STORE_RESET'`).
   */
  readonly onError?: ErrorHandler
  /**
   * Where the store keeps its data: `makePersistedAdapter(...)` persists it in
   * OPFS through a leader worker; without it, the store lives in memory.
   */
  readonly adapter?: PersistedAdapter
  /**
   * Boot progress: `loading` → (`migrating` → `rehydrating` with `done`/`total`
   * when the state is rebuilt from the eventlog) → `syncing` → `done`.
   */
  readonly onBootStatus?: (status: BootStatus) => void
  /**
   * Sent to the sync server when the leader connects (`makeWorker({ sync })`):
   * a string is the token, or `{ token }`; other fields are for the worker's
   * `sync.url` function.
   */
  readonly syncPayload?: string | { readonly token?: string; readonly [key: string]: unknown }
  /**
   * Lets the devtools page of the same origin (`/devtools.html` of the demo)
   * inspect this store over a BroadcastChannel: tables, eventlog, read-only
   * SQL, live queries, sync status, export. Reads only. Default `false`.
   */
  readonly devtools?: boolean
}

/** Where syncing with the server stands (`store.syncStatus`). */
export interface SyncStatus {
  /** Whether the leader syncs with a server (`makeWorker({ sync })`). */
  readonly enabled: boolean
  /** Connected and up to date with the server. */
  readonly online: boolean
  readonly phase: 'disabled' | 'offline' | 'connecting' | 'live'
  /** Events committed on this client and not yet confirmed by the server. */
  readonly pending: number
  /** The last event of the leader's eventlog. */
  readonly head: SeqNum | null
  /** The last event the server confirmed. */
  readonly upstreamHead: SeqNum | null
  /** The server's identity (changes when its data is reset). */
  readonly backendId?: string
  /** Why syncing stopped for good (e.g. `BACKEND_RESET`, `UNAUTHORIZED`). */
  readonly error?: LiveStoreError
}

/** What boot is doing (see `onBootStatus`). */
export interface BootStatus {
  readonly stage: 'loading' | 'migrating' | 'rehydrating' | 'syncing' | 'done'
  /** Events replayed so far (`rehydrating`). */
  readonly done?: number
  /** Events to replay (`rehydrating`). */
  readonly total?: number
  /** With `done`: whether the store is persisted (false: the browser could not, see `reason`). */
  readonly persisted?: boolean
  /** With `done` and `persisted: false`: why the store runs in memory. */
  readonly reason?: string
}

/** A persisted adapter, from `makePersistedAdapter`. */
export interface PersistedAdapter {
  readonly kind: 'persisted'
  readonly storage: { readonly type: 'opfs' }
}

/**
 * The leader worker: what Vite's `?worker` import gives (a constructor), a
 * function returning a Worker, or the URL of a module worker. Typed loosely so
 * that no DOM lib is needed.
 */
export type LeaderWorkerSource = (new (options?: { name?: string }) => object) | ((options?: { name?: string }) => object) | string | object

/** Options of `makePersistedAdapter`. */
export interface PersistedAdapterOptions {
  /** Only OPFS for now (the default). */
  readonly storage?: { readonly type: 'opfs' }
  /** The leader worker, whose module calls `makeWorker({ schema })` from `livestore-rs/worker`. */
  readonly worker: LeaderWorkerSource
  /**
   * Events in the eventlog that this schema does not know (written by a newer
   * version of the app): `'warn'` (default: skipped, with a warning), `'ignore'`
   * (skipped silently) or `'fail'` (boot fails). Overrides `makeWorker`'s.
   */
  readonly unknownEvents?: 'warn' | 'ignore' | 'fail'
}

/**
 * Persists the store in OPFS: every tab runs a leader worker; the one holding
 * the store's Web Lock writes the eventlog and the state, and serves all tabs.
 * Where OPFS, workers or Web Locks are missing, createStore warns and runs in
 * memory (`store.persisted === false`).
 * ```ts
 * import LeaderWorker from './livestore.worker.ts?worker'
 * const store = await createStore({
 *   schema, storeId: 'todos',
 *   adapter: makePersistedAdapter({ storage: { type: 'opfs' }, worker: LeaderWorker }),
 *   onBootStatus: (s) => console.log(s.stage, s.done, s.total),
 * })
 * store.commit(events.todoCreated({ id: 'a', text: 'Buy milk' }))
 * await store.flush() // durable now
 * ```
 */
export declare function makePersistedAdapter(options: PersistedAdapterOptions): PersistedAdapter

/**
 * Deletes the local data of a store (its eventlog and state in OPFS) without
 * opening it. If a tab has it open, its leader does it and every session of it
 * closes (reporting `'STORE_RESET'`).
 * ```ts
 * await resetPersistence({ storeId: 'todos' })
 * ```
 */
export declare function resetPersistence(options: { readonly storeId: string; readonly timeoutMs?: number }): Promise<void>

/**
 * A store: commits events, reads and subscribes to queries. All reads and commits
 * are synchronous.
 */
export interface Store<S extends LiveStoreSchema<any> = LiveStoreSchema> {
  readonly storeId: string
  readonly clientId: string
  readonly sessionId: string
  /** Hash of the schema (tables, events, materializers). */
  readonly schemaHash: string
  readonly schema: S
  readonly isClosed: boolean
  /**
   * Commits events, synchronously; several events are applied atomically (all or
   * none). Subscribers whose values changed are called before `commit` returns.
   * ```ts
   * store.commit(events.todoCreated({ id: 'a', text: 'Buy milk' }), events.todoCompleted({ id: 'a' }))
   * ```
   */
  commit(...events: EventsOf<S>[]): void
  commit(events: readonly EventsOf<S>[]): void
  /**
   * Reads the current value of a query.
   * ```ts
   * const open = store.query(todos.where({ completed: false }))   // Todo[]
   * const n = store.query(todos.count())                          // number
   * const ui = store.query(uiState.get())                         // { newTodoText: string; filter: ... }
   * const rows = store.query({ query: 'SELECT * FROM todos WHERE id = :id', bindValues: { id: 'a' } })
   * ```
   */
  query<T>(q: Queryable<T>): T
  query<const Q extends RawSqlQuery>(q: Q): RawResult<Q>
  /**
   * Calls `onUpdate` now with the current value, then after each commit or
   * setSignal that changes it (never with an equal value). Returns the unsubscribe function.
   * Errors thrown by `onUpdate` go to `createStore`'s `onError` (default `console.error`)
   * and never reach other subscribers or the commit.
   * ```ts
   * const unsubscribe = store.subscribe(queryDb(todos.where({ completed: false })), (rows) => render(rows))
   * ```
   */
  subscribe<T>(q: Queryable<T>, onUpdate: (value: T) => void, options?: SubscribeOptions): Unsubscribe
  subscribe<T>(q: Queryable<T>, options: SubscribeOptions & { readonly onUpdate: (value: T) => void }): Unsubscribe
  subscribe<const Q extends RawSqlQuery>(q: Q, onUpdate: (value: RawResult<Q>) => void, options?: SubscribeOptions): Unsubscribe
  subscribe<const Q extends RawSqlQuery>(q: Q, options: SubscribeOptions & { readonly onUpdate: (value: RawResult<Q>) => void }): Unsubscribe
  /**
   * Sets a signal in this store, or updates it from its previous value.
   * ```ts
   * store.setSignal(filter, 'active')
   * store.setSignal(count, (n) => n + 1)
   * ```
   */
  setSignal<T>(sig: Signal<T>, value: NoInfer<T> | ((previous: T) => NoInfer<T>)): void
  /** The eventlog of this session, oldest first. */
  eventlog(): EventRecord[]
  /** Whether commits are persisted (false: an in-memory store, or the browser could not persist). */
  readonly persisted: boolean
  /** Where syncing with the server stands. */
  readonly syncStatus: SyncStatus
  /** Calls `callback` whenever the sync status changes; returns the unsubscribe function. */
  subscribeSyncStatus(callback: (status: SyncStatus) => void): () => void
  /**
   * Calls `callback({ reason })` once the store closes: `'closed'` by close() or
   * shutdown(), `'reset'` when its local data was reset or imported (in any tab).
   */
  onShutdown(callback: (info: { readonly reason: 'closed' | 'reset' }) => void): Unsubscribe
  /**
   * Resolves once everything committed so far is durable in the leader's
   * eventlog (at once for an in-memory store). Rejects when the leader could
   * not persist it: those events were rolled back (and reported to onError).
   * ```ts
   * store.commit(events.todoCreated({ id: 'a', text: 'Buy milk' }))
   * await store.flush()
   * ```
   */
  flush(): Promise<void>
  /**
   * Copies of the persisted database files (SQLite), from the leader, after a flush.
   * ```ts
   * const { eventlog, state } = await store.exportDatabase()
   * ```
   */
  exportDatabase(): Promise<{ eventlog: Uint8Array; state: Uint8Array }>
  /**
   * Replaces the store's local data with an exported eventlog and rebuilds the
   * state from it. Every tab's store of this id closes (the others report
   * `'STORE_RESET'`); create a new store to use the imported data.
   * ```ts
   * const { eventlog } = await oldStore.exportDatabase()
   * await store.importDatabase({ eventlog })
   * const fresh = await createStore({ schema, storeId, adapter })
   * ```
   */
  importDatabase(data: { eventlog: Uint8Array }): Promise<void>
  /**
   * Deletes the store's local data in every tab and closes the store (the
   * other tabs' stores close too, reporting `'STORE_RESET'`). Create a new
   * store to start over.
   */
  reset(): Promise<void>
  /**
   * Closes the store: at once, every method throws a LiveStoreError with code
   * `'STORE_CLOSED'`; a persisted store then waits until what was committed is
   * durable and stops its leader worker. Idempotent (returns the same promise).
   */
  close(): Promise<void>
  /** The same as `close()`. */
  shutdown(): Promise<void>
}

/**
 * Creates a store (loading the wasm module on first use).
 * ```ts
 * const store = await createStore({ schema, storeId: 'demo' })
 * // Node, without a bundler:
 * const store2 = await createStore({ schema, storeId: 'demo', wasm: readFileSync(new URL('./livestore_rs_bg.wasm', import.meta.resolve('livestore-rs'))) })
 * ```
 */
export declare function createStore<S extends LiveStoreSchema<any>>(options: CreateStoreOptions<S>): Promise<Store<S>>

/**
 * Loads the wasm module once (createStore does it for you); later calls return
 * the same promise.
 * ```ts
 * await initWasm(new URL('/assets/livestore_rs_bg.wasm', location.href))
 * ```
 */
export declare function initWasm(wasm?: WasmSource): Promise<void>

/** Structural equality used for computed and signal values (Dates, typed arrays, Maps, Sets). */
export declare function deepEqual(a: unknown, b: unknown): boolean

/** The id standing for the current session in client document ids. `uiState.set(value, SessionIdSymbol)` */
export declare const SessionIdSymbol: '__session__'

/**
 * The raw wasm session (advanced; createStore wraps it). See docs/ARCHITECTURE.md.
 */
export declare class WasmSession {
  constructor(
    schema: SchemaDesc,
    materializers: { readonly [event: string]: Function },
    options: { storeId: string; clientId: string; sessionId: string },
  )
  /** A session of a persisted store, from the leader's snapshot of the state at `head`. */
  static fromSnapshot(
    schema: SchemaDesc,
    materializers: { readonly [event: string]: Function },
    options: { storeId: string; clientId: string; sessionId: string },
    bytes: Uint8Array,
    head: SeqNum,
  ): WasmSession
  readonly schemaHash: string
  /** The last event the leader confirmed. */
  readonly upstreamHead: SeqNum
  commit(events: readonly { name: string; args: unknown }[]): Uint32Array
  /** This session's events not yet confirmed by the leader, oldest first. */
  pending(): EventRecord[]
  /** Takes in events the leader appended: confirms own ones, rebases pending ones on top of others'. */
  pull(events: readonly EventRecord[]): {
    changed: Uint32Array
    confirmed: number
    rebased: boolean
    dropped: { event: EventRecord; error: Error }[]
  }
  /** Undoes the newest `count` events (only pending ones); returns the changed live-query ids. */
  rollback(count: number): Uint32Array
  query(q: QueryDesc): unknown
  subscribeQuery(q: QueryDesc): number
  unsubscribeQuery(id: number): void
  liveResult(id: number): unknown
  eventlog(): EventRecord[]
  close(): void
  free(): void
}
