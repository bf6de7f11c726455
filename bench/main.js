// Bench page: exposes window.bench, driven step by step by bench/run.mjs so the runner can time
// out a slow engine. setup() (untimed) opens a fresh database and loads data, timed() runs the
// workload and returns milliseconds, finish() checks the result and destroys the database.
// Workloads g and h live in query.js (window.benchQuery), k in footprint.js (window.benchFootprint),
// on this same page.
import { loadEngine } from "./engines.js";
import { docId, expectedQueryRows, makeDocs, makeQueryDocs, rng } from "./docs.js";
import "./footprint.js"; // workload k: window.benchFootprint
import "./query.js"; // workloads g and h: window.benchQuery

const N = 1000;
const LEDGER = 10_000;
const BATCH = 1000;
/** Workload f's first query (the one bench/cold.js runs): workload g's bucket = 42. */
const COLD_QUERY = ["bucket", 42];

async function load(db, count) {
  for (let i = 0; i < count; i += BATCH) await db.bulk(makeDocs(i, Math.min(BATCH, count - i)));
}

// Each workload: prepare(db) → state (untimed), run(db, state) (timed), expect = doc count after.
const WORKLOADS = {
  a: { prepare: () => makeDocs(0, N), run: async (db, docs) => { for (const d of docs) await db.put(d); }, expect: N },
  // a at 10k: the same 1,000 awaited puts (new ids) into a ledger that already holds 10,000 docs.
  a10k: {
    prepare: async (db) => {
      await load(db, LEDGER);
      return makeDocs(LEDGER, N);
    },
    run: async (db, docs) => { for (const d of docs) await db.put(d); },
    expect: LEDGER + N,
  },
  b: { prepare: () => makeDocs(0, N), run: (db, docs) => Promise.all(docs.map((d) => db.put(d))), expect: N },
  c: {
    prepare: () => makeDocs(0, LEDGER),
    run: async (db, docs) => { for (let i = 0; i < docs.length; i += BATCH) await db.bulk(docs.slice(i, i + BATCH)); },
    expect: LEDGER,
  },
  // c at 1k: one bulk of 1,000 into an empty ledger.
  c1k: { prepare: () => makeDocs(0, BATCH), run: (db, docs) => db.bulk(docs), expect: BATCH },
  d: {
    prepare: async (db) => {
      await load(db, LEDGER);
      const r = rng(42);
      return Array.from({ length: N }, () => docId(Math.floor(r() * LEDGER)));
    },
    run: async (db, ids) => {
      for (const id of ids) if ((await db.get(id))._id !== id) throw new Error(`get(${id}) returned another doc`);
    },
    expect: LEDGER,
  },
  e: {
    prepare: (db) => load(db, LEDGER),
    run: async (db) => { const n = await db.all(); if (n !== LEDGER) throw new Error(`allDocs gave ${n} rows`); },
    expect: null, // checked inside run
  },
};

let cur = null; // { db, w, state }

window.bench = {
  async setup(engine, workload, name) {
    const w = WORKLOADS[workload];
    const db = await (await loadEngine(engine)).open(name);
    cur = { db, w, state: await w.prepare(db) };
  },
  async timed() {
    const t0 = performance.now();
    await cur.w.run(cur.db, cur.state);
    return performance.now() - t0;
  },
  async finish() {
    const { db, w } = cur;
    cur = null;
    if (w.expect !== null) {
      const n = await db.all();
      if (n !== w.expect) throw new Error(`expected ${w.expect} docs after the workload, found ${n}`);
    }
    await db.destroy();
  },
  /** Row fa10k's archive: `exportCar()` of a seeded ledger, as base64 (for the runner to serve). */
  async exportArchive(engine, name) {
    const db = await (await loadEngine(engine)).open(name, { query: true });
    const bytes = await db.exportCar();
    await db.close();
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  },
  /**
   * Workload f's setup: writes a ledger of `count` query docs (workload g's, in bulks of 1,000),
   * runs the cold page's first query once so its index is built and stored, checks both, and
   * closes the database (the page is then closed). Returns the seeding times for the log.
   */
  async seed(engine, name, count) {
    const db = await (await loadEngine(engine)).open(name, { query: true });
    const t0 = performance.now();
    for (let i = 0; i < count; i += BATCH) await db.bulk(makeQueryDocs(i, Math.min(BATCH, count - i)));
    const t1 = performance.now();
    const rows = await db.byField(...COLD_QUERY);
    const t2 = performance.now();
    const expected = expectedQueryRows(count).g1;
    if (rows !== expected) throw new Error(`seeding ${name}: the ${COLD_QUERY[0]} query returned ${rows} rows, expected ${expected}`);
    const all = await db.all();
    if (all !== count) throw new Error(`seeded ledger ${name} has ${all} docs, expected ${count}`);
    const t3 = performance.now();
    await db.close();
    return { loadMs: t1 - t0, queryMs: t2 - t1, closeMs: performance.now() - t3, rows };
  },
};
window.benchReady = true;
