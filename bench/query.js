// Query workloads g and h (part of the bench page): exposes window.benchQuery, driven step by step
// by bench/run.mjs. setup() (untimed) opens a fresh database with its query indexes declared (Dexie)
// or defined (PouchDB) and loads the 10k query ledger; time(q, n, budget) runs query q n times (or
// fewer, but at least 3, once budget ms have passed) and returns the median and every time;
// finish() destroys the database.
import { loadEngine } from "./engines.js";
import { makeQueryDocs } from "./docs.js";
import { median } from "./stats.js";

export const QUERY_LEDGER = 10_000;
const BATCH = 1000;
const SETTLE_MS = 1000;

/** The queries: g = bucket 42 (1% of docs), h = [year, month] prefix [2022] and range 2021-06…2022-03. */
const QUERIES = {
  bucket: (db) => db.byField("bucket", 42),
  prefix: (db) => db.ymPrefix(2022),
  range: (db) => db.ymRange([2021, 6], [2022, 3]),
};

let db = null;

window.benchQuery = {
  async setup(engine, name) {
    db = await (await loadEngine(engine)).open(name, { query: true });
    for (let i = 0; i < QUERY_LEDGER; i += BATCH) await db.bulk(makeQueryDocs(i, BATCH));
    // Let the storage work the load started (and earlier workloads' deletions) settle before
    // the timed queries, for every engine alike.
    await new Promise((ok) => setTimeout(ok, SETTLE_MS));
  },
  /** Runs query `q` up to `times` times in a row; every run must return the same number of rows. */
  async time(q, times, budgetMs = Infinity) {
    const all = [];
    let rows = null;
    const start = performance.now();
    for (let k = 0; k < times && !(k >= 3 && performance.now() - start > budgetMs); k++) {
      const t0 = performance.now();
      const n = await QUERIES[q](db);
      all.push(performance.now() - t0);
      if (rows !== null && n !== rows) throw new Error(`${q}: ${rows} rows, then ${n}`);
      rows = n;
    }
    return { ms: median(all), all, rows };
  },
  async finish() {
    const d = db;
    db = null;
    await d.destroy();
  },
};
