/**
 * The connector contract (docs/sync.md §1): the create-only key/value store a ledger syncs
 * through, and `toConnector()`, which makes any such store attachable. Transports only: what to
 * push and pull, verification and merging happen in the engine.
 */
import { DatabaseError } from "../errors.js";

/**
 * One remote ledger's storage. Keys look like `cars/<name>` and `heads/<name>`; names are hashes
 * of the bytes, so a key's bytes never change.
 *
 * - `put` is create-only and idempotent: writing an existing key succeeds and changes nothing.
 *   It resolves once the bytes are durable.
 * - `get` resolves to the bytes (a `Uint8Array`; an `ArrayBuffer` or another typed array or
 *   `DataView` is read as its bytes), or `null`/`undefined` when absent.
 * - `list(prefix)` resolves to every key starting with `prefix` (full keys, any order).
 * - `delete` is only called on `heads/…` keys; deleting an absent key succeeds.
 * - `watch`, if given, calls `onChange` whenever something appears under `prefix` (with its key
 *   when known: the database then skips what it wrote itself), and returns a function that stops
 *   watching. Without it the database polls.
 * - `getMany`, if given, resolves to what `get` would for each key, in order, in fewer round
 *   trips (the server connector asks for up to 64 objects per request). Without it the database
 *   calls `get` for each.
 *
 * Each method may also answer synchronously (return the value, or throw); an in-memory store needs
 * no promises. Reject (or throw) an `Error` when the store cannot be reached; the sync retries
 * with backoff. A `watch` that throws is ignored: the database polls.
 */
export interface Connector {
  put(key: string, bytes: Uint8Array): Promise<void> | void;
  get(key: string): Promise<Bytes | null | undefined> | Bytes | null | undefined;
  list(prefix: string): Promise<string[]> | string[];
  delete(key: string): Promise<void> | void;
  watch?(prefix: string, onChange: (key?: string) => void): () => void;
  getMany?(keys: string[]): Promise<(Bytes | null | undefined)[]> | (Bytes | null | undefined)[];
}

/** What a connector's `get` may answer with: the object's bytes. */
export type Bytes = Uint8Array | ArrayBuffer | ArrayBufferView;

/** Options of `attached.invite()` (used by remotes with authorization, docs/auth.md "Client"). */
export interface InviteOpts {
  /** `false`: a read-only invite (default `true`: the joiner reads and writes). */
  readonly write?: boolean;
  /** Seconds the invite, and the access it grants, stay valid (default: as long as the inviter's own access). */
  readonly expiresIn?: number;
}

/** One holder of access to a remote ledger (`attached.members()`). */
export interface Member {
  readonly did: string;
  readonly can: "read" | "write" | "admin";
  /** Unix seconds when its access ends, `null` for never. */
  readonly expires: number | null;
}

/** What an attachable hands the database when attaching. */
export interface OpenedRemote {
  /** Stable id of the remote ledger (its sync state is kept under it). */
  readonly id: string;
  readonly connector: Connector;
  /** This device's DID (`did:key:z6Mk…`), or `""` when the remote has no identities. */
  readonly device?: string;
  /** Builds an invite string for this remote holding `key` (the ledger key). */
  invite?(key: Uint8Array, opts: InviteOpts): string | Promise<string>;
  /** Who holds access (remotes with authorization; admin only). */
  members?(): Promise<Member[]>;
  /** Stops serving `did` (remotes with authorization; admin only). */
  revoke?(did: string): Promise<void>;
  /** Stops watching; called on detach. */
  close?(): void;
}

/** Access to what the local ledger remembers for its attachments. */
export interface AttachContext {
  readonly ledgerName: string;
  load(key: string): Promise<string | undefined>;
  save(key: string, value: string): Promise<void>;
  /** Makes the invite's ledger key this ledger's key (a ledger that already has data is re-keyed). */
  adoptKey(key: Uint8Array): Promise<void>;
}

/** A remote that `db.attach()` accepts (as Fireproof's `Attachable`). */
export interface Attachable {
  readonly name: string;
  /** Two attachables with the same hash are the same remote (attaching twice returns one `Attached`). */
  configHash(): string;
  /** @internal Opens the remote for one ledger. */
  open(ctx: AttachContext): Promise<OpenedRemote>;
  /**
   * @internal With an invite: the remote ledger (`Attached.name`) and key it joins. An attachment
   * of the same remote on another ledger or key is replaced by this one (as after a reload).
   */
  readonly joins?: { readonly remote: string; readonly key: Uint8Array };
}

export interface ToConnectorOpts {
  /** Distinguishes several remotes of one ledger (default `"connector"`). */
  readonly id?: string;
  /** An invite from `attached.invite()` of another device on the same storage: takes its key. */
  readonly invite?: string;
}

/** Makes an app's own storage attachable: `db.attach(toConnector(myStore))`. */
export function toConnector(connector: Connector, opts: ToConnectorOpts = {}): Attachable {
  const methods = ["put", "get", "list", "delete"] as const;
  if (typeof connector !== "object" || connector === null || methods.some((m) => typeof connector[m] !== "function")) {
    throw new DatabaseError("INVALID_ARG", "invalid argument: a connector is an object with put, get, list and delete methods");
  }
  const id = opts.id ?? "connector";
  const invite = opts.invite === undefined ? undefined : decodeInvite(opts.invite);
  return {
    name: `connector:${id}`,
    configHash: () => `connector:${id}`,
    joins: invite && { remote: `connector:${id}`, key: invite.key },
    async open(ctx) {
      if (invite) await ctx.adoptKey(invite.key);
      return { id: `connector:${id}`, connector, invite: (key) => encodeInvite({ url: "", ledger: id, key }) };
    },
  };
}

/** What an invite carries: where the remote is (a server URL, or "" for an app's connector), which ledger, and its key. */
export interface Invite {
  readonly url: string;
  readonly ledger: string;
  readonly key: Uint8Array;
  /** Version 2 (a server with authorization): the one-time key and what it was delegated. */
  readonly auth?: InviteAuth;
}

/** The capability part of a v2 invite (docs/auth.md "Client"). */
export interface InviteAuth {
  /** The one-time key's 32-byte Ed25519 seed. */
  readonly seed: Uint8Array;
  /** CIDs of the chain up to the delegation to the one-time key, root first. */
  readonly prf: readonly string[];
  /** The delegated command (`/ledger/write` or `/ledger/read`). */
  readonly cmd: string;
  /** Its expiry (Unix seconds). */
  readonly exp: number;
}

const INVITE_PREFIX = "fp1.";

/**
 * Encodes an invite, URL-fragment safe: `fp1.` + base64url(JSON {v: 1, u, l, k}); with `auth`,
 * {v: 2, u, l, k, s: base64url(seed), p: [cid, …], c: cmd, e: exp}.
 */
export function encodeInvite(inv: Invite): string {
  const a = inv.auth;
  const base = { v: a ? 2 : 1, u: inv.url, l: inv.ledger, k: toBase64Url(inv.key) };
  const json = JSON.stringify(a ? { ...base, s: toBase64Url(a.seed), p: a.prf, c: a.cmd, e: a.exp } : base);
  return INVITE_PREFIX + toBase64Url(new TextEncoder().encode(json));
}

/** Decodes an invite (a leading `#` or `invite=` is ignored); malformed ones throw `INVALID_ARG`. */
export function decodeInvite(text: string): Invite {
  const bad = () => new DatabaseError("INVALID_ARG", "invalid argument: not a ferroproof invite");
  const s = String(text).replace(/^#?(invite=)?/, "");
  if (!s.startsWith(INVITE_PREFIX)) throw bad();
  try {
    const o = JSON.parse(new TextDecoder().decode(fromBase64Url(s.slice(INVITE_PREFIX.length)))) as Record<string, unknown>;
    const bytes = (v: unknown) => (typeof v === "string" ? fromBase64Url(v) : new Uint8Array());
    const key = bytes(o.k);
    if ((o.v !== 1 && o.v !== 2) || typeof o.u !== "string" || typeof o.l !== "string" || o.l === "" || key.length !== 32) throw bad();
    if (o.v === 1) return { url: o.u, ledger: o.l, key };
    const seed = bytes(o.s);
    const prf = o.p;
    if (seed.length !== 32 || !Array.isArray(prf) || !prf.every((c) => typeof c === "string") || typeof o.c !== "string" || typeof o.e !== "number") throw bad();
    return { url: o.u, ledger: o.l, key, auth: { seed, prf: prf as string[], cmd: o.c, exp: o.e } };
  } catch {
    throw bad();
  }
}

/** Base64url without padding (invites travel in URL fragments). */
export function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(text: string): Uint8Array {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
