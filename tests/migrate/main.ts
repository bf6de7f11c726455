// Writes Fireproof 0.24.19 ledgers with the real @fireproof/core, for tests/browser/migrate.test.mjs
// to migrate in the same origin. Exposed as `window.fpw`.
import { fireproof } from "@fireproof/core";

type Doc = Record<string, unknown> & { _id: string };

interface Written {
  /** Every live document as Fireproof's allDocs returns it, `_files` left out. */
  live: Doc[];
  /** What the writes should have left (checked against `live` by the test). */
  model: Doc[];
  deleted: string[];
  file: { id: string; name: string; type: string; lastModified: number; bytes: number[] };
  commits: number;
  /** CARs in the `data` store after writing (compaction removes superseded ones). */
  cars: number;
}

function idb(name: string): Promise<IDBDatabase> {
  return new Promise((ok, err) => {
    const r = indexedDB.open(name);
    r.onsuccess = () => ok(r.result);
    r.onerror = () => err(r.error);
  });
}

function done<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((ok, err) => {
    r.onsuccess = () => ok(r.result);
    r.onerror = () => err(r.error);
  });
}

/** A document as the test compares it: byte arrays as `{bytes: [...]}` (they cross to Node as JSON). */
function shown(doc: Doc): Doc {
  return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, v instanceof Uint8Array ? { bytes: Array.from(v) } : v])) as Doc;
}

/** The keys (CAR CIDs) of Fireproof's `data` store. */
async function dataKeys(name: string): Promise<string[]> {
  const db = await idb(`fp.${name}`);
  const keys = await done(db.transaction("data").objectStore("data").getAllKeys());
  db.close();
  return keys.map(String);
}

/** Flips one byte in the middle of a stored CAR, directly in IndexedDB. */
async function flip(name: string, key: string): Promise<void> {
  const db = await idb(`fp.${name}`);
  const store = db.transaction("data", "readwrite").objectStore("data");
  const v = (await done(store.get(key))) as Uint8Array;
  const bad = v.slice();
  bad[bad.length >> 1] ^= 1;
  await done(db.transaction("data", "readwrite").objectStore("data").put(bad, key));
  db.close();
}

/** Deletes the ledger's data key from Fireproof's keybag (a ledger whose key is lost). */
async function dropKey(name: string): Promise<void> {
  const db = await idb("fp-keybag");
  await done(db.transaction("bag", "readwrite").objectStore("bag").delete(`@${name}-data@`));
  db.close();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits out a compaction Fireproof scheduled after the last commit (10 ms later, on a timer). In
 * 0.24.19 a commit made while it runs can lose blocks (a reopened ledger then fails with
 * "Missing linked block"), so the writer, like a careful app, lets it finish first.
 */
async function settle(db: ReturnType<typeof fireproof>): Promise<void> {
  const bs = (db as unknown as { ledger: { crdt: { blockstore: { compacting: boolean } } } }).ledger.crdt.blockstore;
  await sleep(15);
  while (bs.compacting) await sleep(10);
}

/**
 * `commits` commits, one document each: puts, updates of earlier documents, deletes, one document
 * with a file. Fireproof compacts once its car log passes 100 CARs.
 */
async function write(name: string, commits: number): Promise<Written> {
  const db = fireproof(name);
  await db.ready();
  const model = new Map<string, Doc>();
  const deleted = new Set<string>();
  const bytes = new Uint8Array(3000).map((_, i) => (i * 7 + 3) & 255);
  const lastModified = 1700000000000;
  const file = new File([bytes], "pixel.bin", { type: "image/x-test", lastModified });
  await db.put({ _id: "with-file", title: "has a file", _files: { "pixel.bin": file } });
  model.set("with-file", { _id: "with-file", title: "has a file" });
  const odd = { _id: "odd values", float: 0.1, neg: -42, big: 2 ** 40, bin: new Uint8Array([0, 1, 255]), empty: {}, list: [] };
  await db.put(odd);
  model.set(odd._id, odd);
  let n = 2;
  for (let i = 0; n < commits; i++, n++) {
    const id = `doc-${String(i % 60).padStart(3, "0")}`;
    if (i % 11 === 10 && model.has(id)) {
      await db.del(id);
      await settle(db);
      model.delete(id);
      deleted.add(id);
    } else {
      const doc = { _id: id, n: i, tags: ["a", `t${i % 3}`], nested: { when: new Date(1700000000000 + i).toISOString(), ok: i % 2 === 0 }, nil: null };
      await db.put(doc);
      await settle(db);
      model.set(id, doc);
      deleted.delete(id);
    }
  }
  await db.close();
  const live = await read(name);
  return {
    live,
    model: [...model.values()].map(shown),
    deleted: [...deleted],
    file: { id: "with-file", name: "pixel.bin", type: "image/x-test", lastModified, bytes: Array.from(bytes) },
    commits: n,
    cars: (await dataKeys(name)).length,
  };
}

/** Every live document as a fresh Fireproof instance reads it (`_files` left out). */
async function read(name: string): Promise<Doc[]> {
  const db = fireproof(name);
  const all = await db.allDocs<Doc>();
  await db.close();
  return all.rows.map((r) => {
    const { _files, ...rest } = r.value as Doc & { _files?: unknown };
    return shown(rest as Doc);
  });
}

/** Puts one document and returns the CARs its commit added. */
async function putTracked(name: string, doc: Doc): Promise<string[]> {
  const before = new Set(await dataKeys(name));
  const db = fireproof(name);
  await db.put(doc);
  await db.close();
  return (await dataKeys(name)).filter((k) => !before.has(k));
}

(window as unknown as { fpw: unknown }).fpw = { write, read, dropKey, putTracked, flip, dataKeys, ready: true };
