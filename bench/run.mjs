// Bench runner: serves target/bench-dist on 127.0.0.1, drives the bench pages in one headless
// Chromium (one context, so every page shares origin storage), prints the table and writes
// target/bench-results.{md,json}. Exit code: 0 = measured (targets may FAIL), 1 = an engine
// errored or the harness broke, 2 = global timeout.
// Workloads g, h (queries) run on the bench page via window.benchQuery; i (live query, ferroproof
// and dexie only) on live.html.
// Workload s (sync, ferroproof only) runs once, in its own browser contexts against a
// ferroproof-server it spawns (bench/sync.mjs; BENCH_WORKLOADS=s runs only it).
// Env: BENCH_ENGINES=a,b  BENCH_WORKLOADS=a,b,c,d,e,f,g,h,i,s  BENCH_CAP_S=120  BENCH_TIMEOUT_S=2400
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "../scripts/serve.mjs";
import { launch } from "../tests/browser/chromium.mjs";
import { expectedQueryRows, makeDocs } from "./docs.js";
import { median } from "./stats.js";
import { ENGINES, checkTargets, markdown, plain, syncTable, table } from "./report.mjs";
import { runSync, stopSync } from "./sync.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const list = (v, d) => (v ? v.split(",").map((s) => s.trim()).filter(Boolean) : d);
const engines = list(process.env.BENCH_ENGINES, ENGINES);
const workloads = list(process.env.BENCH_WORKLOADS, ["a", "b", "c", "d", "e", "f", "g", "h", "i", "s"]);
const CAP = Number(process.env.BENCH_CAP_S ?? 120) * 1000;
const GLOBAL = Number(process.env.BENCH_TIMEOUT_S ?? 2400) * 1000;
const run = Date.now().toString(36);
for (const e of engines) if (!ENGINES.includes(e)) throw new Error(`unknown engine ${e} (known: ${ENGINES.join(", ")})`);

const R = {}; // R[row][engine] = { ms, ... } | { status: "timeout" | "error", error }
const notes = []; // extra lines for the Markdown report (row-count checks, live-query details)
const record = (row, engine, r) => ((R[row] ??= {})[engine] = r);
const logs = []; // browser console, tagged by page
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

const { server, url } = await serve(join(root, "target", "bench-dist"));
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
    engines,
    workloads,
    sync: st,
    notes: [...notes, ...rowCountNotes()],
  };
  const targets = checkTargets(R);
  await mkdir(join(root, "target"), { recursive: true });
  await writeFile(join(root, "target", "bench-results.md"), markdown(t, meta));
  await writeFile(join(root, "target", "bench-results.json"), `${JSON.stringify({ meta, results: R, targets, table: t, syncTable: st }, null, 2)}\n`);
  console.log("wrote target/bench-results.md and target/bench-results.json");
  await browser.close().catch(() => {});
  server.close();
  process.exit(code);
}

const globalTimer = setTimeout(() => {
  console.error(`[bench] global timeout after ${GLOBAL / 1000} s; partial results follow`);
  dumpConsole();
  finishAll(2);
}, GLOBAL);

async function openPage(path, ready) {
  if (page) await page.close().catch(() => {});
  page = await context.newPage();
  const tag = path.split("?")[0];
  page.on("console", (m) => logs.push(`[${tag}] ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`[${tag}] pageerror: ${e.stack ?? e}`));
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
  try {
    await fn();
    return true;
  } catch (e) {
    if (finishing) await new Promise(() => {}); // global timeout: finishAll() owns the exit now
    const status = e instanceof Timeout ? "timeout" : "error";
    for (const r of typeof row === "function" ? row() : [row]) record(r, engine, { status, error: String(e.message ?? e) });
    console.error(`[bench] ${row} ${engine}: ${status}: ${e.message ?? e}`);
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

async function coldOpen(engine) {
  const sizes = [["f10k", 10_000, "doc-007321"], ["f1k", 1_000, "doc-000732"]];
  const name = (n) => `cold${n}-${engine}-${run}`;
  const seeded = await guarded("f10k", engine, async () => {
    const p = await openPage("/index.html", benchReady);
    for (const [, n] of sizes) await capped(p.evaluate(([e, db, n]) => window.bench.seed(e, db, n), [engine, name(n), n]), 2 * CAP, `seed ${n}`);
    await closePage(); // the cold page must not share this page's in-memory state
  });
  if (!seeded) return record("f1k", engine, { ...R.f10k[engine] });
  for (const [row, n, id] of sizes) {
    await guarded(row, engine, async () => {
      const p = await openPage(`/cold.html?engine=${engine}&db=${name(n)}&id=${id}`);
      await capped(p.waitForFunction(() => window.result !== undefined, null, { timeout: 0 }), CAP, "cold open");
      const r = await p.evaluate(() => window.result);
      await closePage();
      if (!r.ok) throw new Error(r.error);
      const { ok, ...rest } = r;
      record(row, engine, rest);
      console.log(`[bench] ${row} ${engine}: ${r.ms.toFixed(1)} ms (import ${r.importMs.toFixed(1)}, open ${r.openMs.toFixed(1)}, get ${r.getMs.toFixed(1)})${r.info ? ` info ${JSON.stringify(r.info)}` : ""}`);
    });
  }
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
      if (w === "f") await coldOpen(e);
      else if (w in QUERY_STEPS) await queryWorkload(w, e);
      else if (w === "i") await liveWorkload(e);
      else await workload(w, e);
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
