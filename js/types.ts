/** Public types, shaped after `@fireproof/core` 0.24 so code written for it type-checks here. */

/** Any document shape. */
export type DocTypes = object;
/** Values a document field may hold. */
export type DocFragment = Uint8Array | string | number | boolean | null | DocFragment[] | { [key: string]: DocFragment | undefined } | object;

export interface DocBase {
  readonly _id: string;
  readonly _deleted?: boolean;
}
/** A stored document: its fields plus `_id`. */
export type DocWithId<T extends DocTypes = DocTypes> = DocBase & T;
/** A document to write: `_id` is optional (a time-ordered id is generated). */
export type DocSet<T extends DocTypes = DocTypes> = Partial<DocBase> & T;

/** One clock event link; `toString()` gives its CID. */
export interface ClockLink {
  readonly "/": string;
  toString(): string;
  toJSON(): { "/": string };
}
/** The clock head: the event links a state descends from. */
export type ClockHead = ClockLink[];

export interface DocResponse {
  readonly id: string;
  readonly clock: ClockHead;
  readonly name?: string;
}
export interface BulkResponse {
  readonly ids: string[];
  readonly clock: ClockHead;
  readonly name?: string;
}

export interface AllDocsQueryOpts {
  readonly limit: number;
  readonly includeDeleted: boolean;
  readonly descending: boolean;
  readonly key: string;
  readonly keys: string[];
  readonly prefix: string;
}
export interface AllDocsResponse<T extends DocTypes = DocTypes> {
  readonly rows: { readonly key: string; readonly value: DocWithId<T> }[];
  readonly clock: ClockHead;
  readonly name?: string;
}

export interface ChangesOptions {
  readonly limit?: number;
  readonly dirty?: boolean;
}
export interface ChangesResponseRow<T extends DocTypes = DocTypes> {
  readonly key: string;
  readonly value: DocWithId<T>;
  /** The clock event that wrote this version of the document; absent when it is no longer
   * stored (compaction keeps the last 1,000 events). */
  readonly clock?: ClockLink;
}
export interface ChangesResponse<T extends DocTypes = DocTypes> {
  readonly rows: ChangesResponseRow<T>[];
  readonly clock: ClockHead;
  readonly name?: string;
}

export type UpdateListenerFn<T extends DocTypes = DocTypes> = (docs: DocWithId<T>[]) => Promise<void> | void;
export type NoUpdateListenerFn = () => Promise<void> | void;
export type ListenerFn<T extends DocTypes = DocTypes> = UpdateListenerFn<T> | NoUpdateListenerFn;

/** Options of `fireproof(name, opts)`. Unknown Fireproof options are accepted and ignored. */
export interface ConfigOpts {
  readonly public?: boolean;
  /** URL of an archive (`exportCar()`) an empty ledger starts from: fetched and imported on open. */
  readonly archive?: string;
  readonly autoCompact?: number;
  readonly [key: string]: unknown;
}

/** Counters and head of a ledger, for diagnostics and the demo's panel. */
export interface LedgerInfo {
  readonly clock: ClockHead;
  readonly seq: number;
  readonly count: number;
  readonly carReads: number;
  readonly locates: number;
  readonly car: string | null;
}

/** A scalar index key. */
export type KeyLiteral = string | number | boolean | null;
/** An index key: a scalar or an array of scalars (compared element by element). */
export type IndexKeyType = KeyLiteral | KeyLiteral[];
/** Adds a row `(key, value)` to the index for the document being mapped. */
export type EmitFn = (key: IndexKeyType, value?: DocFragment) => void;
/** A map function: call `emit` for each row, or return a key (when `emit` is never called). */
export type MapFn<T extends DocTypes = DocTypes> = (doc: DocWithId<T>, emit: EmitFn) => unknown;

/** Options of `query`; they compose (`key`/`keys`/`range`/`prefix` intersect). */
export interface QueryOpts<K extends IndexKeyType = IndexKeyType> {
  readonly key: K;
  readonly keys: K[];
  /** Inclusive at both ends. */
  readonly range: [K, K];
  /** Array keys match by leading elements, string keys by string prefix. */
  readonly prefix: IndexKeyType;
  readonly limit: number;
  readonly descending: boolean;
  /** Default true. */
  readonly includeDocs: boolean;
}

export interface IndexRow<T extends DocTypes = DocTypes, K extends IndexKeyType = IndexKeyType, R = unknown> {
  readonly key: K;
  readonly id: string;
  readonly value: R;
  readonly doc?: DocWithId<T>;
}
export interface IndexRowsWithoutDocs<T extends DocTypes = DocTypes, K extends IndexKeyType = IndexKeyType, R = unknown> {
  readonly rows: IndexRow<T, K, R>[];
}
export interface IndexRowsWithDocs<T extends DocTypes = DocTypes, K extends IndexKeyType = IndexKeyType, R = unknown>
  extends IndexRowsWithoutDocs<T, K, R> {
  readonly docs: DocWithId<T>[];
}
export type QueryResult<
  T extends DocTypes = DocTypes,
  K extends IndexKeyType = IndexKeyType,
  R = unknown,
  O extends Partial<QueryOpts<K>> = Partial<QueryOpts<K>>,
> = O extends { readonly includeDocs: false } ? IndexRowsWithoutDocs<T, K, R> : IndexRowsWithDocs<T, K, R>;
