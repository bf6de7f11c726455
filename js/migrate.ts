/**
 * `migrateFromFireproof(name, opts)`: copies the live documents (files included) of a Fireproof 0.24
 * ledger stored in this origin's IndexedDB into a ferroproof ledger. Loaded only by that call
 * (`index.ts` imports this module dynamically). Every format fact it relies on is in
 * docs/fireproof-format.md, with its source.
 *
 * Invariants: Fireproof's databases (`fp.<name>`, `fp-keybag`) are only ever opened without a
 * version and read in `readonly` transactions (an open that would create one is aborted); every
 * CAR is decrypted, checked against its CID (and every block against its own) and the whole tree
 * walked before the first write, so a damaged ledger writes nothing unless `skipCorrupt` is set.
 */
import { fireproof } from "./database.js";
import { cidText } from "./auth/ucan.js";
import { DatabaseError } from "./errors.js";

/** Progress of a migration: `read` after each Fireproof CAR loaded, `write` after each bulk, then `done`. */
export interface MigrateProgress {
  readonly phase: "read" | "write" | "done";
  /** Documents written so far (0 while reading). */
  readonly docs: number;
  /** Fireproof CARs read so far (`read`). */
  readonly cars?: number;
  /** Live documents to write, once known. */
  readonly total?: number;
}

export interface MigrateOptions {
  /** The ferroproof ledger to write into (default: the same name). Documents with the same ids are overwritten. */
  readonly into?: string;
  /** Documents per `bulk` commit (default 1000). */
  readonly batch?: number;
  readonly onProgress?: (p: MigrateProgress) => void;
  /** Skip CARs that cannot be read and blocks that are missing (and what only they held) instead of rejecting with `CORRUPT`. */
  readonly skipCorrupt?: boolean;
}

export interface MigrateResult {
  /** Live documents written. */
  readonly docs: number;
  /** Deleted documents seen (not written). */
  readonly deleted: number;
  /** Files written (under `_files` / `_publicFiles`). */
  readonly files: number;
  /** CIDs of the Fireproof CARs that could not be read and were skipped (only with `skipCorrupt`). */
  readonly skipped: string[];
  /** What the skipped CARs took with them: ids of documents not written, `id/name` of files dropped, and tree parts (whose ids are unknown). */
  readonly lost: { readonly docs: string[]; readonly files: string[]; readonly subtrees: number };
}

// ---- bytes: base32 (CID strings), base58btc (keybag keys), varints -------------------------------

const B32 = "abcdefghijklmnopqrstuvwxyz234567";
const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

function fromBase32Cid(s: string): Uint8Array {
  if (!s.startsWith("b")) throw new Error(`not a base32 CID: ${s}`);
  const out: number[] = [];
  let bits = 0;
  let acc = 0;
  for (const c of s.slice(1)) {
    const v = B32.indexOf(c);
    if (v < 0) throw new Error(`not a base32 CID: ${s}`);
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) out.push((acc >>> (bits -= 8)) & 255);
  }
  return new Uint8Array(out);
}

/** Multibase base58btc (`z…`), as Fireproof's keybag stores key material. */
function fromBase58btc(s: string): Uint8Array {
  if (!s.startsWith("z")) throw new Error("key material is not base58btc");
  const out: number[] = [];
  for (const c of s.slice(1)) {
    let carry = B58.indexOf(c);
    if (carry < 0) throw new Error("key material is not base58btc");
    for (let i = 0; i < out.length; i++) {
      carry += out[i] * 58;
      out[i] = carry & 255;
      carry >>= 8;
    }
    for (; carry > 0; carry >>= 8) out.push(carry & 255);
  }
  for (const c of s.slice(1)) {
    if (c !== "1") break;
    out.push(0);
  }
  return new Uint8Array(out.reverse());
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function sha256(b: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>));
}

class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}
  need(n: number): void {
    if (n > this.bytes.length - this.pos) throw new Error("truncated");
  }
  varint(): number {
    let v = 0;
    for (let shift = 0; shift < 49; shift += 7) {
      this.need(1);
      const b = this.bytes[this.pos++];
      v += (b & 127) * 2 ** shift;
      if (b < 128) return v;
    }
    throw new Error("varint too long");
  }
  take(n: number): Uint8Array {
    this.need(n);
    return this.bytes.subarray(this.pos, (this.pos += n));
  }
}

// ---- dag-cbor ------------------------------------------------------------------------------------

/** A CID link (CBOR tag 42): its binary CID. */
class Link {
  constructor(readonly bytes: Uint8Array) {}
  toString(): string {
    return cidText(this.bytes);
  }
}

type Cbor = null | undefined | boolean | number | string | Uint8Array | Link | Cbor[] | CborMap;
interface CborMap {
  [key: string]: Cbor;
}

const MAX_DEPTH = 256;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes one definite-length CBOR item (dag-cbor, and the cborg envelope): the whole input. */
function decodeCbor(bytes: Uint8Array): Cbor {
  const r = new Reader(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const arg = (info: number): number => {
    if (info < 24) return info;
    const n = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (n === 0) throw new Error("indefinite or reserved length");
    const b = r.take(n);
    let v = 0;
    for (const x of b) v = v * 256 + x;
    if (v > Number.MAX_SAFE_INTEGER) throw new Error("integer too large");
    return v;
  };
  const item = (depth: number): Cbor => {
    if (depth > MAX_DEPTH) throw new Error("nested too deep");
    const [ib] = r.take(1);
    const major = ib >> 5;
    const info = ib & 31;
    switch (major) {
      case 0:
        return arg(info);
      case 1:
        return -1 - arg(info);
      case 2:
        return r.take(arg(info)).slice();
      case 3:
        return utf8.decode(r.take(arg(info)));
      case 4: {
        const n = arg(info);
        r.need(n); // every item takes at least a byte
        const out: Cbor[] = [];
        for (let i = 0; i < n; i++) out.push(item(depth + 1));
        return out;
      }
      case 5: {
        const n = arg(info);
        r.need(2 * n);
        const out: CborMap = {};
        for (let i = 0; i < n; i++) {
          const k = item(depth + 1);
          if (typeof k !== "string") throw new Error("map key is not a string");
          Object.defineProperty(out, k, { value: item(depth + 1), enumerable: true, writable: true, configurable: true });
        }
        return out;
      }
      case 6: {
        const tag = arg(info);
        const v = item(depth + 1);
        if (tag !== 42 || !(v instanceof Uint8Array) || v[0] !== 0) throw new Error(`unsupported tag ${tag}`);
        return new Link(v.subarray(1));
      }
      default: {
        if (info === 20 || info === 21) return info === 21;
        if (info === 22) return null;
        if (info === 23) return undefined;
        const at = r.pos;
        if (info === 25) {
          const h = view.getUint16((r.take(2), at));
          const e = (h >> 10) & 31;
          const m = h & 1023;
          const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (m + 1024) * 2 ** (e - 25);
          return h & 0x8000 ? -v : v;
        }
        if (info === 26) return view.getFloat32((r.take(4), at));
        if (info === 27) return view.getFloat64((r.take(8), at));
        throw new Error(`unsupported simple value ${info}`);
      }
    }
  };
  const v = item(0);
  if (r.pos !== bytes.length) throw new Error("trailing bytes");
  return v;
}

const isMap = (v: Cbor): v is CborMap => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Link);
const links = (v: Cbor): Link[] => (Array.isArray(v) ? v.filter((x): x is Link => x instanceof Link) : []);

// ---- CARs ----------------------------------------------------------------------------------------

interface Car {
  readonly roots: Link[];
  readonly blocks: Map<string, Uint8Array>;
}

/** Reads the CID at the reader's position (v1: version, codec, multihash; v0: a bare sha2-256 multihash). */
function readCid(r: Reader): { bytes: Uint8Array; hash: number; digest: Uint8Array } {
  const start = r.pos;
  if (r.bytes[start] === 0x12 && r.bytes[start + 1] === 0x20) {
    r.take(2);
    const digest = r.take(32);
    return { bytes: r.bytes.subarray(start, r.pos), hash: 0x12, digest };
  }
  if (r.varint() !== 1) throw new Error("unsupported CID version");
  r.varint();
  const hash = r.varint();
  const digest = r.take(r.varint());
  return { bytes: r.bytes.subarray(start, r.pos), hash, digest };
}

/** Parses a CAR v1; every sha2-256 block is checked against its CID. */
async function readCar(bytes: Uint8Array): Promise<Car> {
  const r = new Reader(bytes);
  const header = decodeCbor(r.take(r.varint()));
  if (!isMap(header) || header.version !== 1) throw new Error("not a CAR v1");
  const blocks = new Map<string, Uint8Array>();
  const checks: Promise<void>[] = [];
  while (r.pos < bytes.length) {
    const end = r.varint() + r.pos;
    r.need(end - r.pos);
    const cid = readCid(r);
    if (r.pos > end) throw new Error("block shorter than its CID");
    const data = r.take(end - r.pos);
    const name = cidText(cid.bytes);
    if (cid.hash === 0x12) {
      checks.push(sha256(data).then((d) => {
        if (!equalBytes(d, cid.digest)) throw new Error(`block ${name} does not match its CID`);
      }));
    }
    blocks.set(name, data);
  }
  await Promise.all(checks);
  return { roots: links(header.roots), blocks };
}

// ---- IndexedDB, read-only ------------------------------------------------------------------------

/** A failed IndexedDB call as a `STORAGE` error (never skipped as corrupt data). */
function storageError(e: unknown): DatabaseError {
  return new DatabaseError("STORAGE", `reading the Fireproof ledger: ${e instanceof Error ? e.message : String(e)}`);
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((ok, err) => {
    req.onsuccess = () => ok(req.result);
    req.onerror = () => err(storageError(req.error));
  });
}

/** Opens an existing database, or resolves `undefined` (an open that would create it is aborted). */
function openExisting(name: string): Promise<IDBDatabase | undefined> {
  return new Promise((ok, err) => {
    const req = indexedDB.open(name);
    let created = false;
    req.onupgradeneeded = () => {
      created = true;
      req.transaction?.abort();
    };
    req.onsuccess = () => ok(req.result);
    req.onerror = () => (created ? ok(undefined) : err(storageError(req.error)));
  });
}

function readValue(db: IDBDatabase, store: string, key: string): Promise<unknown> {
  if (!db.objectStoreNames.contains(store)) return Promise.resolve(undefined);
  try {
    return request(db.transaction(store, "readonly").objectStore(store).get(key));
  } catch (e) {
    return Promise.reject(storageError(e)); // e.g. the database was closed by a version change
  }
}

function asBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (typeof v === "string") return new TextEncoder().encode(v);
  return undefined;
}

/** Fireproof's database name: `fp.` + the ledger name with runs of other characters than `[A-Za-z0-9-]` made `_`. */
function fireproofDbName(name: string): string {
  const part = name.replace(/^[^a-zA-Z0-9]+/g, "").replace(/[^a-zA-Z0-9-]+/g, "_");
  return part ? `fp.${part}` : "fp";
}

interface Key {
  readonly fingerprint: Uint8Array;
  readonly key: CryptoKey;
}

/** Every key the keybag holds for `@<name>-data@` (CARs and files), with its fingerprint (sha-256 of the material). */
async function loadKeys(name: string): Promise<Key[]> {
  const bag = await openExisting("fp-keybag");
  if (!bag) return [];
  try {
    const item = (await readValue(bag, "bag", `@${name}-data@`)) as Record<string, unknown> | undefined;
    const materials: string[] = [];
    const inner = (item?.item ?? item) as { key?: unknown; keys?: Record<string, { key?: unknown }> } | undefined;
    if (typeof inner?.key === "string") materials.push(inner.key);
    for (const k of Object.values(inner?.keys ?? {})) if (typeof k?.key === "string") materials.push(k.key);
    return await Promise.all(
      materials.map(async (m) => {
        try {
          const raw = fromBase58btc(m) as Uint8Array<ArrayBuffer>;
          return { fingerprint: await sha256(raw), key: await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]) };
        } catch (e) {
          throw new DatabaseError("DECRYPT", `a key of ${name} in fp-keybag is unreadable: ${(e as Error).message}`);
        }
      }),
    );
  } finally {
    bag.close();
  }
}

// ---- the ledger: CARs, tree, clock ---------------------------------------------------------------

class CarUnreadable extends Error {}

interface Ledger {
  readonly db: IDBDatabase;
  readonly keys: Key[];
  readonly blocks: Map<string, Uint8Array>;
  readonly skipCorrupt: boolean;
  readonly skipped: string[];
}

/**
 * Loads one stored CAR: the value under its CID in `data` is the cborg envelope `{iv, keyId, data}`
 * (AES-GCM, 128-bit tag) or, for an unencrypted ledger, the CAR itself; the CID's sha2-256 digest
 * is the hash of the plain CAR. Resolves `undefined` for a skipped CAR.
 */
async function loadCar(l: Ledger, cid: string): Promise<Car | undefined> {
  try {
    const stored = asBytes(await readValue(l.db, "data", cid));
    if (!stored) throw new CarUnreadable("missing");
    let plain = stored;
    let env: Cbor;
    try {
      env = decodeCbor(stored);
    } catch {
      env = undefined; // not an envelope: an unencrypted CAR
    }
    if (isMap(env) && env.iv instanceof Uint8Array && env.keyId instanceof Uint8Array && env.data instanceof Uint8Array) {
      const keyId = env.keyId;
      const key = l.keys.find((k) => equalBytes(k.fingerprint, keyId));
      if (!key) throw new DatabaseError("DECRYPT", `no key in fp-keybag for Fireproof CAR ${cid}`);
      try {
        const algo = { name: "AES-GCM", iv: env.iv as Uint8Array<ArrayBuffer>, tagLength: 128 };
        plain = new Uint8Array(await crypto.subtle.decrypt(algo, key.key, env.data as Uint8Array<ArrayBuffer>));
      } catch {
        throw new CarUnreadable("its AES-GCM tag does not verify");
      }
    }
    const want = readCid(new Reader(fromBase32Cid(cid))).digest;
    if (!equalBytes(await sha256(plain), want)) throw new CarUnreadable("its bytes do not match its CID");
    try {
      return await readCar(plain);
    } catch (e) {
      throw new CarUnreadable((e as Error).message);
    }
  } catch (e) {
    if (e instanceof DatabaseError) throw e;
    if (l.skipCorrupt) {
      l.skipped.push(cid);
      return undefined;
    }
    throw new DatabaseError("CORRUPT", `corrupt Fireproof CAR ${cid}: ${(e as Error).message}`);
  }
}

function block(l: Ledger, link: Cbor, what: string): Cbor | undefined {
  if (!(link instanceof Link)) throw new DatabaseError("CORRUPT", `Fireproof ledger: ${what} is not a link`);
  const bytes = l.blocks.get(link.toString());
  if (bytes) return decodeCbor(bytes);
  if (l.skipCorrupt) return undefined;
  throw new DatabaseError("CORRUPT", `Fireproof ledger: missing block ${link} (${what})`);
}

/** `main` in `meta`: JSON `[{cid, parents, data}]` (or `{metas: […]}`); `data` is a base64 clock event whose `data.dbMeta` is dag-json `{cars: [link…]}`. */
async function readMetaCars(db: IDBDatabase, name: string): Promise<string[][]> {
  const raw = asBytes(await readValue(db, "meta", "main"));
  if (!raw) throw new DatabaseError("ENOENT", `no Fireproof ledger named ${name} (it has no commits)`);
  try {
    const parsed = JSON.parse(new TextDecoder().decode(raw)) as unknown;
    const metas = (Array.isArray(parsed) ? parsed : (parsed as { metas?: unknown }).metas) as { data: string }[];
    return metas.map((m) => {
      const bin = atob(m.data.replace(/^M/, ""));
      const ev = decodeCbor(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
      const dbMeta = isMap(ev) && isMap(ev.data) ? ev.data.dbMeta : undefined;
      if (!(dbMeta instanceof Uint8Array)) throw new Error("no dbMeta");
      const cars = (JSON.parse(new TextDecoder().decode(dbMeta)) as { cars: { "/": string }[] }).cars.map((c) => c["/"]);
      if (cars.length === 0 || cars.some((c) => typeof c !== "string")) throw new Error("no cars");
      return cars;
    });
  } catch (e) {
    throw new DatabaseError("CORRUPT", `Fireproof ledger ${name}: unreadable meta (${(e as Error).message})`);
  }
}

/** Loads every CAR of the car log (the meta's CARs, then each header's `fp.cars`); resolves the clock head. */
async function loadLedger(l: Ledger, metaCars: string[][], onCar: (n: number) => void): Promise<Link[]> {
  const heads = new Map<string, Link>();
  const done = new Set<string>();
  let loaded = 0;
  const load = async (cid: string, header: boolean): Promise<void> => {
    if (done.has(cid)) return;
    done.add(cid);
    const car = await loadCar(l, cid);
    onCar(++loaded);
    if (!car) return;
    for (const [k, v] of car.blocks) l.blocks.set(k, v);
    if (!header) return;
    const root = car.roots[0] ? car.blocks.get(car.roots[0].toString()) : undefined;
    const fp = root ? decodeCbor(root) : undefined;
    if (!isMap(fp) || !isMap(fp.fp)) throw new DatabaseError("CORRUPT", `corrupt Fireproof CAR ${cid}: its root is not a car header`);
    for (const h of links(isMap(fp.fp.meta) ? fp.fp.meta.head : undefined)) heads.set(h.toString(), h);
    const cars = Array.isArray(fp.fp.cars) ? fp.fp.cars.flatMap(links) : [];
    await Promise.all(cars.map((c) => load(c.toString(), false)));
  };
  for (const group of metaCars) {
    for (const [i, cid] of group.entries()) await load(cid, i === 0);
  }
  if (heads.size === 0) throw new DatabaseError("CORRUPT", `Fireproof ledger: no readable clock head in CAR ${metaCars.map((g) => g[0]).join(", ")}`);
  return [...heads.values()];
}

interface Found {
  readonly live: Map<string, CborMap>;
  deleted: number;
  readonly lost: { docs: string[]; files: string[]; subtrees: number };
}

const GENESIS = "baembeiarootfireproofgenesisblockaaaafireproofgenesisblocka";

function addValue(l: Ledger, found: Found, id: string, link: Cbor): void {
  if (id === GENESIS) return;
  const v = block(l, link, `document ${id}`);
  if (v === undefined) {
    found.lost.docs.push(id);
    return;
  }
  if (isMap(v) && v.del === true) found.deleted++;
  else if (isMap(v) && isMap(v.doc)) found.live.set(id, v.doc);
  else throw new DatabaseError("CORRUPT", `Fireproof ledger: document ${id} is neither {doc} nor {del}`);
}

/** The document tree (a pail shard): `{entries: [[suffix, value | [shard] | [shard, value]]], prefix}`; collects key → value link. */
function walkShard(l: Ledger, found: Found, link: Cbor, into: Map<string, Cbor>): void {
  const shard = block(l, link, "tree shard");
  if (shard === undefined) {
    found.lost.subtrees++;
    return;
  }
  if (!isMap(shard) || !Array.isArray(shard.entries) || typeof shard.prefix !== "string") {
    throw new DatabaseError("CORRUPT", `Fireproof ledger: tree shard ${link} is malformed`);
  }
  for (const e of shard.entries) {
    if (!Array.isArray(e) || typeof e[0] !== "string") throw new DatabaseError("CORRUPT", `Fireproof ledger: tree shard ${link} is malformed`);
    const key = shard.prefix + e[0];
    const v = e[1];
    if (Array.isArray(v)) {
      if (v[1] !== undefined) into.set(key, v[1]);
      walkShard(l, found, v[0], into);
    } else {
      into.set(key, v);
    }
  }
}

/** A clock event: `{parents, data: {type: "put"|"del", key, value, root} | {type: "batch", ops, root}}`. */
interface Event {
  readonly parents: Link[];
  readonly data: CborMap;
}

function event(l: Ledger, link: Link): Event {
  const ev = block(l, link, "clock event");
  if (!isMap(ev) || !isMap(ev.data)) throw new DatabaseError("CORRUPT", `Fireproof ledger: clock event ${link} is missing or malformed`);
  return { parents: links(ev.parents), data: ev.data };
}

/** pail's common ancestor of concurrent heads: the first event every head's chain of candidates reaches. */
function commonAncestor(l: Ledger, children: Link[]): Link {
  const chains = children.map((c) => [c]);
  for (;;) {
    let changed = false;
    for (const chain of chains) {
      const last = chain[chain.length - 1];
      const { parents } = event(l, last);
      const next = parents.length === 0 ? last : parents.length === 1 ? parents[0] : commonAncestor(l, parents);
      if (next.toString() === last.toString()) continue;
      changed = true;
      chain.push(next);
      for (const item of chains.flat()) {
        if (chains.every((other) => other.some((x) => x.toString() === item.toString()))) return item;
      }
    }
    if (!changed) throw new DatabaseError("CORRUPT", `Fireproof ledger: heads ${children.join(", ")} have no common ancestor`);
  }
}

/**
 * pail's replay order of the events between the heads and their ancestor: every path from a head
 * adds its depth to an event's weight; heavier (older) first, then by CID string.
 */
function sortedEvents(l: Ledger, heads: Link[], tail: Link): Event[] {
  const weights = new Map<string, { ev: Event; weight: number }>();
  for (const head of heads) {
    const stack: [Link, number][] = [[head, 0]];
    for (let top = stack.pop(); top; top = stack.pop()) {
      const [ln, depth] = top;
      const ev = event(l, ln);
      const w = weights.get(ln.toString());
      if (w) w.weight += depth;
      else weights.set(ln.toString(), { ev, weight: depth });
      if (ev.parents.length === 1 && ev.parents[0].toString() === tail.toString()) continue;
      for (const p of ev.parents) stack.push([p, depth + 1]);
    }
  }
  return [...weights.entries()].sort(([ca, a], [cb, b]) => b.weight - a.weight || (ca < cb ? -1 : 1)).map(([, w]) => w.ev);
}

/**
 * The documents at the clock head. One head: its event's `data.root` is the tree. Several (after
 * a merge): as pail's `root()` (what Fireproof's reads use), the common ancestor's tree with the
 * later events' puts replayed in pail's order.
 */
function walkClock(l: Ledger, found: Found, heads: Link[]): void {
  const entries = new Map<string, Cbor>();
  if (heads.length === 1) {
    const ev = l.skipCorrupt && !l.blocks.has(heads[0].toString()) ? undefined : event(l, heads[0]);
    if (ev) walkShard(l, found, ev.data.root, entries);
    else found.lost.subtrees++;
  } else {
    const ancestor = commonAncestor(l, heads);
    walkShard(l, found, event(l, ancestor).data.root, entries);
    for (const ev of sortedEvents(l, heads, ancestor)) {
      const ops = ev.data.type === "batch" && Array.isArray(ev.data.ops) ? ev.data.ops : [ev.data];
      for (const op of ops) {
        if (!isMap(op) || typeof op.key !== "string") throw new DatabaseError("CORRUPT", "Fireproof ledger: a clock event has a malformed operation");
        if (op.type === "del") entries.delete(op.key);
        else entries.set(op.key, op.value);
      }
    }
  }
  for (const [id, link] of entries) addValue(l, found, id, link);
}

// ---- files ---------------------------------------------------------------------------------------

/** `_files` / `_publicFiles` entries: `{cid, car: [link], type, size, lastModified}`; the bytes are one raw block (sha2-256) in a file CAR of `car`. */
async function withFiles(l: Ledger, id: string, doc: CborMap, found: Found, fileCars: Map<string, Promise<Car | undefined>>): Promise<number> {
  let n = 0;
  for (const field of ["_files", "_publicFiles"]) {
    const files = doc[field];
    if (!isMap(files)) continue;
    for (const [name, meta] of Object.entries(files)) {
      if (!isMap(meta) || !(meta.cid instanceof Link)) continue;
      let bytes = l.blocks.get(meta.cid.toString());
      const carCids = (meta.car instanceof Link ? [meta.car] : links(meta.car)).map(String);
      for (const carCid of carCids) {
        if (bytes) break;
        let car = fileCars.get(carCid);
        if (!car) fileCars.set(carCid, (car = loadCar(l, carCid)));
        bytes = (await car)?.blocks.get(meta.cid.toString());
      }
      if (!bytes) {
        if (!l.skipCorrupt) throw new DatabaseError("CORRUPT", `Fireproof ledger: file ${name} of ${id} is missing (CAR ${carCids.join(",") || "none"})`);
        found.lost.files.push(`${id}/${name}`);
        delete files[name];
        continue;
      }
      const type = typeof meta.type === "string" ? meta.type : "";
      const lastModified = typeof meta.lastModified === "number" ? meta.lastModified : undefined;
      (files as Record<string, unknown>)[name] = new File([bytes as Uint8Array<ArrayBuffer>], name, { type, lastModified });
      n++;
    }
  }
  return n;
}

/** A decoded value as a document field: links become `{"/": "<cid>"}` (their dag-json form); files stay. */
function plain(v: unknown): unknown {
  if (v instanceof Link) return { "/": v.toString() };
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === "object" && v !== null && !(v instanceof Uint8Array) && !(v instanceof Blob)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: plain(x), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

// ---- the call ------------------------------------------------------------------------------------

/**
 * Copies every live document of the Fireproof 0.24 ledger `name` (IndexedDB `fp.<name>`, key from
 * `fp-keybag`) into the ferroproof ledger `opts.into ?? name`, in `bulk`s of `opts.batch`.
 *
 * ```javascript
 * const { docs, files } = await migrateFromFireproof("todos", { onProgress: (p) => console.log(p.phase, p.docs) });
 * ```
 * Rejects with `ENOENT` (no such Fireproof ledger), `DECRYPT` (its key is missing from
 * `fp-keybag`, or unreadable), `CORRUPT` (a CAR or block is damaged; the message names it),
 * `STORAGE` (IndexedDB failed a read: never skipped as damage) — all before writing anything. An error
 * while writing (e.g. `QUOTA`) leaves the bulks already committed; running it again is safe (the
 * same ids are overwritten with the same documents).
 */
export async function migrateFromFireproof(name: string, opts: MigrateOptions = {}): Promise<MigrateResult> {
  if (typeof name !== "string" || name === "") throw new DatabaseError("INVALID_ARG", "invalid argument: a Fireproof ledger name is required");
  const batch = Math.max(1, Math.floor(opts.batch ?? 1000));
  const progress = (p: MigrateProgress) => opts.onProgress?.(p);
  const db = await openExisting(fireproofDbName(name));
  if (!db) throw new DatabaseError("ENOENT", `no Fireproof ledger named ${name} (no IndexedDB database ${fireproofDbName(name)})`);
  const found: Found = { live: new Map(), deleted: 0, lost: { docs: [], files: [], subtrees: 0 } };
  const l: Ledger = { db, keys: [], blocks: new Map(), skipCorrupt: opts.skipCorrupt === true, skipped: [] };
  const docs: Record<string, unknown>[] = [];
  let files = 0;
  try {
    const metaCars = await readMetaCars(db, name);
    l.keys.push(...(await loadKeys(name)));
    const heads = await loadLedger(l, metaCars, (cars) => progress({ phase: "read", docs: 0, cars }));
    walkClock(l, found, heads);
    const fileCars = new Map<string, Promise<Car | undefined>>();
    for (const [id, doc] of found.live) {
      files += await withFiles(l, id, doc, found, fileCars);
      docs.push({ ...(plain(doc) as Record<string, unknown>), _id: id });
    }
  } catch (e) {
    // a malformed block inside a CAR that verified (its CBOR, a value of an unexpected shape)
    throw e instanceof DatabaseError ? e : new DatabaseError("CORRUPT", `Fireproof ledger ${name}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    db.close();
  }
  const into = fireproof(opts.into ?? name);
  let written = 0;
  try {
    for (let i = 0; i < docs.length; i += batch) {
      const chunk = docs.slice(i, i + batch);
      await into.bulk(chunk);
      written += chunk.length;
      progress({ phase: "write", docs: written, total: docs.length });
    }
  } finally {
    await into.close();
  }
  progress({ phase: "done", docs: written, total: docs.length });
  return { docs: written, deleted: found.deleted, files, skipped: l.skipped, lost: found.lost };
}
