/**
 * One open ledger per name in this page, shared by every `fireproof(name)` handle: the engine
 * instance, the write coalescer, the subscribers and the cross-tab channel.
 *
 * Writes issued in the same tick join one commit; while a commit is in flight, or while this tab
 * waits for the ledger's cross-tab lock, new writes gather for the next. Every commit runs holding
 * the Web Lock `ferroproof:<name>` (commits of all tabs take turns; the engine's compare-and-set on
 * the stored header stays the safety net). A commit the engine answers with `CONFLICT` (other tabs
 * kept winning, e.g. where Web Locks are missing) is retried after a capped exponential backoff
 * with jitter, without a limit: a write never fails for contention.
 * Subscribers are notified after a commit is durable (never from inside the engine),
 * and after another tab's commit, announced on a BroadcastChannel.
 *
 * Engine builds: a ledger opens on the local build unless it syncs (remembered per profile) or was
 * asked to attach in the same tick; `syncEngine()` switches it to the
 * full build when it attaches (README "Two engine builds").
 *
 * Automatic compaction: after a commit, if the engine says garbage passed its threshold
 * (docs/format.md §6.1), compaction runs once this tab's writes pause for {@link QUIET_MS} (at
 * once past the hard cap), when the page is idle, one tab at a time (Web Lock
 * `ferroproof:<name>:compact`): it packs without the commit lock (writes go on), then commits
 * holding it, like any other commit.
 */
import { decode, fromBase64 } from "./encode.js";
import { DatabaseError, fromEngine } from "./errors.js";
import { type FileStore, type StoredFile, writeChunks } from "./files.js";
import { type Ledger, loadEngine, preopen } from "./wasm.js";
import type { Bytes, Connector } from "./connectors/connector.js";
import type { DocWithId } from "./types.js";

export interface WriteResult {
  readonly clock: string[];
  readonly seq: number;
}

interface Pending {
  readonly ops: string[];
  /** File CARs staged for these documents (docs/format.md §16). */
  readonly files: string[];
  readonly resolve: (r: WriteResult) => void;
  readonly reject: (e: unknown) => void;
}

function subscriberError(e: unknown): void {
  console.error("ferroproof: subscriber error", e);
}

interface Listener {
  readonly fn: (docs: DocWithId[]) => unknown;
  readonly updates: boolean;
}

interface RowsResult {
  readonly rows: { key: string; value: DocWithId }[];
  readonly seq: number;
}

const registry = new Map<string, SharedLedger>();
/** Delay that batches cross-tab commit announcements (a post costs ~0.2 ms of main thread: one per frame at most). */
const ANNOUNCE_MS = 16;
/** Longest a tab keeps the commit lock for its own back-to-back commits. */
const LOCK_HOLD_MS = 16;
/** Write batches go to the engine as UTF-8 bytes (see `Ledger.write`). */
const utf8 = new TextEncoder();
/** Reused for a batch's UTF-8 (the engine's glue copies it at the call): `encodeInto` a kept
 * buffer takes a third of `encode`'s time for a bulk of 1,000 documents in Chromium. */
let scratch = new Uint8Array(0);

function utf8Bytes(s: string): Uint8Array {
  const most = s.length * 3;
  if (most > scratch.length) {
    if (most > 1 << 20) return utf8.encode(s); // a large batch: no buffer kept for it
    scratch = new Uint8Array(Math.max(most, 1 << 12));
  }
  return scratch.subarray(0, utf8.encodeInto(s, scratch).written);
}

/**
 * Pause in this tab's writes after which a due compaction runs (docs/format.md §6.1): a burst of
 * writes is not slowed by compactions until garbage passes the hard cap.
 */
const QUIET_MS = 250;
/** Longest wait between two attempts of a commit that keeps conflicting. */
const BACKOFF_CAP_MS = 250;

function isConflict(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "CONFLICT";
}

/** Waits before attempt `n + 1` of a conflicting commit: 1, 2, 4 … 250 ms, each with jitter. */
export function backoff(n: number): Promise<void> {
  const ms = Math.min(2 ** n, BACKOFF_CAP_MS) * (0.5 + Math.random() / 2);
  return new Promise((r) => setTimeout(r, ms));
}

/** The bytes a connector's `get` answered with, as a `Uint8Array` (no copy). */
function toBytes(b: Bytes): Uint8Array {
  return b instanceof Uint8Array ? b : ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b);
}

/** The port and waiters of {@link nextTask}. */
let tick: MessagePort | undefined;
const ticks: (() => void)[] = [];

/** Resolves in a new task. Unlike `setTimeout`, not throttled in a hidden tab (Chrome runs its timers once a second at most). */
function nextTask(): Promise<void> {
  if (!tick) {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => ticks.shift()?.(); // one message per waiter, in order
    tick = port2;
  }
  const port = tick;
  return new Promise((r) => {
    ticks.push(r);
    port.postMessage(0);
  });
}

/** Runs `fn` holding the Web Lock `name` (exclusive across the tabs of the origin, unless `shared`), or as is where there are no Web Locks. */
export function withLock<T>(name: string, fn: () => Promise<T>, shared = false): Promise<T> {
  const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
  return locks ? (locks.request(name, { mode: shared ? "shared" : "exclusive" }, fn) as Promise<T>) : fn();
}

/** Resolves when the page is idle (at most 1 s later), or in a new task where there is no `requestIdleCallback`. */
function whenIdle(): Promise<void> {
  return new Promise((r) => {
    if (typeof requestIdleCallback === "function") requestIdleCallback(() => r(), { timeout: 1000 });
    else setTimeout(r, 0);
  });
}

/** Calls `fn` under the lock until it does not answer `CONFLICT`, backing off (lock released) in between. */
export async function lockedRetrying<T>(name: string, fn: () => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await withLock(name, fn);
    } catch (e) {
      if (!isConflict(e)) throw e;
    }
    await backoff(n);
  }
}


/** Downloads an archive (`NETWORK` when that fails). */
async function download(url: string, signal?: AbortSignal): Promise<Uint8Array> {
  try {
    const res = await fetch(url, { signal });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new DatabaseError("NETWORK", `archive ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Starts downloading a new ledger's archive at once, while the engine loads, unless this profile
 * marked the ledger as holding data. Aborted (`abort`) if the ledger turns out to have data.
 */
function earlyDownload(name: string, url: string, abort?: AbortController): Promise<Uint8Array> | undefined {
  if (mark("archive", name)) return undefined;
  const got = download(url, abort?.signal);
  got.catch(() => undefined); // awaited (and reported) by the import, if it runs
  return got;
}

/**
 * A per-ledger mark in this profile's `localStorage`: `sync`, the ledger syncs (its next open
 * loads the full engine build at once instead of the local one and then both); `archive`, it
 * holds data (its archive is not downloaded early again). `on` sets or clears it; `undefined`
 * reads it. Without `localStorage` (workers, some sandboxes) nothing is remembered.
 */
function mark(kind: "sync" | "archive", name: string, on?: boolean): boolean {
  try {
    const key = `ferroproof:${kind}:${name}`;
    if (on === true) localStorage.setItem(key, "1");
    else if (on === false) localStorage.removeItem(key);
    return localStorage.getItem(key) !== null;
  } catch {
    return false;
  }
}

/** The shared ledger for `name`, opened on first use (an empty one started from `archive`, a URL). */
export function sharedLedger(name: string, archive?: string): SharedLedger {
  let s = registry.get(name);
  if (!s) {
    s = new SharedLedger(name, archive);
    registry.set(name, s);
  }
  return s;
}

export class SharedLedger implements FileStore {
  readonly name: string;
  /** Connectors of this ledger's attachments: where `file()` fetches file CARs not stored here. */
  readonly fileRemotes = new Set<Connector>();
  /** The `index(db, name)` objects of this ledger, by name (js/database.ts `index`). */
  readonly indexes = new Map<string, object>();
  /** The Web Lock every commit of this ledger holds, in every tab. */
  readonly lockName: string;
  /**
   * The engine handle: replaced when the ledger takes an invite's key (`reopen`) and when it
   * switches to the full engine build (`syncEngine`).
   */
  core: Promise<Ledger>;
  /** The open handle `core` resolved to (background compaction runs only on the current one). */
  private current: Ledger | undefined;
  /**
   * Whether this ledger uses (or is loading) the full engine build; `"marked"` when only this
   * profile's mark says so (no `attach()` asked for it yet): then a full build that fails to load
   * falls back to the local one.
   */
  private sync: boolean | "marked";
  /** Whether the engine build to load has been chosen (one microtask after the first open). */
  private started = false;
  refs = 0;
  private queue: Pending[] = [];
  private scheduled = false;
  private draining: Promise<void> | null = null;
  /** Set while a lock holder waits for this tab's next write: called when one is queued. */
  private wake: (() => void) | null = null;
  private readonly listeners = new Set<Listener>();
  private seenSeq = 0;
  private notifying: Promise<void> = Promise.resolve();
  private readonly channel: BroadcastChannel | null;
  private closed = false;
  /** The close running, if any (see `close`). */
  private closing: Promise<void> | null = null;
  /** The attachments of this ledger, ended when it closes. */
  private readonly attached = new Set<{ detach(): Promise<void> }>();
  /** Called once the ledger has closed with its last handle (`db.onClosed`). */
  readonly onClosed = new Set<() => void>();
  private announcing = false;
  /** When the last announcement went out (`performance.now()`). */
  private announced = -Infinity;
  /** The compaction scheduled or running, if any. */
  private compaction: Promise<void> | null = null;
  /** The wait for a pause in this tab's writes before a due compaction. */
  private quiet: ReturnType<typeof setTimeout> | undefined;
  /** When that pause ends (each commit moves it; the timer re-arms itself instead of being reset). */
  private quietUntil = 0;

  /** The archive an empty ledger starts from (docs/format.md §14). */
  private readonly archive: string | undefined;
  /**
   * Its download, started at once unless this profile held the ledger before, and its abort; used
   * by the first open only (a reopen after `destroy()` downloads the archive again).
   */
  private early: Promise<Uint8Array> | undefined;
  private readonly abortEarly = typeof AbortController === "function" ? new AbortController() : undefined;

  constructor(name: string, archive?: string) {
    this.name = name;
    this.lockName = `ferroproof:${name}`;
    this.archive = archive;
    this.sync = mark("sync", name) && "marked";
    if (archive) this.early = earlyDownload(name, archive, this.abortEarly);
    this.core = this.openCore();
    this.channel = typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel(`ferroproof:${name}`);
    if (this.channel) {
      // "rekey": another tab changed the stored key; "destroy": it deleted the ledger's data
      this.channel.onmessage = (ev) => void (ev.data === "commit" ? this.onRemoteCommit() : this.reopen(false, ev.data === "destroy"));
    }
  }

  private openCore(): Promise<Ledger> {
    // The build is chosen one microtask later: an `attach()` in the same tick as `fireproof()`
    // loads only the full build.
    const core = Promise.resolve()
      .then(() => {
        this.started = true;
        preopen(this.name); // the database opens while the engine compiles
        return loadEngine(!!this.sync).catch((e: unknown) => {
          // marked as syncing, but the full build cannot be had (offline, a file not deployed):
          // the ledger opens on the local build; an attach tries the full one again
          if (this.sync !== "marked") throw e;
          this.sync = false;
          return loadEngine(false);
        });
      })
      .then((engine) => engine.open(this.name))
      .then((l) => this.fromArchive(l))
      .then((l) => {
        this.current = l;
        this.seenSeq = (JSON.parse(l.info()) as { seq: number }).seq;
        this.compactWhenDue(l); // left due by an earlier session (closed during a burst)
        return l;
      })
      .catch((e: unknown) => {
        throw fromEngine(e);
      });
    core.catch(() => undefined); // surfaced by each call that awaits it
    return core;
  }

  /**
   * An empty ledger with an archive URL: downloads and imports it (one tab at a time, holding the
   * commit lock while it stores it). Resolves as soon as reads see the archive, before it is
   * stored — on a database this open created, before the lock is even granted (Chromium grants it
   * only once the creation completes; docs/format.md §14); writes wait for the import, so they
   * land on top of it. If storing it fails, the engine handle is closed and every later call
   * rejects with that error (the next open starts from the archive again).
   */
  private fromArchive(l: Ledger): Promise<Ledger> {
    const url = this.archive;
    if (!url) return Promise.resolve(l);
    if ((JSON.parse(l.info()) as { seq: number }).seq > 0) {
      this.abortEarly?.abort();
      this.early = undefined;
      mark("archive", this.name, true);
      return Promise.resolve(l);
    }
    return new Promise<Ledger>((resolve, reject) => {
      let readable = false;
      const ready = (): void => {
        readable = true;
        resolve(l);
      };
      const imported = (ok: boolean): void => void (ok && this.channel?.postMessage("commit"));
      const early = this.early;
      this.early = undefined;
      let stored: Promise<void>;
      if (early) {
        // the lock is asked for now and held until the import settles; the engine waits for it
        // where it needs it (before re-reading the header, or, on a database its open created,
        // before storing), and then one task more, so that reads already asked for are answered
        // before the import's CPU-bound storing starts
        let granted!: () => void;
        let release!: () => void;
        const got = new Promise<void>((r) => (granted = r));
        const held = new Promise<void>((r) => (release = r));
        void withLock(this.lockName, () => (granted(), held));
        const locked = (): Promise<void> => got.then(() => new Promise((r) => setTimeout(r)));
        stored = early.then((bytes) => l.importArchive(bytes, ready, locked)).then(imported);
        stored.then(release, release);
      } else {
        // before a download of our own, the header read under the lock says whether another tab
        // imported it meanwhile
        stored = withLock(this.lockName, async () => {
          await l.refresh();
          if ((JSON.parse(l.info()) as { seq: number }).seq > 0) return;
          imported(await l.importArchive(await download(url), ready, () => Promise.resolve()));
        });
      }
      stored.then(
        () => {
          mark("archive", this.name, true);
          resolve(l);
        },
        (e: unknown) => {
          if (!readable) return reject(e);
          const failed = Promise.reject(fromEngine(e));
          failed.catch(() => undefined);
          this.core = failed;
        },
      );
    });
  }

  /**
   * The engine handle of the full build (for `attach`). A ledger open on the local build switches:
   * after the writes already committing and a running compaction, its indexes built in memory are
   * stored, the full build opens the ledger from storage, and later calls go to it (calls already
   * running on the local handle finish there; it is dropped with its last reference). A ledger
   * that was not already on the full build is marked as syncing in this profile, so that its next
   * open loads the full build directly.
   */
  syncEngine(): Promise<Ledger> {
    if (this.sync === "marked") this.sync = true;
    if (!this.sync) {
      this.sync = true;
      mark("sync", this.name, true);
      if (this.started) {
        this.core = this.switchBuild(this.core);
        this.core.catch(() => undefined); // surfaced by each call that awaits it
      }
    }
    return this.core;
  }

  private async switchBuild(old: Promise<Ledger>): Promise<Ledger> {
    const draining = this.draining; // commits on the local handle: they finish there
    const prev = await old;
    await draining;
    while (this.compaction) await this.compaction;
    await this.storeIndexes(prev);
    try {
      const l = await (await loadEngine(true)).open(this.name);
      this.current = l;
      return l;
    } catch (e) {
      this.sync = false; // the next attach tries again
      this.core = old;
      throw fromEngine(e);
    }
  }

  /**
   * Stores the indexes that queries built in memory, under the commit lock. If the store refuses
   * (e.g. quota), an index is rebuilt when next queried.
   */
  private storeIndexes(core: Ledger): Promise<void> {
    return withLock(this.lockName, () => core.saveIndexes()).catch((e: unknown) => console.warn("ferroproof: an index could not be stored", e));
  }

  /**
   * Reopens the engine handle after the stored key changed (joining a shared ledger), or after
   * another tab deleted the data (`emptied`: the subscribers are told, of no documents).
   */
  async reopen(tellOthers = true, emptied = false): Promise<void> {
    if (this.closed) return;
    // another tab deleted the data: this tab's attachments end too (one would pull it all back)
    if (emptied) for (const a of [...this.attached]) await a.detach();
    await this.flush();
    const old = await this.core.catch(() => undefined);
    this.core = this.openCore();
    const fresh = await this.core;
    old?.close();
    if (tellOthers) this.channel?.postMessage("rekey");
    if (emptied) {
      this.seenSeq = -1;
      void this.notify(fresh);
    }
  }

  /** Runs `fn` under this ledger's commit lock (no other tab commits meanwhile), after queued writes. */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    await this.flush();
    return lockedRetrying(this.lockName, fn);
  }

  /** After a merge from a remote: notifies this tab's subscribers and the other tabs. */
  changed(): Promise<void> {
    this.announce();
    return this.core.then((c) => this.notify(c), () => undefined);
  }

  /**
   * Runs `fn` (which stages files and commits the documents naming them) holding the compaction
   * lock in shared mode: no compaction runs between a file's staging and its commit (docs/format.md §16).
   */
  withFiles<T>(fn: (files: FileStore) => Promise<T>): Promise<T> {
    return withLock(`${this.lockName}:compact`, () => fn(this), true);
  }

  async stageFile(blob: Blob, name: string): Promise<StoredFile> {
    const w = await (await this.core).fileWriter();
    try {
      const m = JSON.parse(await writeChunks(blob, (c, last) => w.write(c, last))) as { cid: string; cars: string[]; key: string; size: number };
      const lastModified = typeof File !== "undefined" && blob instanceof File ? blob.lastModified : undefined;
      return { cid: m.cid, car: m.cars[0], cars: m.cars, key: m.key, name, size: m.size, type: blob.type, ...(lastModified === undefined ? {} : { lastModified }) };
    } catch (e) {
      throw fromEngine(e);
    } finally {
      w.free();
    }
  }

  async readChunk(car: string, key: string): Promise<Uint8Array> {
    const k = fromBase64(key);
    try {
      const core = await this.core;
      const here = await core.readFile(car, k);
      if (here) return here;
      for (const remote of this.fileRemotes) {
        const fetched = await remote.get(`cars/${car}`);
        if (fetched) return (await core.readFile(car, k, toBytes(fetched))) as Uint8Array; // checked, then stored
      }
    } catch (e) {
      throw fromEngine(e);
    }
    const where = this.fileRemotes.size > 0 ? "nor on its attached remote" : "and the ledger is not attached to a remote";
    throw new DatabaseError("MISSING_BLOCK", `file bytes ${car} are not stored here ${where}`);
  }

  /** Queues wire-encoded `[id, doc]` entries; they commit together with the rest of this tick. */
  write(ops: string[], files: string[] = []): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new DatabaseError("CLOSED", `ledger ${this.name} is closed`));
    return new Promise((resolve, reject) => {
      this.queue.push({ ops, files, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => {
          this.scheduled = false;
          if (this.wake) this.wake();
          else if (!this.draining) this.draining = this.drain().finally(() => (this.draining = null));
        });
      }
    });
  }

  private async drain(): Promise<void> {
    let core: Ledger;
    try {
      core = await this.core;
    } catch (e) {
      for (const p of this.queue.splice(0)) p.reject(e);
      return;
    }
    for (let n = 0; this.queue.length > 0; ) {
      // The queue keeps filling while the lock is awaited; the whole of it commits once granted.
      const lost = await withLock(this.lockName, () => this.commitWhileBusy(core));
      if (lost.length === 0) {
        n = 0;
        continue;
      }
      this.queue.unshift(...lost); // first in the next commit, with what arrived meanwhile
      await backoff(n++);
    }
  }

  /**
   * Commits the queue, holding the lock: after each commit it waits (until the next timer task)
   * for this tab's next write — an awaited `put` loop queues it at once — and commits it without
   * asking for the lock again, for at most one frame ({@link LOCK_HOLD_MS}) so other tabs get
   * their turn. Returns the entries to retry after a backoff (on `CONFLICT`).
   */
  private async commitWhileBusy(core: Ledger): Promise<Pending[]> {
    const start = performance.now();
    for (;;) {
      const lost = await this.commit(core, this.queue.splice(0));
      if (lost.length > 0 || performance.now() - start > LOCK_HOLD_MS) return lost;
      if (this.queue.length === 0) {
        // Until this tab queues a write, or the next task if none comes first (not a timer: a
        // hidden tab's would keep the lock, and so other tabs' writes, for up to a second).
        await new Promise<void>((r) => {
          this.wake = r;
          void nextTask().then(r);
        });
        this.wake = null;
      }
      if (this.queue.length === 0) return [];
    }
  }

  /** Commits `batch`; returns the entries to retry (all of them on `CONFLICT`, else none). */
  private async commit(core: Ledger, batch: Pending[]): Promise<Pending[]> {
    try {
      const json = `[${batch.map((p) => p.ops.join(",")).join(",")}]`;
      const files = batch.flatMap((p) => p.files);
      const res = JSON.parse(await core.write(utf8Bytes(json), files.length > 0 ? files.join(",") : undefined)) as WriteResult;
      // As in Fireproof, a write resolves once this tab's subscribers have been called for it.
      const told = this.notify(core, res.seq);
      void told.then(() => {
        for (const p of batch) p.resolve(res);
      });
      this.announce();
      this.compactWhenDue(core);
      return [];
    } catch (e) {
      const err = fromEngine(e);
      if (err.code === "CONFLICT") return batch;
      if (batch.length > 1 && err.code === "INVALID_DOC") {
        const lost: Pending[] = [];
        for (const p of batch) lost.push(...(await this.commit(core, [p]))); // isolate the bad document
        return lost;
      }
      for (const p of batch) p.reject(err);
      return [];
    }
  }

  /**
   * Tells other tabs that the ledger moved. Posts are throttled (one per few milliseconds, well
   * inside the 100 ms the other tabs are promised): each post costs a structured clone and an IPC.
   */
  private announce(): void {
    if (!this.channel || this.announcing) return;
    this.announcing = true;
    const post = (): void => {
      this.announcing = false;
      this.announced = performance.now();
      if (!this.closed) this.channel?.postMessage("commit");
    };
    // At once after a quiet spell: a hidden tab's timer could take a second.
    const wait = this.announced + ANNOUNCE_MS - performance.now();
    if (wait > 0) setTimeout(post, wait);
    else void nextTask().then(post);
  }

  /**
   * Schedules a background compaction for the next idle period if the engine says it is due, on
   * the current handle (`from` may have been replaced since: the full build took over, or a reopen).
   */
  private compactWhenDue(from: Ledger, quiet = false): void {
    const core = this.current ?? from;
    if (this.compaction || this.closed || !core.compactionDue(false)) return;
    if (!quiet && this.fileRemotes.size === 0 && !core.compactionDue(true)) {
      // due, not urgent: once this tab's writes pause (each commit starts the wait again). An
      // attached ledger compacts at once, as before: deferred to its sync rounds, compaction
      // dropped the other replicas' blocks that the next merges then fetched again.
      this.quietUntil = performance.now() + QUIET_MS;
      if (this.quiet === undefined) this.waitQuiet(core, QUIET_MS);
      return;
    }
    this.compaction = whenIdle()
      .then(() => this.compactNow(core, false))
      .then(
        () => 1,
        (e: unknown) => void (this.closed || console.warn("ferroproof: background compaction failed", e)),
      )
      .then((ok) => {
        this.compaction = null;
        // Commits made while it ran did not schedule one (one at a time): check again.
        if (ok) this.compactWhenDue(core);
      });
  }

  /** Compacts (if still due) once no commit moved {@link quietUntil} for `ms`. */
  private waitQuiet(core: Ledger, ms: number): void {
    this.quiet = setTimeout(() => {
      const left = this.quietUntil - performance.now();
      if (left > 0) return this.waitQuiet(core, left);
      this.quiet = undefined;
      this.compactWhenDue(core, true);
    }, ms);
  }

  /**
   * Compacts (one tab at a time): packs without the commit lock, so writes go on meanwhile, then
   * commits under it (retried on `CONFLICT`). `always`: even if not due (explicit `compact()`).
   */
  private compactNow(core: Ledger, always: boolean): Promise<void> {
    return withLock(`${this.lockName}:compact`, async () => {
      if (this.closed || core !== this.current) return; // closed, or a handle since replaced
      if (!always && !core.compactionDue(false)) return; // another tab just did it
      // automatic: incremental (mostly-live CARs kept); compact(): everything rewritten
      if (!(await core.compactPrepare(!always))) return;
      await lockedRetrying(this.lockName, () => core.compactCommit());
      this.announce();
    });
  }

  /** `compact()`: after the queued writes, rewrites the live data and drops the old storage. */
  async compact(): Promise<void> {
    await this.flush();
    const core = await this.core;
    while (this.compaction) await this.compaction;
    await this.compactNow(core, true).catch((e: unknown) => {
      throw fromEngine(e);
    });
  }

  /** Waits until every queued write has settled. */
  async flush(): Promise<void> {
    while (this.scheduled || this.draining) {
      await (this.draining ?? Promise.resolve());
      await Promise.resolve();
    }
  }

  /** As in Fireproof, a function subscribed twice (same `updates`) is called once; either unsubscribe ends it. */
  subscribe(fn: (docs: DocWithId[]) => unknown, updates: boolean): () => void {
    const l = [...this.listeners].find((x) => x.fn === fn && x.updates === updates) ?? { fn, updates };
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  }

  private async onRemoteCommit(): Promise<void> {
    if (this.closed) return;
    try {
      const core = await this.core;
      if (await core.refresh()) this.notify(core);
    } catch (e) {
      console.error("ferroproof: catching up with another tab failed", e);
    }
  }

  /**
   * Delivers everything after `seenSeq` to the listeners, one notification at a time; resolves
   * once the listeners have been called for it (never rejects). Listeners are not awaited, as in
   * Fireproof: one that writes to this ledger and awaits it must not hold the commit. `seq` is the
   * ledger's seq when the caller knows it (after its own commit).
   */
  private notify(core: Ledger, seq?: number): Promise<void> {
    if (this.listeners.size === 0 && seq !== undefined) {
      this.seenSeq = Math.max(this.seenSeq, seq); // nobody to tell: no engine call
      return Promise.resolve();
    }
    const told = this.notifying.then(async () => {
      if (this.listeners.size === 0) {
        this.seenSeq = (JSON.parse(core.info()) as { seq: number }).seq;
        return;
      }
      const wantDocs = [...this.listeners].some((l) => l.updates);
      let docs: DocWithId[] = [];
      let seq: number;
      if (wantDocs) {
        const res = decode<RowsResult>(await core.changesAfter(this.seenSeq), this);
        docs = res.rows.map((r) => r.value);
        seq = res.seq;
      } else {
        seq = (JSON.parse(core.info()) as { seq: number }).seq;
      }
      if (seq <= this.seenSeq) return;
      this.seenSeq = seq;
      for (const l of [...this.listeners]) {
        try {
          void Promise.resolve(l.fn(l.updates ? docs : [])).catch(subscriberError);
        } catch (e) {
          subscriberError(e);
        }
      }
    });
    this.notifying = told.catch((e) => console.error("ferroproof: reading the changes for subscribers failed", e));
    return this.notifying;
  }

  /**
   * Closes the engine handle (after pending writes, ending the attachments, and after storing the
   * indexes that queries built in memory) and forgets this ledger. A handle opened while it closes
   * (`refs` back above 0) keeps it open. Calls made while a close runs share it.
   */
  close(): Promise<void> {
    this.closing ??= this.closeNow().finally(() => (this.closing = null));
    return this.closing;
  }

  /** Ends `a` when this ledger closes; false (and `a` ended) if it has closed. */
  keepAttached(a: { detach(): Promise<void> }): boolean {
    if (this.closed) return void a.detach(), false;
    this.attached.add(a);
    return true;
  }

  /** Forgets an attachment that ended. */
  dropAttached(a: { detach(): Promise<void> }): void {
    this.attached.delete(a);
  }

  private async closeNow(): Promise<void> {
    await this.flush();
    await this.notifying; // the subscribers hear the last writes before the engine closes
    const core = await this.core.catch(() => undefined); // opening failed: nothing to store
    if (this.quiet !== undefined) {
      // writes have stopped: a compaction waiting for the pause runs now
      clearTimeout(this.quiet);
      this.quiet = undefined;
      if (core) this.compactWhenDue(core, true);
    }
    while (this.compaction) await this.compaction;
    if (core) await this.storeIndexes(core);
    if (this.refs > 0) return; // a handle was opened meanwhile: the ledger stays open
    this.closed = true;
    for (const a of [...this.attached]) await a.detach(); // their last cycle ends before the engine closes
    clearTimeout(this.quiet);
    this.channel?.close();
    if (registry.get(this.name) === this) registry.delete(this.name);
    try {
      (await this.core).close();
    } catch {
      // opening failed: nothing to close
    }
    for (const fn of this.onClosed) {
      try {
        fn();
      } catch (e) {
        subscriberError(e);
      }
    }
  }

  /**
   * Deletes all stored data of this ledger. With handles still open (`refs`), they go on with a
   * new, empty ledger and their subscribers are told; otherwise the ledger closes.
   */
  async destroy(): Promise<void> {
    await this.flush();
    // a compaction waiting for a pause in the writes is dropped: its data is about to go
    clearTimeout(this.quiet);
    this.quiet = undefined;
    while (this.compaction) await this.compaction;
    const core = await this.core;
    await core.destroy().catch((e: unknown) => {
      throw fromEngine(e);
    });
    mark("sync", this.name, false);
    mark("archive", this.name, false);
    this.channel?.postMessage("destroy"); // other tabs reopen: their state and caches are gone
    if (this.refs <= 0) return this.close();
    this.core = this.openCore();
    const fresh = await this.core;
    core.close();
    this.seenSeq = -1; // the subscribers are told (of no documents)
    this.notify(fresh);
  }
}
