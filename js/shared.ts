/**
 * One open ledger per name in this page, shared by every `fireproof(name)` handle: the engine
 * instance, the write coalescer, the subscribers and the cross-tab channel.
 *
 * Writes issued in the same tick join one commit; while a commit is in flight, new writes gather
 * for the next. Subscribers are notified after a commit is durable (never from inside the engine),
 * and after another tab's commit, announced on a BroadcastChannel.
 */
import { decode } from "./encode.js";
import { DatabaseError, fromEngine } from "./errors.js";
import { Ledger, loadEngine } from "./wasm.js";
import type { DocWithId } from "./types.js";

export interface WriteResult {
  readonly clock: string[];
  readonly seq: number;
}

interface Pending {
  readonly ops: string[];
  readonly resolve: (r: WriteResult) => void;
  readonly reject: (e: unknown) => void;
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
/** Delay that batches cross-tab commit announcements. */
const ANNOUNCE_MS = 4;


/** The shared ledger for `name`, opened on first use. */
export function sharedLedger(name: string): SharedLedger {
  let s = registry.get(name);
  if (!s) {
    s = new SharedLedger(name);
    registry.set(name, s);
  }
  return s;
}

export class SharedLedger {
  readonly name: string;
  readonly core: Promise<Ledger>;
  refs = 0;
  private queue: Pending[] = [];
  private scheduled = false;
  private draining: Promise<void> | null = null;
  private readonly listeners = new Set<Listener>();
  private seenSeq = 0;
  private notifying: Promise<void> = Promise.resolve();
  private readonly channel: BroadcastChannel | null;
  private closed = false;
  private announcing = false;

  constructor(name: string) {
    this.name = name;
    this.core = loadEngine()
      .then(() => Ledger.open(name))
      .then((l) => {
        this.seenSeq = (JSON.parse(l.info()) as { seq: number }).seq;
        return l;
      })
      .catch((e: unknown) => {
        throw fromEngine(e);
      });
    this.core.catch(() => undefined); // surfaced by each call that awaits it
    this.channel = typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel(`ferroproof:${name}`);
    if (this.channel) this.channel.onmessage = () => void this.onRemoteCommit();
  }

  /** Queues wire-encoded `[id, doc]` entries; they commit together with the rest of this tick. */
  write(ops: string[]): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new DatabaseError("CLOSED", `ledger ${this.name} is closed`));
    return new Promise((resolve, reject) => {
      this.queue.push({ ops, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => {
          this.scheduled = false;
          if (!this.draining) this.draining = this.drain().finally(() => (this.draining = null));
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
    while (this.queue.length > 0) {
      await this.commit(core, this.queue.splice(0));
    }
  }

  private async commit(core: Ledger, batch: Pending[]): Promise<void> {
    try {
      const json = `[${batch.map((p) => p.ops.join(",")).join(",")}]`;
      const res = JSON.parse(await core.write(json)) as WriteResult;
      for (const p of batch) p.resolve(res);
      this.announce();
      this.notify(core, res.seq);
    } catch (e) {
      const err = fromEngine(e);
      if (batch.length > 1 && err.code === "INVALID_DOC") {
        for (const p of batch) await this.commit(core, [p]); // isolate the bad document
      } else {
        for (const p of batch) p.reject(err);
      }
    }
  }

  /**
   * Tells other tabs that the ledger moved. Posts are throttled (one per few milliseconds, well
   * inside the 100 ms the other tabs are promised): each post costs a structured clone and an IPC.
   */
  private announce(): void {
    if (!this.channel || this.announcing) return;
    this.announcing = true;
    setTimeout(() => {
      this.announcing = false;
      if (!this.closed) this.channel?.postMessage("commit");
    }, ANNOUNCE_MS);
  }

  /** Waits until every queued write has settled. */
  async flush(): Promise<void> {
    while (this.scheduled || this.draining) {
      await (this.draining ?? Promise.resolve());
      await Promise.resolve();
    }
  }

  subscribe(fn: (docs: DocWithId[]) => unknown, updates: boolean): () => void {
    const l: Listener = { fn, updates };
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
   * Delivers everything after `seenSeq` to the listeners, one notification at a time. `seq` is
   * the ledger's seq when the caller knows it (after its own commit).
   */
  private notify(core: Ledger, seq?: number): void {
    if (this.listeners.size === 0 && seq !== undefined) {
      this.seenSeq = Math.max(this.seenSeq, seq); // nobody to tell: no engine call
      return;
    }
    this.notifying = this.notifying.then(async () => {
      if (this.listeners.size === 0) {
        this.seenSeq = (JSON.parse(core.info()) as { seq: number }).seq;
        return;
      }
      const wantDocs = [...this.listeners].some((l) => l.updates);
      let docs: DocWithId[] = [];
      let seq: number;
      if (wantDocs) {
        const res = decode<RowsResult>(await core.changesAfter(this.seenSeq));
        docs = res.rows.map((r) => r.value);
        seq = res.seq;
      } else {
        seq = (JSON.parse(core.info()) as { seq: number }).seq;
      }
      if (seq <= this.seenSeq) return;
      this.seenSeq = seq;
      for (const l of [...this.listeners]) {
        try {
          await l.fn(l.updates ? docs : []);
        } catch (e) {
          console.error("ferroproof: subscriber error", e);
        }
      }
    });
  }

  /**
   * Closes the engine handle (after pending writes, and after storing the indexes that queries
   * built in memory) and forgets this ledger.
   */
  async close(): Promise<void> {
    await this.flush();
    const core = await this.core.catch(() => undefined); // opening failed: nothing to store
    // If the store refuses (e.g. quota), the index is rebuilt when next queried.
    await core?.saveIndexes().catch((e: unknown) => console.warn("ferroproof: an index could not be stored", e));
    this.closed = true;
    this.channel?.close();
    if (registry.get(this.name) === this) registry.delete(this.name);
    try {
      (await this.core).close();
    } catch {
      // opening failed: nothing to close
    }
  }

  /** Deletes all stored data of this ledger. */
  async destroy(): Promise<void> {
    await this.flush();
    const core = await this.core;
    await core.destroy().catch((e: unknown) => {
      throw fromEngine(e);
    });
    await this.close();
  }
}
