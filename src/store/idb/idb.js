// IndexedDB access for the engine's IdbStore (src/store/idb.rs): one function per Store method.
// A commit is one readwrite transaction: read the header, compare its CAR and revision with the
// expected ones, put the CAR records and the new header. All of its requests are issued together; the header
// read's callback aborts the transaction on a mismatch (see idbCommit).

const CARS = "cars";
const META = "meta";
const CID_INDEX = "cid";
// 3: block CIDs in a record's `c` (and so the `cid` index) are binary (CID bytes). An index entry
// with a 36-byte binary key costs a third of one with the 59-character string (a one-document
// commit: 0.89 → 0.60 ms of IndexedDB time, docs/benchmarks.md). Records written at version 2 keep
// their string CIDs until compaction rewrites them: lookups try both forms. The bump makes a tab
// still running an older build fail to open (or be closed) instead of missing the binary entries.
const VERSION = 3;

function req(r) {
  return new Promise((ok, err) => {
    r.onsuccess = () => ok(r.result);
    r.onerror = () => err(r.error);
  });
}

function done(tx) {
  return new Promise((ok, err) => {
    tx.oncomplete = () => ok();
    tx.onabort = () => err(tx.error ?? new Error("transaction aborted"));
  });
}

/**
 * Databases opened ahead by `idbPreopen` (the package calls it while the engine's wasm compiles,
 * so the two overlap), each handed to the next `idbOpen` of its name.
 */
const ahead = new Map();

export function idbPreopen(name) {
  if (ahead.has(name)) return;
  const p = openDb(name);
  // not taken yet and closed (another tab deletes or upgrades the database) or failed: dropped, so
  // that the engine's own open runs instead
  const drop = () => ahead.get(name) === p && ahead.delete(name);
  p.then(([db]) => db).then((db) => db.addEventListener("versionchange", drop), drop);
  ahead.set(name, p);
}

export function idbOpen(name) {
  const p = ahead.get(name);
  ahead.delete(name);
  return p ?? openDb(name);
}

/**
 * Keys of the databases this tab is creating, by the promise of each (the `db` the calls below
 * take), until the creation completes: no other connection can write the key before that.
 */
const creating = new WeakMap();

/**
 * Opens ledger database `name`: `[db]` when it exists; when this open creates it, `[a promise of
 * db, true]` as soon as the upgrade runs (before the creation completes). The upgrade transaction
 * stores a new random key, so no tab ever sees the database without one; the engine starts the new
 * ledger empty at once (every call below awaits its `db` first, but the key's).
 */
function openDb(name) {
  return new Promise((ok, err) => {
    let later, created;
    const r = indexedDB.open(name, VERSION);
    r.onupgradeneeded = (e) => {
      const db = r.result;
      if (e.oldVersion === 2) return; // same stores and index; string CIDs are still found
      // Pre-release layouts are dropped, not migrated.
      for (const s of Array.from(db.objectStoreNames)) db.deleteObjectStore(s);
      db.createObjectStore(CARS).createIndex(CID_INDEX, "c", { multiEntry: true });
      const key = crypto.getRandomValues(new Uint8Array(32));
      db.createObjectStore(META).put(key, "key");
      later = new Promise((...fns) => (created = fns));
      later.catch(() => undefined); // reported by each call that awaits it
      creating.set(later, key);
      ok([later, true]);
    };
    r.onsuccess = () => {
      const db = r.result;
      db.onversionchange = () => db.close();
      creating.delete(later); // from now on, ensuring the key reads it
      created?.[0](db);
      ok([db]);
    };
    r.onerror = () => {
      creating.delete(later);
      created?.[1](r.error);
      err(r.error);
    };
  });
}

export async function idbEnsureKey(db, candidate) {
  if (creating.has(db)) return creating.get(db);
  db = await db;
  // Nearly always the key exists: a read-only transaction (no commit to wait for) finds it.
  const stored = await req(db.transaction(META).objectStore(META).get("key"));
  if (stored !== undefined) return stored;
  const tx = db.transaction(META, "readwrite");
  const finished = done(tx);
  const meta = tx.objectStore(META);
  const current = await req(meta.get("key"));
  if (current !== undefined) return current;
  meta.put(candidate, "key");
  await finished;
  return candidate;
}

/** The bytes of each CAR (undefined where none), in one transaction. */
export async function idbReadCars(db, names) {
  db = await db;
  const store = db.transaction(CARS).objectStore(CARS);
  return Promise.all(names.map((n) => req(store.get(n)).then((r) => r && r.b)));
}

/**
 * The CARs holding blocks, each once with its bytes (`[[name, bytes or undefined]...]`; blocks
 * no CAR holds are left out), in one transaction: `bins` are the CIDs' bytes, `strs` the same CIDs
 * as strings (how records written at version 2 list them), asked for only when the bytes are not
 * found, and a CAR is read as soon as its first block is located (the transaction is still active
 * in the success callbacks' microtasks), so a ledger without version-2 records makes one request
 * per block and one per CAR, and a located CAR is always there to read.
 */
export async function idbLocateCars(db, bins, strs) {
  db = await db;
  const store = db.transaction(CARS).objectStore(CARS);
  const index = store.index(CID_INDEX);
  const cars = new Map();
  const read = (n) => n === undefined || cars.has(n) || cars.set(n, req(store.get(n)).then((r) => [n, r && r.b]));
  await Promise.all(bins.map((b, i) => req(index.getKey(b)).then((n) => n ?? req(index.getKey(strs[i]))).then(read)));
  return Promise.all(cars.values());
}

/**
 * expect, rev: the `car` and revision of the header the commit was built on (undefined and 0: none);
 * cars: [[name, bytes, [cid bytes...]]...]; staged: names of CARs stored earlier that the header names.
 * Resolves to 1 (committed), 0 (a conflict) or -1 (a staged CAR is gone); on 0 and -1 nothing is
 * written.
 * Every request is issued at once (no round trip between the header read and the puts): requests
 * run in order, so the read sees the header as it was before this commit, and a mismatch aborts
 * the transaction from the read's callback, which undoes the puts queued behind it.
 */
export async function idbCommit(db, expect, rev, cars, staged, header, key, own) {
  db = await db;
  const tx = db.transaction([CARS, META], "readwrite");
  const finished = done(tx);
  const meta = tx.objectStore(META);
  let outcome = 1;
  const fail = (o) => {
    if (outcome === 1) {
      outcome = o;
      tx.abort();
    }
  };
  const read = meta.get("header");
  read.onsuccess = () => {
    // No header and no expectation (`expect` is undefined for None): both undefined, revision 0.
    const h = read.result && JSON.parse(read.result);
    if ((h && h.car) !== expect || ((h && h.rev) ?? 0) !== rev) fail(0);
  };
  if (own) {
    // sealed under the key this handle holds: a conflict if another tab's destroy() removed or
    // replaced it (the handle then takes the stored key; docs/format.md §8, "Compare-and-set")
    const k = meta.get("key");
    k.onsuccess = () => {
      const s = k.result;
      if (!(s instanceof Uint8Array) || s.length !== own.length || s.some((b, i) => b !== own[i])) fail(0);
    };
  }
  const store = tx.objectStore(CARS);
  for (const name of staged) {
    const r = store.getKey(name);
    r.onsuccess = () => r.result === undefined && fail(-1);
  }
  for (const [name, b, c] of cars) store.put({ b, c }, name);
  meta.put(header, "header");
  if (key) meta.put(key, "key"); // re-keying: the new key lands with the CARs sealed under it
  try {
    await finished;
  } catch (e) {
    if (outcome !== 1) return outcome;
    throw e;
  }
  return 1;
}

/**
 * Every CAR's name; with `files`, only file CARs' (those holding raw blocks: CID bytes `01 55 …`,
 * or `bafk…` in records written at version 2; docs/format.md §16), each once.
 */
export async function idbListCars(db, files) {
  db = await db;
  const cars = db.transaction(CARS).objectStore(CARS);
  if (!files) return req(cars.getAllKeys());
  const index = cars.index(CID_INDEX);
  const raw = IDBKeyRange.bound(Uint8Array.of(1, 0x55), Uint8Array.of(1, 0x56), false, true);
  const legacy = req(index.getAllKeys(IDBKeyRange.bound("bafk", "bafl", false, true)));
  return [...new Set([...(await req(index.getAllKeys(raw))), ...(await legacy)])];
}

/**
 * cars: [[name, bytes, [cid bytes...]]...]: CAR records no header names yet (staged by compaction), each
 * in its own transaction, so a commit waiting on the store waits for one of them at most.
 */
export async function idbStageCars(db, cars) {
  db = await db;
  for (const [name, b, c] of cars) {
    const tx = db.transaction(CARS, "readwrite");
    const finished = done(tx);
    tx.objectStore(CARS).put({ b, c }, name);
    await finished;
  }
}

/**
 * Every CAR the block index lists with its blocks, [[name, cid bytes one after another, [cid
 * string...]]...], read with a key cursor (no CAR bytes are read). Binary CIDs are concatenated
 * (one copy into the engine per CAR); string ones come from records written at version 2.
 */
export async function idbCarBlocks(db) {
  db = await db;
  const cursor = db.transaction(CARS).objectStore(CARS).index(CID_INDEX).openKeyCursor();
  const cars = new Map();
  return new Promise((ok, err) => {
    cursor.onerror = () => err(cursor.error);
    cursor.onsuccess = () => {
      const c = cursor.result;
      if (!c) {
        const out = [];
        for (const [name, [bins, strs]] of cars) {
          const all = new Uint8Array(bins.reduce((n, b) => n + b.byteLength, 0));
          bins.reduce((at, b) => (all.set(new Uint8Array(b), at), at + b.byteLength), 0);
          out.push([name, all, strs]);
        }
        return ok(out);
      }
      let e = cars.get(c.primaryKey);
      if (!e) cars.set(c.primaryKey, (e = [[], []]));
      e[typeof c.key === "string" ? 1 : 0].push(c.key);
      c.continue();
    };
  });
}

export async function idbRemoveCars(db, names) {
  db = await db;
  const tx = db.transaction(CARS, "readwrite");
  const finished = done(tx);
  const store = tx.objectStore(CARS);
  for (const n of names) store.delete(n);
  await finished;
}

export async function idbClear(db) {
  db = await db;
  const tx = db.transaction([CARS, META], "readwrite");
  const finished = done(tx);
  tx.objectStore(CARS).clear();
  tx.objectStore(META).clear();
  await finished;
}

/** Replaces the key of a ledger without a header, in one transaction; false if it has one. */
export async function idbReplaceKey(db, key) {
  db = await db;
  const tx = db.transaction(META, "readwrite");
  const finished = done(tx);
  const meta = tx.objectStore(META);
  if ((await req(meta.get("header"))) !== undefined) return false;
  meta.put(key, "key");
  await finished;
  return true;
}

export async function idbLoadMeta(db, key) {
  db = await db;
  return req(db.transaction(META).objectStore(META).get(key));
}

export async function idbSaveMeta(db, key, value) {
  db = await db;
  const tx = db.transaction(META, "readwrite");
  const finished = done(tx);
  tx.objectStore(META).put(value, key);
  await finished;
}

// Seals `plain` for WebAead (src/store/idb/webcrypto.rs): AES-GCM under `key` with the 12-byte
// `iv` and the envelope header `head` as associated data, into the envelope head ‖ iv ‖
// ciphertext (docs/format.md §7); from `digestMin` bytes on, also its SHA-256 (the CAR's name).
// The three arrays are views of the engine's memory: read during the call, never after an await.
export async function idbSeal(key, head, iv, plain, digestMin) {
  const prefix = [...head, ...iv];
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: head }, key, plain);
  const env = new Uint8Array(prefix.length + ct.byteLength);
  env.set(prefix);
  env.set(new Uint8Array(ct), prefix.length);
  return [env, env.length >= digestMin ? new Uint8Array(await crypto.subtle.digest("SHA-256", env)) : undefined];
}
