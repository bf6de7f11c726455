/**
 * `Attached`: one ledger attached to one remote. Schedules the engine's pull and push (the sync
 * logic itself is in the engine), reports a truthful status and state, and retries with backoff.
 * One tab per ledger and remote runs the background loop (Web Locks); every tab can `sync()`.
 */
import type { InviteOpts, Member, OpenedRemote } from "./connectors/connector.js";

export type { InviteOpts, Member } from "./connectors/connector.js";
import { DatabaseError, fromEngine } from "./errors.js";
import type { Ledger } from "./wasm.js";

/** Fireproof's `Attached.status()` literals. */
export type AttachStatus = "attached" | "loading" | "loaded" | "error" | "detached" | "syncing" | "idle";

export interface SyncState {
  /** What the attachment is doing now. */
  readonly phase: "starting" | "pulling" | "pushing" | "idle" | "offline" | "error" | "detached";
  /** Stored objects not yet on the remote: local commits, and the 1 MiB chunks of their files. */
  readonly pendingUp: number;
  /** Remote changes announced and not yet merged here. */
  readonly pendingDown: number;
  /** When a pull or push last succeeded (without skipping a remote object). */
  readonly lastSyncedAt: Date | null;
  /** The last failure (cleared by the next success); `code` is stable. */
  readonly lastError: DatabaseError | null;
}

/** A state as the leading tab posts it. */
interface Relayed {
  readonly phase: SyncState["phase"];
  readonly pendingUp: number;
  readonly pendingDown: number;
  readonly lastSyncedAt: number | null;
  readonly lastError: { readonly code: string; readonly message: string } | null;
}

export interface Attached {
  readonly name: string;
  detach(): Promise<void>;
  status(): AttachStatus;
  /**
   * Resolves when local writes made before the call are on the remote and the remote heads seen at the call are merged.
   * (A merge is not pushed on its own: every replica computes it from its parents; it goes up with a write made on it.)
   */
  sync(): Promise<void>;
  state(): SyncState;
  onState(fn: (s: SyncState) => void): () => void;
  /**
   * An invite string (put it in a URL fragment): the remote's address and the ledger key; on a
   * server with authorization also a one-time key holding write (or, with `write: false`, read)
   * access for `expiresIn` seconds, spent by the first device that joins with it.
   */
  invite(opts?: InviteOpts): Promise<string>;
  /** This device's DID (`did:key:z6Mk…`; `""` where the remote has no identities). */
  readonly device: string;
  /** Who holds access to the remote ledger (admin only; `UNSUPPORTED` on a remote without authorization). */
  members(): Promise<Member[]>;
  /** Stops serving `did` and every device it invited (admin only; `UNSUPPORTED` without authorization). */
  revoke(did: string): Promise<void>;
}

/**
 * How the attachment reaches its remote. `db.attach()` resolves even when the first try fails
 * with `NETWORK` (a first attach offline, or with the server down): the attachment then reports
 * `"error"` and tries again with backoff, at once when the browser comes back online, and on
 * `sync()`/`invite()`. Local writes meanwhile wait in the outbox.
 */
export interface RemoteOpener {
  /** The attachable's name: the attachment's name until the remote is reached. */
  readonly name: string;
  /** Opens the remote (rejects with a coded error). */
  open(): Promise<OpenedRemote>;
  /** Called once, when the remote is reached. */
  opened(remote: OpenedRemote): void;
}

/** What the attachment needs from the shared ledger. */
export interface SyncHost {
  readonly name: string;
  readonly core: Promise<Ledger>;
  flush(): Promise<void>;
  /** Tells subscribers and other tabs that the ledger moved (after a merge). */
  changed(): void;
  /** Calls `fn` after every commit seen by this tab; returns an unsubscribe function. */
  onCommit(fn: () => void): () => void;
}

interface PullReport {
  records: number;
  changed: boolean;
  errors: { code: string; message: string }[];
}

const POLL_MS = 5000;
/** How long `detach()` waits for the pull or push in flight. */
const DETACH_WAIT_MS = 2000;
const MAX_BACKOFF_MS = 30_000;
/** How soon after a commit `pendingUp` is counted again (at most once per this many ms). */
const COUNT_MS = 50;

/** The wait before try `n + 1` after `n` failures: 0.5 s doubling up to 30 s, with jitter. */
function backoff(n: number): number {
  return Math.min(MAX_BACKOFF_MS, 500 * 2 ** n) * (0.5 + Math.random() / 2);
}

export class Attachment implements Attached {
  /** Set once the remote is reached (see `RemoteOpener`). */
  private remote: OpenedRemote | null;
  private opening: Promise<OpenedRemote> | null = null;
  private openTimer: ReturnType<typeof setTimeout> | null = null;
  private openFailures = 0;
  private phase: SyncState["phase"] = "starting";
  private first = true;
  private pendingDown = 0;
  private pendingUp = 0;
  private lastSyncedAt: Date | null = null;
  private lastError: DatabaseError | null = null;
  private readonly listeners = new Set<(s: SyncState) => void>();
  private running: Promise<void> = Promise.resolve();
  private wantPull = true;
  private wantPush = true;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** What `timer` waits for: a poll gives way to a kick; a backoff after a failure does not. */
  private timerKind: "soon" | "poll" | "backoff" = "soon";
  private failures = 0;
  /** A cycle of the loop is queued or running: kicks meanwhile only add to what it asks next. */
  private cycling = false;
  private detached = false;
  private end!: (e: DatabaseError) => void; // (declared first: fields are defined in order)
  /** Rejects with `CLOSED` on `detach()`: a `sync()` behind a connector call that hung settles. */
  private readonly ended = new Promise<never>((_, no) => (this.end = no));
  private leader = false;
  /** The connector's `watch` is running (polls are then rarer). */
  private watching = false;
  private readonly stops: (() => void)[] = [];
  private releaseLeadership: (() => void) | null = null;
  /** The leading tab's state, told to the other tabs of the profile (see `elect`). */
  private relay: BroadcastChannel | null = null;
  /** The keys of the last head records this attachment pushed, and the push running. */
  private readonly pushed: string[] = [];
  private pushing: Promise<unknown> = Promise.resolve();
  private counting: ReturnType<typeof setTimeout> | null = null;

  /** `remote`: the opened remote, or the `NETWORK` error of the first try to open it. */
  constructor(
    private readonly host: SyncHost,
    remote: OpenedRemote | DatabaseError,
    private readonly opener: RemoteOpener,
    private readonly onDetach: (remote: OpenedRemote | null) => void,
  ) {
    this.remote = remote instanceof DatabaseError ? null : remote;
    if (remote instanceof DatabaseError) {
      this.lastError = remote;
      this.phase = "offline";
    }
  }

  /** The remote ledger's id (the attachable's name until the remote is first reached). */
  get name(): string {
    return this.remote?.id ?? this.opener.name;
  }

  /** This device's DID (`""` until the remote is first reached, and where it has no identities). */
  get device(): string {
    return this.remote?.device ?? "";
  }

  /** Starts the background loop (in the tab that gets the leader lock), or the tries to reach the remote. */
  start(): void {
    this.stops.push(
      this.host.onCommit(() => {
        this.kick(false, true);
        this.count();
      }),
    );
    if (typeof addEventListener === "function") {
      // back online: try at once instead of waiting out the backoff
      const online = () => {
        if (!this.remote) void this.reach().catch(() => undefined);
        else if (this.leader && !this.detached) {
          this.wantPull = this.wantPush = true;
          this.arm("soon", 0);
        }
      };
      addEventListener("online", online);
      this.stops.push(() => removeEventListener("online", online));
    }
    if (this.remote) this.elect(this.remote);
    else this.reachLater();
    this.emit();
  }

  /** Opens the remote (one try at a time); once reached, the background loop starts. */
  private reach(): Promise<OpenedRemote> {
    if (this.remote) return Promise.resolve(this.remote);
    this.opening ??= this.opener.open().then(
      (r) => {
        this.opening = null;
        if (this.detached) {
          r.close?.();
          throw new DatabaseError("CLOSED", "sync: the attachment is detached");
        }
        this.remote = r;
        if (this.openTimer) clearTimeout(this.openTimer);
        this.openTimer = null;
        this.opener.opened(r);
        this.lastError = null;
        this.set("starting");
        this.elect(r);
        return r;
      },
      (e: unknown) => {
        this.opening = null;
        const err = fromEngine(e);
        this.lastError = err;
        this.set(err.code === "NETWORK" ? "offline" : "error");
        throw err;
      },
    );
    return this.opening;
  }

  /** Tries to reach the remote again after a backoff (until it answers, or refuses for good). */
  private reachLater(): void {
    if (this.openTimer) clearTimeout(this.openTimer);
    this.openTimer = setTimeout(() => {
      this.openTimer = null;
      this.reach().catch((e: DatabaseError) => {
        if (e.code === "NETWORK" && !this.detached && !this.remote) this.reachLater();
      });
    }, backoff(this.openFailures++));
  }

  /**
   * Runs the background loop in the tab that gets the leader lock of this ledger and remote. The
   * leader posts its state on a BroadcastChannel of the same name; the other tabs' attachments
   * show it (one asks for it when it starts).
   */
  private elect(remote: OpenedRemote): void {
    const name = `ferroproof-sync:${this.host.name}:${remote.id}`;
    if (typeof BroadcastChannel === "function") {
      const relay = (this.relay = new BroadcastChannel(name));
      relay.onmessage = ({ data: d }: MessageEvent<Relayed | 0>) => {
        if (this.leader) return void (d === 0 && this.emit());
        if (d === 0 || this.detached) return;
        this.phase = d.phase;
        this.first = false;
        this.pendingUp = d.pendingUp;
        this.pendingDown = d.pendingDown;
        this.lastSyncedAt = d.lastSyncedAt === null ? null : new Date(d.lastSyncedAt);
        this.lastError = d.lastError && new DatabaseError(d.lastError.code, d.lastError.message);
        this.emit();
      };
      relay.postMessage(0);
    }
    const lead = () => {
      if (this.detached) return;
      this.leader = true;
      const conn = remote.connector;
      if (conn.watch) {
        try {
          // a record this tab pushed (announced while its push may still be running) needs no pull
          const stop = conn.watch("heads/", (key?: string) =>
            this.pushing.then(() => {
              if (this.pushed.includes(key as string)) return;
              this.pendingDown++;
              this.kick(true, false);
            }),
          );
          if (typeof stop === "function") this.stops.push(stop);
          this.watching = true;
        } catch {
          // an app's connector whose watch throws is polled instead
        }
      }
      this.kick(true, true);
    };
    const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
    if (!locks) {
      lead();
      return;
    }
    void locks.request(name, () => {
      // detached while waiting: released at once, so that a later attachment can lead
      if (this.detached) return;
      lead();
      return new Promise<void>((release) => (this.releaseLeadership = release));
    });
  }

  /** Asks the leader loop for a pull and/or a push soon. */
  private kick(pull: boolean, push: boolean): void {
    this.wantPull ||= pull;
    this.wantPush ||= push;
    if (!this.leader || this.detached || this.cycling) return;
    if (this.timer && this.timerKind !== "poll") return;
    this.arm("soon", 0);
  }

  private arm(kind: "soon" | "poll" | "backoff", ms: number): void {
    if (this.detached) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerKind = kind;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (kind === "poll") this.wantPull = true;
      void this.loop();
    }, ms);
  }

  private async loop(): Promise<void> {
    if (this.detached || !(this.wantPull || this.wantPush)) return;
    const pull = this.wantPull;
    const push = this.wantPush;
    this.wantPull = this.wantPush = false;
    // one cycle at a time: commits meanwhile would each queue another one, and after an outage
    // each of those failures would count, taking the backoff to its cap at once
    this.cycling = true;
    try {
      await this.exclusive(() => this.cycle(pull, push)); // a skipped object: reported, not retried now
      this.failures = 0;
      this.cycling = false;
      this.schedulePoll();
    } catch {
      // reported in state(); retried with backoff
      this.cycling = false;
      this.wantPull ||= pull;
      this.wantPush ||= push;
      this.retryIn(backoff(this.failures++));
      return;
    }
    if (this.wantPull || this.wantPush) this.kick(false, false);
  }

  private retryIn(ms: number): void {
    this.arm("backoff", ms);
  }

  private schedulePoll(): void {
    if (this.timer || this.detached) return;
    this.arm("poll", this.watching ? POLL_MS * 6 : POLL_MS);
  }

  /** Runs `fn` after whatever pull/push is in flight (one at a time per attachment). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.running.then(fn, fn);
    this.running = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * One pull and/or push. Resolves to the error of a remote object the pull skipped (reported, and
   * not retried sooner than the next pull: a damaged record stays until its writer replaces it, so
   * it neither holds this replica's pushes nor backs the loop off); rejects for anything else.
   */
  private async cycle(pull: boolean, push: boolean): Promise<DatabaseError | null> {
    if (this.detached) throw new DatabaseError("CLOSED", "sync: the attachment is detached");
    const remote = await this.reach();
    const core = await this.host.core;
    let skipped: DatabaseError | null = null;
    try {
      if (pull) {
        this.set("pulling");
        const announced = this.pendingDown;
        const r = JSON.parse(await core.syncPull(remote.connector, remote.id)) as PullReport;
        this.pendingDown = Math.max(0, this.pendingDown - announced);
        if (r.changed) this.host.changed();
        const e = r.errors[0];
        if (e) skipped = new DatabaseError(e.code, `sync: a remote object was skipped: ${e.message}`);
      }
      if (push) {
        await this.host.flush();
        this.set("pushing");
        const pushing = core.syncPush(remote.connector, remote.id);
        this.pushing = pushing.catch(() => undefined);
        const { record } = JSON.parse(await pushing) as { record?: string };
        if (record && this.pushed.push(`heads/${record}`) > 8) this.pushed.shift();
      }
      this.lastError = skipped;
      if (!skipped) this.lastSyncedAt = new Date();
      this.first = false;
      this.set(skipped ? "error" : "idle");
      return skipped;
    } catch (e) {
      // detached meanwhile: its aborted requests are no failure of the remote
      if (this.detached) throw new DatabaseError("CLOSED", "sync: the attachment is detached");
      const err = fromEngine(e);
      this.lastError = err;
      this.set(err.code === "NETWORK" ? "offline" : "error");
      throw err;
    }
  }

  private set(phase: SyncState["phase"]): void {
    if (this.detached && phase !== "detached") return;
    this.phase = phase;
    void this.host.core.then((c) => {
      this.pendingUp = c.pendingUp();
      this.emit();
    }, () => this.emit());
  }

  /**
   * Counts `pendingUp` again shortly after a commit: the loop counts only when its phase changes,
   * so without this the outbox of a ledger that cannot push (offline, refused, backing off) would
   * read as it was before the writes.
   */
  private count(): void {
    this.counting ??= setTimeout(() => {
      this.counting = null;
      this.set(this.phase);
    }, COUNT_MS);
  }

  private emit(): void {
    const s = this.state();
    if (this.leader && !this.detached) {
      const e = s.lastError;
      const d: Relayed = { ...s, lastSyncedAt: s.lastSyncedAt?.getTime() ?? null, lastError: e && { code: e.code, message: e.message } };
      this.relay?.postMessage(d);
    }
    for (const fn of [...this.listeners]) {
      try {
        fn(s);
      } catch (e) {
        console.error("ferroproof: onState listener failed", e);
      }
    }
  }

  status(): AttachStatus {
    switch (this.phase) {
      case "detached":
        return "detached";
      case "error":
      case "offline":
        return "error";
      case "starting":
        return "attached";
      case "pulling":
      case "pushing":
        return this.first ? "loading" : "syncing";
      case "idle":
        return this.lastSyncedAt && Date.now() - this.lastSyncedAt.getTime() < 1000 && this.pendingUp === 0 ? "loaded" : "idle";
    }
  }

  state(): SyncState {
    return {
      phase: this.phase,
      pendingUp: this.pendingUp,
      pendingDown: this.pendingDown,
      lastSyncedAt: this.lastSyncedAt,
      lastError: this.lastError,
    };
  }

  onState(fn: (s: SyncState) => void): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  async sync(): Promise<void> {
    if (this.detached) throw new DatabaseError("CLOSED", "sync: the attachment is detached");
    await this.host.flush();
    // (NETWORK while the remote cannot be reached; CLOSED once detached, even mid-call)
    // (raced inside the queue: the caller settles when the queue moves on, as with the loop's cycles)
    const skipped = await this.exclusive(() => Promise.race([this.cycle(true, true), this.ended]));
    if (skipped) throw skipped;
  }

  async invite(opts: InviteOpts = {}): Promise<string> {
    const e = opts.expiresIn;
    if (e !== undefined && !(Number.isSafeInteger(e) && e > 0)) throw new DatabaseError("INVALID_ARG", "invalid argument: expiresIn must be a positive whole number of seconds");
    const remote = await this.reach();
    if (!remote.invite) throw new DatabaseError("UNSUPPORTED", "invite: this remote has no invite format");
    const core = await this.host.core;
    return remote.invite(await core.exportKey(), opts);
  }

  async members(): Promise<Member[]> {
    const remote = await this.reach();
    if (!remote.members) throw new DatabaseError("UNSUPPORTED", "members: this remote has no authorization");
    return remote.members();
  }

  async revoke(did: string): Promise<void> {
    const remote = await this.reach();
    if (!remote.revoke) throw new DatabaseError("UNSUPPORTED", "revoke: this remote has no authorization");
    return remote.revoke(did);
  }

  async detach(): Promise<void> {
    if (this.detached) return;
    this.detached = true;
    this.ended.catch(() => undefined);
    this.end(new DatabaseError("CLOSED", "sync: the attachment is detached"));
    // forgotten at once: an attach() of the same remote right after this call gets a new attachment
    this.onDetach(this.remote);
    if (this.timer) clearTimeout(this.timer);
    if (this.openTimer) clearTimeout(this.openTimer);
    if (this.counting) clearTimeout(this.counting);
    this.timer = this.openTimer = this.counting = null;
    for (const s of this.stops.splice(0)) {
      try {
        s();
      } catch {
        // an app's connector failing to stop watching: detached all the same
      }
    }
    this.remote?.close?.();
    this.relay?.close();
    this.releaseLeadership?.();
    // a connector call that never settles (an app's storage that hung) does not hold the detach;
    // whatever that cycle does later is safe (create-only objects, compare-and-set commits)
    await Promise.race([this.running, new Promise((r) => setTimeout(r, DETACH_WAIT_MS))]);
    this.phase = "detached";
    this.emit();
  }
}
