// Bench runner: serves the bundled bench pages on 127.0.0.1, drives them in one headless Chromium
// (one context, so every page shares origin storage; workload k gives each measurement a context of
// its own), prints the table and writes the results (target/bench-results.{md,json}). Exit code:
// 0 = measured (targets may FAIL), 1 = an engine errored or the harness broke, 2 = global timeout.
// Workload f (cold open) seeds ledgers of 1k, 10k and 100k query docs (100k: ferroproof and dexie
// only) with the bucket index built and stored, then times fresh pages (bench/cold.html): import +
// open + first get + first query, median of BENCH_F_ROUNDS pages per size.
// Workloads g, h (queries) run on the bench page via window.benchQuery; i (live query, ferroproof
// and dexie only) on live.html.
// Workload k (storage footprint) writes in three patterns (k1 10 bulks + 1 field index, k2 single
// puts, k3 bulk + 10 updates each; k4 = k1 at 100k, ferroproof and dexie only), each in a fresh
// browser context, and reports navigator.storage.estimate() usage once stable after close.
// Workload s (sync, ferroproof only) runs once, in its own browser contexts against a
// ferroproof-server it spawns (bench/sync.mjs; BENCH_WORKLOADS=s runs only it).
// Env:
//   BENCH_ENGINES=a,b            engines (default: all four)
//   BENCH_WORKLOADS=a,b,…        workloads a a10k b c c1k d e f g h i k s (default: all)
//   BENCH_CAP_S=120              per-step cap (setup steps get 2×)
//   BENCH_BIG_CAP_S=900          per-step cap of the 100k steps (f100k seeding, k4 writes) and of
//                                k3's writes when BENCH_K_UPDATES=single
//   BENCH_TIMEOUT_S=3600         global timeout (partial results are still written)
//   BENCH_G_ROUNDS=3             workload g rounds (median)
//   BENCH_F_ROUNDS=3             cold pages per size in workload f (median)
//   BENCH_F_ROWS=f1k,f10k,f100k  f: only these sizes (fa10k needs f10k)
//   BENCH_K_UPDATES=bulk         k3's 10 updates per doc: bulk (10 rounds of bulk updates of the
//                                10k docs) or single (100,000 awaited single puts; slow)
//   BENCH_K_IDLE_MS=1500         k: idle time after the writes, before close()
//   BENCH_K_ROWS=k1,k2,k3,k4     k: only these footprint rows
//   BENCH_DIST=DIR               the bundled pages to serve (default target/bench-dist)
//   BENCH_RESULTS=PATH           results prefix: writes PATH.md and PATH.json (default
//                                target/bench-results)
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "../scripts/serve.mjs";
import { launch } from "../tests/browser/chromium.mjs";
import { expectedQueryRows, makeDocs } from "./docs.js";
import { median } from "./stats.js";
import { BIG_ENGINES, ENGINES, K_UPDATES, checkTargets, markdown, plain, syncTable, table } from "./report.mjs";
import { runSync, stopSync } from "./sync.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const list = (v, d) => (v ? v.split(",").map((s) => s.trim()).filter(Boolean) : d);
const engines = list(process.env.BENCH_ENGINES, ENGINES);
const workloads = list(process.env.BENCH_WORKLOADS, ["a", "a10k", "b", "c", "c1k", "d", "e", "f", "g", "h", "i", "k", "s"]);
const CAP = Number(process.env.BENCH_CAP_S ?? 120) * 1000;
const BIG_CAP = Number(process.env.BENCH_BIG_CAP_S ?? 900) * 1000;
const GLOBAL = Number(process.env.BENCH_TIMEOUT_S ?? 3600) * 1000;
const DIST = resolve(root, process.env.BENCH_DIST ?? "target/bench-dist");
const RESULTS = resolve(root, process.env.BENCH_RESULTS ?? "target/bench-results");
const started = Date.now();
const run = started.toString(36);
for (const e of engines) if (!ENGINES.includes(e)) throw new Error(`unknown engine ${e} (known: ${ENGINES.join(", ")})`);

const R = {}; // R[row][engine] = { ms, ... } | { status: "timeout" | "error", error }
const notes = []; // extra lines for the Markdown report (row-count checks, live-query details)
const record = (row, engine, r) => ((R[row] ??= {})[engine] = r);
const logs = []; // browser console, tagged by page (and workload + engine)
let current = ""; // " row engine" of the guarded step running now
let failed = false;

class Timeout extends Error {}
function capped(promise, ms, what) {
  promise.catch(() => {}); // it may reject after we give up (page closed)
  let timer;
  return Promise.race([
    promise,
    new Promise((_, rej) => (timer = setTimeout(() => rej(new Timeout(`${what}: over ${ms / 1000} s`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

function dumpConsole(last = 80) {
  console.error(`--- browser console (last ${last} of ${logs.length} lines) ---`);
  for (const l of logs.slice(-last)) console.error(l);
  console.error("--- end of browser console ---");
}

const { server, url } = await serve(DIST);
const browser = await launch();
const context = await browser.newContext();
let page = null;

let finishing = false;
async function finishAll(code) {
  if (finishing) return new Promise(() => {}); // the global timeout got here first
  finishing = true;
  await stopSync();
  const t = table(R);
  const st = syncTable(R);
  if (workloads.some((w) => w !== "s")) console.log(`\n${plain(t)}\n`);
  if (st) console.log(`${plain(st)}\n`);
  const meta = {
    date: new Date().toISOString(),
    userAgent: `Chromium ${browser.version()}`,
    docBytes: Math.round(makeDocs(0, 10_000).reduce((n, d) => n + JSON.stringify(d).length, 0) / 10_000),
    capSeconds: CAP / 1000,
    gRounds: G_ROUNDS,
    fRounds: F_ROUNDS,
    kUpdates: K_UPDATES,
    kIdleMs: K_IDLE_MS,
    engines,
    workloads,
    sync: st,
    notes: [...notes, ...rowCountNotes()],
  };
  const targets = checkTargets(R);
  // Warnings and errors the pages logged (an engine's background failures do not reject a step).
  const problems = logs.filter((l) => /^\[[^\]]*\] (warning|error|pageerror):/.test(l));
  if (problems.length) {
    console.error(`[bench] the pages logged ${problems.length} warnings/errors (all in the results JSON, meta.console); the first 20:`);
    for (const l of problems.slice(0, 20)) console.error(`  ${l.slice(0, 400)}`);
  }
  meta.console = problems.map((l) => l.slice(0, 2000));
  await mkdir(dirname(RESULTS), { recursive: true });
  await writeFile(`${RESULTS}.md`, markdown(t, meta));
  await writeFile(`${RESULTS}.json`, `${JSON.stringify({ meta, results: R, targets, table: t, syncTable: st }, null, 2)}\n`);
  console.log(`wrote ${relative(root, RESULTS)}.md and ${relative(root, RESULTS)}.json (${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
  await browser.close().catch(() => {});
  server.close();
  process.exit(code);
}

const globalTimer = setTimeout(() => {
  console.error(`[bench] global timeout after ${GLOBAL / 1000} s; partial results follow`);
  dumpConsole();
  finishAll(2);
}, GLOBAL);

async function openPage(path, ready, ctx = context) {
  if (page) await page.close().catch(() => {});
  page = await ctx.newPage();
  const tag = path.split("?")[0];
  const who = current; // the workload and engine that opened the page
  page.on("console", (m) => logs.push(`[${tag}${who}] ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`[${tag}${who}] pageerror: ${e.stack ?? e}`));
  await page.goto(`${url}${path}`);
  if (ready) await page.waitForFunction(ready, null, { timeout: 30_000 });
  return page;
}

async function closePage() {
  if (page) await page.close().catch(() => {});
  page = null;
}

/**
 * Runs `fn`, recording a timeout or an error against row/engine (`row` may be a function giving
 * the rows still unrecorded at the time of failure); returns false on failure.
 */
async function guarded(row, engine, fn) {
  current = ` ${typeof row === "function" ? row().join(",") : row} ${engine}`;
  try {
    await fn();
    return true;
  } catch (e) {
    if (finishing) await new Promise(() => {}); // global timeout: finishAll() owns the exit now
    const status = e instanceof Timeout ? "timeout" : "error";
    for (const r of typeof row === "function" ? row() : [row]) record(r, engine, { status, error: String(e.message ?? e) });
    console.error(`[bench] ${typeof row === "function" ? "workload" : row} ${engine}: ${status}: ${e.message ?? e}`);
    if (status === "error") {
      failed = true;
      dumpConsole(30);
    }
    await closePage(); // stops whatever the page was still doing
    return false;
  }
}

const benchReady = () => window.benchReady === true;

async function workload(w, engine) {
  await guarded(w, engine, async () => {
    const p = await openPage("/index.html", benchReady);
    await capped(p.evaluate(([e, w, n]) => window.bench.setup(e, w, n), [engine, w, `${w}-${engine}-${run}`]), 2 * CAP, "setup");
    const ms = await capped(p.evaluate(() => window.bench.timed()), CAP, "workload");
    await capped(p.evaluate(() => window.bench.finish()), CAP, "check + destroy");
    record(w, engine, { ms });
    console.log(`[bench] ${w} ${engine}: ${ms.toFixed(1)} ms`);
  });
}

// Workload f: [row, docs, id of the first get]; the 100k ledger only for BIG_ENGINES (Fireproof and
// PouchDB would take far too long to seed it).
const COLD_SIZES = [["f1k", 1_000, "doc-000732"], ["f10k", 10_000, "doc-007321"], ["f100k", 100_000, "doc-073214"]];
const F_ROUNDS = Number(process.env.BENCH_F_ROUNDS ?? 3);
const bigCap = (n) => (n > 10_000 ? BIG_CAP : 2 * CAP);
const sec = (ms) => `${(ms / 1000).toFixed(1)} s`;
const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;
const size = (b) => (b >= 1e6 ? mb(b) : `${(b / 1e3).toFixed(1)} kB`);

async function coldOpen(engine) {
  const only = process.env.BENCH_F_ROWS?.split(",");
  const sizes = COLD_SIZES.filter(([row, n]) => (n <= 10_000 || BIG_ENGINES.includes(engine)) && (!only || only.includes(row)));
  const name = (n) => `cold${n}-${engine}-${run}`;
  const expected = (n) => expectedQueryRows(n).g1;
  const seeded = [];
  const seeds = {}; // row -> seeding times and what IndexedDB holds
  for (const [row, n] of sizes) {
    const ok = await guarded(row, engine, async () => {
      const p = await openPage("/index.html", benchReady);
      const t0 = Date.now();
      const s = await capped(p.evaluate(([e, db, n]) => window.bench.seed(e, db, n), [engine, name(n), n]), bigCap(n), `seed ${n}`);
      const stores = await capped(p.evaluate(() => window.benchFootprint.stored()), CAP, "reading the stores back");
      await closePage(); // the cold page must not share this page's in-memory state
      // This ledger's stores only (earlier sizes' ledgers share the origin).
      const mine = Object.entries(stores).filter(([k]) => k.includes(name(n))).map(([, v]) => v);
      const held = mine.reduce((a, v) => ({ records: a.records + v.records, bytes: a.bytes + v.bytes, largest: Math.max(a.largest, v.largest) }), { records: 0, bytes: 0, largest: 0 });
      seeds[row] = { ...s, stored: held };
      console.log(`[bench] ${row} ${engine}: seeded ${n} docs in ${sec(Date.now() - t0)} (bulks ${sec(s.loadMs)}, first query ${s.queryMs.toFixed(0)} ms → ${s.rows} rows, close ${s.closeMs.toFixed(0)} ms); IndexedDB holds ${held.records.toLocaleString("en")} records of ${mb(held.bytes)}, the largest ${size(held.largest)}`);
    });
    if (ok) seeded.push(row);
  }
  // Row fa10k (ours): the seeded 10k ledger exported as an archive, served as a static file.
  let archive = null;
  if (engine === "ferroproof" && seeded.includes("f10k")) {
    await guarded("fa10k", engine, async () => {
      const p = await openPage("/index.html", benchReady);
      const b64 = await capped(p.evaluate(([e, db]) => window.bench.exportArchive(e, db), [engine, name(10_000)]), CAP, "exportCar");
      await closePage();
      const bytes = Buffer.from(b64, "base64");
      await mkdir(join(DIST, "archives"), { recursive: true });
      archive = `archives/f10k-${run}.car`;
      await writeFile(join(DIST, archive), bytes);
      console.log(`[bench] fa10k ${engine}: archive of 10k docs (with the bucket index): ${mb(bytes.length)}`);
    });
  }
  const rounds = {}; // row -> results of each cold page
  for (let round = 0; round < F_ROUNDS; round++) {
    if (archive && !R.fa10k?.[engine]) {
      await guarded("fa10k", engine, async () => {
        const [, n, id] = COLD_SIZES[1];
        const p = await openPage(`/cold.html?engine=${engine}&db=archived-${run}-${round}&id=${id}&rows=${expected(n)}&archive=/${archive}`);
        await capped(p.waitForFunction(() => window.result !== undefined, null, { timeout: 0 }), CAP, "open from an archive");
        const r = await p.evaluate(() => window.result);
        await closePage();
        if (!r.ok) throw new Error(r.error);
        (rounds.fa10k ??= []).push(r);
        console.log(`[bench] fa10k ${engine}: ${r.ms.toFixed(1)} ms (import ${r.importMs.toFixed(1)}, open incl. download ${r.openMs.toFixed(1)}, get ${r.getMs.toFixed(1)}, query ${r.queryMs.toFixed(1)} → ${r.rows} rows) [round ${round + 1}/${F_ROUNDS}]`);
      });
    }
    for (const [row, n, id] of sizes) {
      if (!seeded.includes(row) || R[row]?.[engine]) continue; // failed to seed, or a round failed
      await guarded(row, engine, async () => {
        const p = await openPage(`/cold.html?engine=${engine}&db=${name(n)}&id=${id}&rows=${expected(n)}`);
        await capped(p.waitForFunction(() => window.result !== undefined, null, { timeout: 0 }), CAP, "cold open");
        const r = await p.evaluate(() => window.result);
        await closePage();
        if (!r.ok) throw new Error(r.error);
        (rounds[row] ??= []).push(r);
        const of = F_ROUNDS > 1 ? ` [round ${round + 1}/${F_ROUNDS}]` : "";
        console.log(`[bench] ${row} ${engine}: ${r.ms.toFixed(1)} ms (import ${r.importMs.toFixed(1)}, open ${r.openMs.toFixed(1)}, get ${r.getMs.toFixed(1)}, query ${r.queryMs.toFixed(1)} → ${r.rows} rows)${of}${r.info ? ` info ${JSON.stringify(r.info)}` : ""}`);
      });
    }
  }
  for (const [row, rs] of Object.entries(rounds)) {
    if (R[row]?.[engine]) continue; // a later round failed: the error stands
    const mid = rs.map((r) => r.ms).sort((a, b) => a - b);
    const med = rs.find((r) => r.ms === median(mid)) ?? rs[0]; // odd count: the median page itself
    const split = ["importMs", "openMs", "getMs", "queryMs"].map((k) => [k, median(rs.map((r) => r[k]))]);
    const afterCallMs = median(rs.map((r) => r.openMs + r.getMs + r.queryMs));
    record(row, engine, { ms: median(mid), afterCallMs, ...Object.fromEntries(split), rows: med.rows, rounds: rs.map(({ ok, ...r }) => r), seed: seeds[row] });
    const [i, o, g, q] = split.map(([, v]) => v.toFixed(1));
    console.log(`[bench] ${row} ${engine}: median of ${rs.length}: ${median(mid).toFixed(1)} ms (medians: import ${i}, open ${o}, get ${g}, query ${q})`);
  }
  if (!sizes.some(([row]) => row === "f100k")) notes.push(`f100k ${engine}: not run (seeding 100k docs takes far too long; 100k only for ${BIG_ENGINES.join(" and ")})`);
}

// Workloads g and h: [row (null = untimed warm-up, printed only), query, calls] run in this order on
// one freshly loaded 10k ledger per engine. Repeated calls stop early (after at least 3) once
// QUERY_BUDGET_MS has passed, so a slow engine (Fireproof: seconds per 2,000-doc query) fits the cap.
const QUERY_BUDGET_MS = 30_000;
const QUERY_STEPS = {
  g: [["g1", "bucket", 1], ["g2", "bucket", 20]],
  h: [[null, "prefix", 1], ["h1", "prefix", 10], ["h2", "range", 10]],
};

// A first query is one measurement per page, so g runs in G_ROUNDS rounds (each a fresh page and a
// fresh ledger) and each g row reports the median over the rounds; h runs once.
const G_ROUNDS = Number(process.env.BENCH_G_ROUNDS ?? 3);

async function queryWorkload(w, engine) {
  const rows = QUERY_STEPS[w].map(([row]) => row).filter(Boolean);
  const rounds = w === "g" ? G_ROUNDS : 1;
  const got = {}; // row -> results of each round
  await guarded(() => rows.filter((r) => !R[r]?.[engine]), engine, async () => {
    for (let round = 0; round < rounds; round++) {
      const p = await openPage("/index.html", benchReady);
      await capped(p.evaluate(([e, n]) => window.benchQuery.setup(e, n), [engine, `${w}-${engine}-${run}-${round}`]), 2 * CAP, "setup");
      for (const [row, q, calls] of QUERY_STEPS[w]) {
        const args = [q, calls, QUERY_BUDGET_MS];
        const r = await capped(p.evaluate(([q, n, b]) => window.benchQuery.time(q, n, b), args), CAP, `${q} query ×${calls}`);
        if (row) (got[row] ??= []).push(r);
        const spread = calls > 1 ? ` median (min ${Math.min(...r.all).toFixed(1)}, max ${Math.max(...r.all).toFixed(1)})` : "";
        const of = rounds > 1 ? ` [round ${round + 1}/${rounds}]` : "";
        console.log(`[bench] ${row ?? `${w} warm-up`} ${engine}: ${q} query ×${r.all.length}: ${r.ms.toFixed(1)} ms${spread}, ${r.rows} rows${of}`);
        if (r.all.length < calls) notes.push(`${row} ${engine}: median of ${r.all.length} calls, not ${calls} (${QUERY_BUDGET_MS / 1000} s budget)`);
      }
      await capped(p.evaluate(() => window.benchQuery.finish()), CAP, "destroy");
      await closePage();
    }
    for (const [row, rs] of Object.entries(got)) {
      const ms = median(rs.map((r) => r.ms));
      record(row, engine, { ms, all: rs.flatMap((r) => r.all), rows: rs[rs.length - 1].rows, rounds: rs.map((r) => r.ms) });
    }
  });
}

const LIVE_ENGINES = ["ferroproof", "dexie"]; // live.jsx adapters; other engines show "—"
const LIVE_PUTS = 30;

async function liveWorkload(engine) {
  if (!LIVE_ENGINES.includes(engine)) return;
  await guarded(() => ["i1", "i2", "i3"], engine, async () => {
    const p = await openPage("/live.html", () => window.liveReady === true);
    const shown = await capped(p.evaluate(([e, n]) => window.live.setup(e, n), [engine, `i-${engine}-${run}`]), 2 * CAP, "setup");
    const r = await capped(p.evaluate((n) => window.live.run(n), LIVE_PUTS), CAP, `${LIVE_PUTS} live puts`);
    await capped(p.evaluate(() => window.live.finish()), CAP, "unmount + destroy");
    await closePage();
    if (r.rows !== shown + LIVE_PUTS) throw new Error(`list shows ${r.rows} rows, expected ${shown + LIVE_PUTS}`);
    record("i1", engine, { ms: r.ms, all: r.all, early: r.early, putMs: r.putMs });
    record("i2", engine, { ms: r.p95 });
    record("i3", engine, { ms: r.fromCallMs });
    const line = `i ${engine}: put → row in DOM: median ${r.ms.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms, max ${Math.max(...r.all).toFixed(1)} ms; put itself: median ${r.putMs.toFixed(1)} ms; put call → row in DOM: median ${r.fromCallMs.toFixed(1)} ms; ${r.early} of ${LIVE_PUTS} rows were in the DOM before put resolved; list ${shown} → ${r.rows} rows`;
    console.log(`[bench] ${line}`);
    notes.push(line);
  });
}

// Workload k: [row, pattern, docs] (bench/footprint.js); each measurement in a fresh browser
// context (a new profile: empty storage), k4 only for BIG_ENGINES.
const FOOTPRINT = [["k1", "bulk", 10_000], ["k2", "single", 10_000], ["k3", "updates", 10_000], ["k4", "bulk", 100_000]];
const K_IDLE_MS = Number(process.env.BENCH_K_IDLE_MS ?? 1500);
const K_ROWS = list(process.env.BENCH_K_ROWS, FOOTPRINT.map(([row]) => row));
const K_SETTLE_MS = 2000; // after close, before the first usage read
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/**
 * Reads the origin's usage every 500 ms until three reads in a row agree (Chromium's estimate lags
 * behind the writes and drops as storage compacts), at most 20 reads; returns every read.
 */
async function stableUsage(p) {
  const reads = [];
  for (let k = 0; k < 20; k++) {
    if (k) await sleep(500);
    reads.push(await p.evaluate(() => window.benchFootprint.usage()));
    const last = reads.slice(-3).map((r) => r.usage);
    if (last.length === 3 && last.every((u) => u === last[0])) break;
  }
  return reads;
}

async function footprint(engine) {
  for (const [row, pattern, n] of FOOTPRINT) {
    if (!K_ROWS.includes(row)) continue;
    if (n > 10_000 && !BIG_ENGINES.includes(engine)) {
      notes.push(`${row} ${engine}: not run (writing 100k docs takes far too long; 100k only for ${BIG_ENGINES.join(" and ")})`);
      continue;
    }
    const ctx = await browser.newContext();
    await guarded(row, engine, async () => {
      const p = await openPage("/index.html", benchReady, ctx);
      const before = await p.evaluate(() => window.benchFootprint.usage());
      // Fireproof and PouchDB get the normal cap: "—" (timeout) rather than a quarter hour each.
      const slow = n > 10_000 || (pattern === "updates" && K_UPDATES === "single");
      const cap = slow && BIG_ENGINES.includes(engine) ? BIG_CAP : CAP;
      const args = [engine, `k-${engine}-${run}`, pattern, n, K_UPDATES];
      const w = await capped(p.evaluate((a) => window.benchFootprint.write(...a), args), cap, `${pattern} writes of ${n}`);
      const { closeMs } = await capped(p.evaluate((ms) => window.benchFootprint.settle(ms), K_IDLE_MS), CAP, "idle + close");
      await sleep(K_SETTLE_MS);
      const reads = await stableUsage(p);
      const stores = await capped(p.evaluate(() => window.benchFootprint.stored()), CAP, "reading the stores back");
      await closePage();
      const stored = Object.values(stores).reduce((a, s) => ({ records: a.records + s.records, bytes: a.bytes + s.bytes }), { records: 0, bytes: 0 });
      const after = reads[reads.length - 1];
      const bytes = after.usage - before.usage;
      const max = Math.max(...reads.map((r) => r.usage)) - before.usage;
      record(row, engine, { bytes, maxBytes: max, jsonBytes: w.jsonBytes, perJson: bytes / w.jsonBytes, writeMs: w.writeMs, queryMs: w.queryMs, closeMs, before, after, reads: reads.map((r) => r.usage), stored, stores });
      const line = `${row} ${engine}: ${mb(bytes)} = ${(bytes / w.jsonBytes).toFixed(2)}× the docs' JSON (${mb(w.jsonBytes)}); writes ${sec(w.writeMs)}${w.queryMs !== undefined ? ` (query ${w.queryMs.toFixed(0)} ms)` : ""}, close ${closeMs.toFixed(0)} ms; usage reads ${reads.map((r) => mb(r.usage - before.usage)).join(", ")}; IndexedDB holds ${stored.records.toLocaleString("en")} records of ${mb(stored.bytes)}, the largest ${size(Math.max(...Object.values(stores).map((v) => v.largest)))}`;
      console.log(`[bench] ${line}`);
      notes.push(line);
    });
    await ctx.close().catch(() => {});
    const r = R[row]?.[engine];
    if (r?.status === "timeout" && !BIG_ENGINES.includes(engine)) {
      delete R[row][engine]; // shown as "—", with the reason in the notes
      notes.push(`${row} ${engine}: — (did not finish within the ${CAP / 1000} s cap: ${r.error})`);
    }
  }
}

/** Checks every engine's g/h row counts against the generated data; warnings also go to stderr. */
function rowCountNotes() {
  const expected = expectedQueryRows(10_000);
  const out = [];
  for (const row of ["g1", "g2", "h1", "h2"]) {
    const got = Object.entries(R[row] ?? {}).filter(([, r]) => typeof r.rows === "number");
    if (got.length === 0) continue;
    const fp = R[row].ferroproof?.rows;
    const dx = R[row].dexie?.rows;
    if (fp !== undefined && dx !== undefined && fp !== dx) out.push(`WARNING: ${row}: ferroproof returned ${fp} rows, dexie ${dx}`);
    const bad = got.filter(([, r]) => r.rows !== expected[row]);
    for (const [e, r] of bad) out.push(`WARNING: ${row}: ${e} returned ${r.rows} rows, the data has ${expected[row]}`);
    if (bad.length === 0) out.push(`${row}: ${got.map(([e]) => e).join(", ")} all returned ${expected[row]} rows, as the data has`);
  }
  for (const l of out) (l.startsWith("WARNING") ? console.error : console.log)(`[bench] ${l}`);
  return out;
}

try {
  for (const w of workloads) {
    if (w === "s") {
      if (engines.includes("ferroproof")) await runSync({ browser, base: url, run, CAP, guarded, capped, record, notes, logs });
      continue;
    }
    for (const e of engines) {
      const t0 = Date.now();
      if (w === "f") await coldOpen(e);
      else if (w in QUERY_STEPS) await queryWorkload(w, e);
      else if (w === "i") await liveWorkload(e);
      else if (w === "k") await footprint(e);
      else await workload(w, e);
      console.log(`[bench] workload ${w} ${e}: ${sec(Date.now() - t0)} in all`);
    }
  }
} catch (e) {
  console.error(`[bench] harness failure: ${e.stack ?? e}`);
  dumpConsole();
  clearTimeout(globalTimer);
  await finishAll(1);
}
clearTimeout(globalTimer);
if (failed) console.error("[bench] some engine workloads errored (see above); exiting 1");
await finishAll(failed ? 1 : 0);
