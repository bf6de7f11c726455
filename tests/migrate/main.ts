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

async function readAllStores(db: IDBDatabase): Promise<Map<string, [IDBValidKey[], unknown[]]>> {
  const out = new Map<string, [IDBValidKey[], unknown[]]>();
  for (const store of Array.from(db.objectStoreNames)) {
    const os = db.transaction(store).objectStore(store);
    out.set(store, [await done(os.getAllKeys()), await done(os.getAll())]);
  }
  return out;
}

/**
 * Copies ledger `from` to a new ledger `to` under the same key, as a second replica would start:
 * writing to both afterwards makes two branches of one clock.
 */
async function copyLedger(from: string, to: string): Promise<void> {
  const src = await idb(`fp.${from}`);
  const all = await readAllStores(src);
  src.close();
  const dst = await new Promise<IDBDatabase>((ok, err) => {
    const r = indexedDB.open(`fp.${to}`, 1);
    r.onupgradeneeded = () => all.forEach((_, store) => r.result.createObjectStore(store));
    r.onsuccess = () => ok(r.result);
    r.onerror = () => err(r.error);
  });
  for (const [store, [keys, values]] of all) {
    const os = dst.transaction(store, "readwrite").objectStore(store);
    await Promise.all(keys.map((k, i) => done(os.put(values[i], k))));
  }
  dst.close();
  const bag = await idb("fp-keybag");
  const item = (await done(bag.transaction("bag").objectStore("bag").get(`@${from}-data@`))) as { id: string; item: { name: string } };
  const id = `@${to}-data@`;
  await done(bag.transaction("bag", "readwrite").objectStore("bag").put({ ...item, id, item: { ...item.item, name: id } }, id));
  bag.close();
}

/**
 * Adds `other`'s CARs and meta entries to `target`: a meta with two heads on two branches of one
 * clock (the shape `meta` stores for concurrent heads). Fireproof 0.24.19 itself does not finish
 * opening such a ledger (tried: no answer after 5 minutes), so the test states pail's merge order.
 */
async function joinLedgers(target: string, other: string): Promise<void> {
  const src = await idb(`fp.${other}`);
  const theirs = await readAllStores(src);
  src.close();
  const db = await idb(`fp.${target}`);
  const [keys, values] = theirs.get("data") ?? [[], []];
  const data = db.transaction("data", "readwrite").objectStore("data");
  await Promise.all(keys.map((k, i) => done(data.put(values[i], k))));
  const meta = db.transaction("meta", "readwrite").objectStore("meta");
  const parse = (v: unknown) => JSON.parse(new TextDecoder().decode(v as Uint8Array)) as unknown[];
  const theirMeta = theirs.get("meta")?.[1][0];
  const joined = [...parse(await done(meta.get("main"))), ...parse(theirMeta)];
  await done(db.transaction("meta", "readwrite").objectStore("meta").put(new TextEncoder().encode(JSON.stringify(joined)), "main"));
  db.close();
}

/** Puts documents into ledger `name`, one commit each. */
async function putAll(name: string, docs: Doc[]): Promise<void> {
  const db = fireproof(name);
  for (const d of docs) await db.put(d);
  await db.close();
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
 * `commits` commits: a document with a file, one with unusual values, a `bulk` of 40, then one document each (puts,
 * updates of earlier documents, deletes). Fireproof compacts once its car log passes 100 CARs.
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
  const bulk = Array.from({ length: 40 }, (_, i) => ({ _id: `bulk-${String(i).padStart(2, "0")}`, i, even: i % 2 === 0 }));
  await db.bulk(bulk);
  for (const d of bulk) model.set(d._id, d);
  let n = 3;
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

(window as unknown as { fpw: unknown }).fpw = { write, read, dropKey, copyLedger, joinLedgers, putAll, putTracked, flip, dataKeys, ready: true };
