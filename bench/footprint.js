// Workload k (storage footprint), part of the bench page: window.benchFootprint, driven step by
// step by bench/run.mjs, which opens this page in a fresh browser context per measurement
// (navigator.storage.estimate() is per origin) and reads the usage before the writes and after
// settle() until it is stable. The documents are workload g's query docs (~225 B of JSON each).
// Patterns (count = 10,000 or 100,000):
//   bulk     count docs in bulks of 1,000, then one field query (bucket = 42), so a field index
//            exists (Dexie: the one indexed field `bucket`; PouchDB: one view, built by the query)
//   single   count awaited single puts
//   updates  count docs in bulks of 1,000, then 10 updates of every doc: as 10 × count awaited
//            single puts (updates = "single") or as 10 rounds of bulk updates of all the docs in
//            bulks of 1,000 (updates = "bulk")
import { loadEngine } from "./engines.js";
import { docId, expectedQueryRows, makeQueryDoc, makeQueryDocs } from "./docs.js";

const BATCH = 1000;
export const UPDATE_ROUNDS = 10;
const INDEX = ["bucket", 42];

/** Update `round` (1…10) of doc i: the same doc with an `edit` counter. */
const edited = (i, round) => ({ ...makeQueryDoc(i), edit: round });
const jsonBytes = (docs) => docs.reduce((n, d) => n + JSON.stringify(d).length, 0);
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

let db = null;

/** Bytes of a stored key or value: binary by length, strings and numbers as JSON, objects summed. */
function sizeOf(x) {
  if (ArrayBuffer.isView(x) || x instanceof ArrayBuffer) return x.byteLength;
  if (x instanceof Blob) return x.size;
  if (Array.isArray(x)) return x.reduce((n, y) => n + sizeOf(y), 2 + Math.max(0, x.length - 1));
  if (x && typeof x === "object") return Object.entries(x).reduce((n, [k, y]) => n + k.length + 4 + sizeOf(y), 2);
  return JSON.stringify(x ?? null).length;
}

async function bulkLoad(count) {
  for (let i = 0; i < count; i += BATCH) await db.bulk(makeQueryDocs(i, Math.min(BATCH, count - i)));
}

window.benchFootprint = {
  /** This origin's usage (bytes) and Chromium's per-store breakdown. */
  async usage() {
    const e = await navigator.storage.estimate();
    return { usage: e.usage, details: e.usageDetails ?? null, quota: e.quota };
  },
  /**
   * What the origin's IndexedDB databases hold, read back record by record: per database and
   * object store, records, bytes and the largest record's bytes (binary values by length, other
   * values as JSON text), so the
   * report can tell the engine's own data from the storage layer's overhead in `usage`.
   */
  async stored() {
    const out = {};
    for (const { name } of await indexedDB.databases()) {
      const idb = await new Promise((ok, no) => {
        const r = indexedDB.open(name);
        r.onsuccess = () => ok(r.result);
        r.onerror = () => no(r.error);
      });
      for (const store of idb.objectStoreNames) {
        out[`${name}/${store}`] = await new Promise((ok, no) => {
          const r = idb.transaction(store).objectStore(store).openCursor();
          let records = 0;
          let bytes = 0;
          let largest = 0;
          r.onerror = () => no(r.error);
          r.onsuccess = () => {
            const cur = r.result;
            if (!cur) return ok({ records, bytes, largest });
            const b = sizeOf(cur.key) + sizeOf(cur.value);
            records++;
            bytes += b;
            largest = Math.max(largest, b);
            cur.continue();
          };
        });
      }
      idb.close();
    }
    return out;
  },
  /** Opens `name`, writes `count` docs in `pattern` and checks them; returns times and sizes. */
  async write(engine, name, pattern, count, updates = "bulk") {
    db = await (await loadEngine(engine)).open(name, pattern === "bulk" ? { index: INDEX[0] } : {});
    const t0 = performance.now();
    let live = null; // the docs as stored at the end (for their JSON size)
    let extra = {};
    if (pattern === "bulk") {
      await bulkLoad(count);
      const q0 = performance.now();
      const rows = await db.byField(...INDEX);
      extra = { queryMs: performance.now() - q0 };
      const expected = expectedQueryRows(count).g1;
      if (rows !== expected) throw new Error(`${INDEX[0]} query returned ${rows} rows, expected ${expected}`);
    } else if (pattern === "single") {
      for (let i = 0; i < count; i++) await db.put(makeQueryDoc(i));
    } else if (pattern === "updates") {
      await bulkLoad(count);
      for (let round = 1; round <= UPDATE_ROUNDS; round++) {
        if (updates === "single") {
          for (let i = 0; i < count; i++) await db.update(edited(i, round));
        } else {
          for (let i = 0; i < count; i += BATCH) {
            await db.bulkUpdate(Array.from({ length: Math.min(BATCH, count - i) }, (_, k) => edited(i + k, round)));
          }
        }
      }
      live = Array.from({ length: count }, (_, i) => edited(i, UPDATE_ROUNDS));
      for (const i of [0, count >> 1, count - 1]) {
        const d = await db.get(docId(i));
        if (d.edit !== UPDATE_ROUNDS) throw new Error(`${docId(i)} has edit ${d.edit} after ${UPDATE_ROUNDS} updates`);
      }
    } else {
      throw new Error(`unknown footprint pattern ${pattern}`);
    }
    const writeMs = performance.now() - t0;
    const n = await db.all();
    if (n !== count) throw new Error(`${n} docs after the writes, expected ${count}`);
    return { writeMs, ...extra, jsonBytes: jsonBytes(live ?? makeQueryDocs(0, count)) };
  },
  /** Leaves the page idle for `idleMs` (background work may run), then closes the database. */
  async settle(idleMs) {
    await sleep(idleMs);
    const t0 = performance.now();
    await db.close();
    db = null;
    return { closeMs: performance.now() - t0 };
  },
};
