/**
 * `fireproof(name)` and the `Database` handle: argument checks and result shapes only; the engine
 * does the work. Every method awaits the lazily loaded engine, so no `init()` is needed.
 */
import { clockToJson, toClock, toLink } from "./clock.js";
import { decode, encodeDoc } from "./encode.js";
import { DatabaseError, fromEngine } from "./errors.js";
import { type FileStore, hasFiles, withStoredFiles } from "./files.js";
import { newId } from "./ids.js";
import { encodeQueryOpts, indexDef, limitOf, mapBatch, queryResult } from "./query.js";
import { type SharedLedger, sharedLedger, withLock, type WriteResult } from "./shared.js";
import type { Ledger } from "./wasm.js";
import type { Attachable, AttachContext } from "./connectors/connector.js";
import type { Attached, RemoteOpener, SyncHost } from "./sync.js";
import { LedgerView } from "./history.js";
import type {
  AllDocsQueryOpts,
  AllDocsResponse,
  BulkResponse,
  ChangesOptions,
  ChangesResponse,
  ClockHead,
  ClockLink,
  ConfigOpts,
  DocFragment,
  DocResponse,
  DocSet,
  DocTypes,
  DocWithId,
  IndexKeyType,
  LedgerInfo,
  ListenerFn,
  MapFn,
  QueryOpts,
  QueryResult,
} from "./types.js";

interface RowsWire<T extends DocTypes> {
  readonly rows: { readonly key: string; readonly value: DocWithId<T>; clock?: string | ClockLink }[];
  readonly clock: string[];
}

/**
 * Runs a read; if its snapshot's blocks were compacted away by another tab meanwhile
 * (`MISSING_BLOCK`), catches up with the stored header and reads again once, on the newest state.
 */
async function fresh<R>(core: Ledger, read: () => Promise<R>): Promise<R> {
  try {
    return await read();
  } catch (e) {
    if ((e as { code?: unknown }).code !== "MISSING_BLOCK") throw e;
    await core.refresh();
    return read();
  }
}

/** Attachments by ledger and remote: attaching the same remote twice returns the same one. */
const attachments = new Map<string, Promise<Attached>>();

function entry(id: string, body: string | null): string {
  return `[${JSON.stringify(id)},${body ?? "null"}]`;
}

function docId(doc: { _id?: unknown }): string {
  const id = doc._id;
  if (id === undefined || id === null || id === "") return newId();
  if (typeof id !== "string") throw new DatabaseError("INVALID_DOC", "invalid document: field _id: must be a string");
  return id;
}

function requireId(id: unknown): string {
  if (typeof id !== "string" || id === "") throw new DatabaseError("INVALID_ARG", "invalid argument: a document id is required");
  return id;
}

/** A handle on a ledger. Handles of the same name share data, subscribers and commits. */
export class Database {
  readonly name: string;
  /** @internal */
  readonly shared: SharedLedger;
  private closed = false;
  /** This handle's close, once asked for. */
  private closing: Promise<void> | undefined;
  /** Calls this handle accepted and has not answered yet: `close()` lets them finish first. */
  private readonly running = new Set<Promise<unknown>>();

  constructor(name: string, opts?: ConfigOpts) {
    // no name at all: the ledger "default" (Fireproof opens one for `fireproof(undefined)` too)
    if (name === undefined || name === null) name = "default";
    if (typeof name !== "string" || name === "") throw new DatabaseError("INVALID_ARG", "invalid argument: a database name is required");
    this.name = name;
    this.shared = sharedLedger(name, typeof opts?.archive === "string" ? opts.archive : undefined);
    this.shared.refs++;
  }

  private async core() {
    if (this.closed) throw new DatabaseError("CLOSED", `ledger ${this.name} is closed`);
    return this.shared.core;
  }

  /** @internal `op` (started by a call made while this handle was open), counted until it settles. */
  track<T>(op: Promise<T>): Promise<T> {
    this.running.add(op);
    const done = () => this.running.delete(op);
    op.then(done, done);
    return op;
  }

  /** Resolves once the engine is loaded and the ledger's header is read. */
  async ready(): Promise<void> {
    await this.core();
  }

  /** Commits documents, storing their files first (docs/format.md §16). */
  private commitDocs(docs: readonly object[], ids: string[]): Promise<WriteResult> {
    const encode = async (store?: FileStore) => {
      const ops: string[] = [];
      const files: string[] = [];
      for (const [i, d] of docs.entries()) {
        if (store && hasFiles(d)) {
          const s = await withStoredFiles(d, store);
          files.push(...s.cars);
          ops.push(entry(ids[i], encodeDoc(s.doc)));
        } else ops.push(entry(ids[i], encodeDoc(d)));
      }
      return this.shared.write(ops, files);
    };
    // documents with files are queued once their files are stored
    if (this.closed || docs.some(hasFiles)) return this.track(this.core().then(() => this.shared.withFiles(encode)));
    return this.enqueue(docs.map((d, i) => entry(ids[i], encodeDoc(d))));
  }

  /**
   * Queues write entries during the call, so that writes commit in the order they were called
   * (a `del` then a `put` of one id in the same tick leaves the document); a closed handle
   * rejects (`core()`).
   */
  private enqueue(ops: string[]): Promise<WriteResult> {
    return this.track(this.closed ? this.core().then(() => this.shared.write(ops)) : this.shared.write(ops));
  }

  async put<T extends DocTypes>(doc: DocSet<T>): Promise<DocResponse> {
    if (typeof doc !== "object" || doc === null) throw new DatabaseError("INVALID_DOC", "invalid document: field (root): a document must be a plain object");
    const id = docId(doc);
    const res = await this.commitDocs([doc], [id]);
    return { id, clock: toClock(res.clock), name: this.name };
  }

  async bulk<T extends DocTypes>(docs: DocSet<T>[]): Promise<BulkResponse> {
    if (!Array.isArray(docs)) throw new DatabaseError("INVALID_ARG", "invalid argument: bulk takes an array of documents");
    const ids: string[] = [];
    for (const d of docs) {
      if (typeof d !== "object" || d === null) throw new DatabaseError("INVALID_DOC", "invalid document: field (root): a document must be a plain object");
      ids.push(docId(d));
    }
    if (ids.length === 0) {
      const info = await this.info();
      return { ids, clock: info.clock, name: this.name };
    }
    const res = await this.commitDocs(docs, ids);
    return { ids, clock: toClock(res.clock), name: this.name };
  }

  get<T extends DocTypes>(id: string): Promise<DocWithId<T>> {
    return this.track(this.getAt<T>(id, undefined));
  }

  /** @internal `get` on the state at clock JSON `at` (`db.at(clock)`), or the current one. */
  async getAt<T extends DocTypes>(id: string, at: string | undefined): Promise<DocWithId<T>> {
    const key = requireId(id);
    const core = await this.core();
    try {
      return decode<DocWithId<T>>(await fresh(core, () => core.get(key, at)), this.shared);
    } catch (e) {
      throw fromEngine(e, key);
    }
  }

  async del(id: string): Promise<DocResponse> {
    const key = requireId(id);
    const res = await this.enqueue([entry(key, null)]);
    return { id: key, clock: toClock(res.clock), name: this.name };
  }

  remove(id: string): Promise<DocResponse> {
    return this.del(id);
  }

  allDocs<T extends DocTypes>(opts: Partial<AllDocsQueryOpts> = {}): Promise<AllDocsResponse<T>> {
    return this.track(this.allDocsAt<T>(opts, undefined));
  }

  /** @internal */
  async allDocsAt<T extends DocTypes>(options: Partial<AllDocsQueryOpts> | null, at: string | undefined): Promise<AllDocsResponse<T>> {
    const opts = options ?? {}; // null from JS callers: no options
    const core = await this.core();
    const wire = {
      limit: typeof opts.limit === "number" && opts.limit >= 0 ? Math.min(Math.floor(opts.limit), 2 ** 31) : undefined,
      includeDeleted: opts.includeDeleted === true,
      descending: opts.descending === true,
      key: typeof opts.key === "string" ? opts.key : undefined,
      keys: Array.isArray(opts.keys) ? opts.keys.map(String) : undefined,
      prefix: typeof opts.prefix === "string" ? opts.prefix : undefined,
    };
    try {
      const res = decode<RowsWire<T>>(await fresh(core, () => core.allDocs(JSON.stringify(wire), at)), this.shared);
      return { rows: res.rows, clock: toClock(res.clock), name: this.name };
    } catch (e) {
      throw fromEngine(e);
    }
  }

  allDocuments<T extends DocTypes>(opts: Partial<AllDocsQueryOpts> = {}): Promise<AllDocsResponse<T>> {
    return this.allDocs<T>(opts);
  }

  changes<T extends DocTypes>(since: ClockHead = [], opts: ChangesOptions = {}): Promise<ChangesResponse<T>> {
    return this.track(this.changesAt<T>(since, opts, undefined));
  }

  /** @internal */
  async changesAt<T extends DocTypes>(since: ClockHead, options: ChangesOptions | null, at: string | undefined): Promise<ChangesResponse<T>> {
    const opts = options ?? {}; // null from JS callers: no options
    const core = await this.core();
    const n = limitOf(opts.limit);
    const limit = n !== undefined && n > 0 ? Math.floor(n) : undefined;
    try {
      const res = decode<RowsWire<T>>(await fresh(core, () => core.changes(clockToJson(since), limit, at)), this.shared);
      for (const r of res.rows) if (typeof r.clock === "string") r.clock = toLink(r.clock);
      return { rows: res.rows as ChangesResponse<T>["rows"], clock: toClock(res.clock), name: this.name };
    } catch (e) {
      throw fromEngine(e);
    }
  }

  /**
   * Calls `listener` after every commit (this tab's or another's): with the changed documents
   * when `updates` is true (deleted ones as `{_id, _deleted: true}`), with `[]` otherwise.
   */
  subscribe<T extends DocTypes>(listener: ListenerFn<T>, updates?: boolean): () => void {
    // on a closed handle: never called (as in Fireproof; throwing broke hooks mounted on it)
    if (this.closed) return () => undefined;
    const fn = listener as (docs: DocWithId[]) => unknown;
    return this.shared.subscribe(fn, updates === true);
  }

  /**
   * Rows of the index defined by a field name or a map function, on one snapshot: the index is
   * brought up to date (mapping only documents changed since it was last used) and queried.
   */
  async query<
    T extends DocTypes = DocTypes,
    K extends IndexKeyType = IndexKeyType,
    R extends DocFragment = T,
    O extends Partial<QueryOpts<K>> = Partial<QueryOpts<K>>,
  >(field: string | MapFn<T>, opts?: O): Promise<QueryResult<T, K, R, O>> {
    return this.track(this.queryAt<T, K, R, O>(field, opts, undefined));
  }

  /** @internal */
  async queryAt<
    T extends DocTypes = DocTypes,
    K extends IndexKeyType = IndexKeyType,
    R extends DocFragment = T,
    O extends Partial<QueryOpts<K>> = Partial<QueryOpts<K>>,
  >(field: string | MapFn<T>, opts: O | undefined, at: string | undefined): Promise<QueryResult<T, K, R, O>> {
    const def = indexDef(field);
    const core = await this.core();
    const optsJson = encodeQueryOpts(opts ?? {});
    if (typeof field === "string") {
      // a field index is maintained inside the engine: no documents cross to JS to be mapped
      try {
        return queryResult<QueryResult<T, K, R, O>>(await fresh(core, () => core.queryField(field, optsJson, at)), opts, this.shared);
      } catch (e) {
        throw fromEngine(e);
      }
    }
    let begin: { token: number; docs: DocWithId[] };
    try {
      begin = decode<{ token: number; docs: DocWithId[] }>(await fresh(core, () => core.indexBegin(def.name, def.src, at)), this.shared);
    } catch (e) {
      throw fromEngine(e);
    }
    let rows: string;
    try {
      rows = mapBatch(begin.docs, def.map as MapFn);
    } catch (e) {
      core.indexAbort(begin.token);
      throw e; // the map function's own error, as thrown
    }
    try {
      return queryResult<QueryResult<T, K, R, O>>(await core.indexFinish(begin.token, rows, optsJson), opts, this.shared);
    } catch (e) {
      throw fromEngine(e);
    }
  }

  /**
   * A read-only view of the ledger as it was at `clock` (one returned by a write, `allDocs` or
   * `changes`): `get`, `allDocs`, `changes`, `query`. After a compaction only the current clock
   * stays readable; older ones reject with `HISTORY_GONE` (docs/format.md §15).
   */
  at(clock: ClockHead): LedgerView {
    if (this.closed) throw new DatabaseError("CLOSED", `ledger ${this.name} is closed`);
    return new LedgerView(this, clock);
  }

  /** One new commit whose documents equal those at `clock` (subscribers fire; it syncs). */
  rollback(clock: ClockHead): Promise<{ readonly clock: ClockHead; readonly name: string }> {
    return this.track(this.rollbackNow(clock));
  }

  private async rollbackNow(clock: ClockHead): Promise<{ readonly clock: ClockHead; readonly name: string }> {
    const at = clockToJson(clock, true); // rollback() without a clock must not empty the ledger
    const core = await this.core();
    try {
      const res = JSON.parse(await this.shared.locked(() => core.rollback(at))) as WriteResult;
      await this.shared.changed();
      return { clock: toClock(res.clock), name: this.name };
    } catch (e) {
      throw fromEngine(e);
    }
  }

  /** Rewrites the live data into fresh storage files and drops the old ones (also done automatically when garbage accumulates). */
  compact(): Promise<void> {
    return this.track(this.core().then(() => this.shared.compact()));
  }

  /** Head, commit count and storage counters of the ledger. */
  async info(): Promise<LedgerInfo> {
    const core = await this.core();
    const raw = JSON.parse(core.info()) as Omit<LedgerInfo, "clock"> & { clock: string[] };
    return { ...raw, clock: toClock(raw.clock) };
  }

  /**
   * Attaches a remote (`toServer(url)`, `toConnector(store)`): local commits are pushed to it and
   * its changes merged here, in the background, until `detach()`. The same remote attached twice
   * gives the same `Attached`.
   */
  async attach(attachable: Attachable): Promise<Attached> {
    const a = attachable as Partial<Attachable> | null;
    if (typeof a !== "object" || a === null || typeof a.open !== "function" || typeof a.configHash !== "function") {
      throw new DatabaseError("INVALID_ARG", "invalid argument: attach takes toServer(url) or toConnector(connector)");
    }
    if (this.closed) throw new DatabaseError("CLOSED", `ledger ${this.name} is closed`);
    // before any await: an attach in the same tick as fireproof() loads only the full engine build
    await this.shared.syncEngine();
    const key = `${this.name}\u0000${attachable.configHash()}`;
    let p = attachments.get(key);
    const joins = attachable.joins;
    if (p && joins) {
      // an invite to another ledger (or key) on the same remote: joins it, as it would after a reload
      const had = await p.catch(() => undefined);
      const k = await (await this.core()).exportKey();
      if (had && (had.name !== joins.remote || k.some((b, i) => b !== joins.key[i]))) {
        await had.detach();
        p = attachments.get(key);
      }
    }
    if (!p) {
      p = this.openAttachment(attachable, () => attachments.delete(key));
      attachments.set(key, p);
      p.catch(() => attachments.delete(key));
    }
    return p;
  }

  private async openAttachment(attachable: Attachable, onDetach: () => void): Promise<Attached> {
    const shared = this.shared;
    const sync = import("./sync.js"); // only pages that sync load it
    sync.catch(() => undefined); // awaited below
    const ctx: AttachContext = {
      ledgerName: this.name,
      load: async (k) => (await shared.core).loadAttachMeta(k),
      save: async (k, v) => (await shared.core).saveAttachMeta(k, v),
      adoptKey: async (k) => {
        const core = await shared.core;
        const current = await core.exportKey();
        if (current.length === k.length && current.every((b, i) => b === k[i])) return;
        // an empty ledger takes the key; one with data is re-encrypted under it (one atomic commit)
        if (!(await core.adoptKey(k))) await shared.locked(() => core.rekey(k));
        await shared.reopen();
      },
    };
    const opener: RemoteOpener = {
      name: attachable.name,
      open: async () => {
        try {
          return await attachable.open(ctx);
        } catch (e) {
          throw fromEngine(e);
        }
      },
      // a document's files not stored here are fetched from the remote when `file()` needs them
      opened: (r) => shared.fileRemotes.add(r.connector),
    };
    // a remote that cannot be reached yet (offline, server down) is tried again in the background;
    // any other failure (a refused or spent invite, a bad answer) rejects the attach
    const remote = await opener.open().catch((e: DatabaseError) => {
      if (e.code === "NETWORK") return e;
      throw e;
    });
    const host: SyncHost = {
      name: this.name,
      get core() {
        return shared.core;
      },
      flush: () => shared.flush(),
      changed: () => shared.changed(),
      onCommit: (fn) => shared.subscribe(() => fn(), false),
    };
    const { Attachment } = await sync.catch((e: unknown) => {
      throw new DatabaseError("NETWORK", `sync module download failed: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (!(remote instanceof DatabaseError)) opener.opened(remote);
    const attached = new Attachment(host, remote, opener, (r) => {
      if (r) shared.fileRemotes.delete(r.connector);
      shared.dropAttached(attached);
      onDetach();
    });
    // the attachment lasts as long as the ledger: it ends when the last handle closes
    if (!shared.keepAttached(attached)) throw new DatabaseError("CLOSED", `ledger ${this.name} is closed`);
    attached.start();
    return attached;
  }

  /**
   * The ledger's current state as one CAR v1 (docs/format.md §14): standard IPLD, or sealed under
   * the ledger's key with `encrypted`; index trees unless `indexes: false`. Waits for queued writes.
   */
  exportCar(options?: { readonly encrypted?: boolean; readonly indexes?: boolean }): Promise<Uint8Array> {
    return this.track(this.exportNow(options ?? {}));
  }

  private async exportNow(opts: { readonly encrypted?: boolean; readonly indexes?: boolean }): Promise<Uint8Array> {
    const core = await this.core();
    await this.shared.flush();
    try {
      // indexes that queries built in memory are stored first, so the archive carries them
      if (opts.indexes !== false) await withLock(this.shared.lockName, () => core.saveIndexes());
      return await core.exportCar(opts.encrypted === true, opts.indexes !== false);
    } catch (e) {
      throw fromEngine(e);
    }
  }

  /** Calls `fn` once the ledger has closed with its last handle (as Fireproof's `onClosed`). */
  onClosed(fn: () => void): void {
    this.shared.onClosed.add(fn);
  }

  /** Closes this handle; the ledger closes with its last handle. Resolves when that is done (each call). */
  close(): Promise<void> {
    this.closed = true;
    return (this.closing ??= this.closeNow());
  }

  private async closeNow(): Promise<void> {
    // calls made before close() answer (Fireproof's too: a put issued just before is stored)
    await Promise.allSettled(this.running);
    this.shared.refs--;
    if (this.shared.refs <= 0) await this.shared.close();
  }

  /**
   * Deletes every document and all stored data of the ledger and ends its attachments. This
   * handle and the other open handles of the name go on with an empty ledger; on a closed handle
   * (`close()` then `destroy()`, as Fireproof's tests tear down) it deletes the data all the same.
   */
  async destroy(): Promise<void> {
    const prefix = `${this.name}\u0000`;
    for (const [key, p] of [...attachments]) if (key.startsWith(prefix)) await p.then((a) => a.detach(), () => undefined);
    if (this.closed) await this.close(); // a close still running finishes first
    await (this.closed ? sharedLedger(this.name) : this.shared).destroy();
  }
}

/** A named index of a database, queried like `db.query(mapFn ?? name, opts)`. */
export interface Index<T extends DocTypes = DocTypes> {
  readonly name: string;
  /** The map function (none: a field index on the field `name`). */
  readonly mapFn?: MapFn<T>;
  /** Resolves once the ledger is open. */
  ready(): Promise<void>;
  query<K extends IndexKeyType = IndexKeyType, R extends DocFragment = T, O extends Partial<QueryOpts<K>> = Partial<QueryOpts<K>>>(
    opts?: O,
  ): Promise<QueryResult<T, K, R, O>>;
}

/**
 * `index(db, name, mapFn?)`: a field index (no `mapFn`) or a map-function index. As in Fireproof,
 * one object per name and ledger: asked again (from any handle of the ledger), it is the same
 * one, keeping its map function unless a new one is given.
 */
export function index<T extends DocTypes = DocTypes>(db: Database, name: string, mapFn?: MapFn<T>): Index<T> {
  type Known = Index<T> & { mapFn?: MapFn<T>; db: Database };
  const known = db.shared.indexes as Map<string, Known>;
  let idx = known.get(name);
  if (!idx) {
    const self: Known = {
      name,
      mapFn,
      db, // the handle it was last asked for through (queries go through it)
      ready: () => self.db.ready(),
      query: (opts) => self.db.query(self.mapFn ?? name, opts),
    };
    known.set(name, (idx = self));
  }
  idx.db = db;
  if (mapFn) idx.mapFn = mapFn;
  return idx;
}

/** Opens (lazily) the ledger `name`. Synchronous: every method awaits readiness itself. */
export function fireproof(name: string, opts?: ConfigOpts): Database {
  return new Database(name, opts);
}

/** True for a database returned by `fireproof()` (as `isDatabase` in `@fireproof/core`). */
export function isDatabase(x: unknown): x is Database {
  return x instanceof Database;
}
