// Bench runner: serves target/bench-dist on 127.0.0.1, drives the bench pages in one headless
// Chromium (one context, so every page shares origin storage), prints the table and writes
// target/bench-results.{md,json}. Exit code: 0 = measured (targets may FAIL), 1 = an engine
// errored or the harness broke, 2 = global timeout.
// Env: BENCH_ENGINES=a,b  BENCH_WORKLOADS=a,b,c,d,e,f  BENCH_CAP_S=120  BENCH_TIMEOUT_S=2400
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "../scripts/serve.mjs";
import { launch } from "../tests/browser/chromium.mjs";
import { makeDocs } from "./docs.js";
import { ENGINES, TARGETS, markdown, plain, table } from "./report.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const list = (v, d) => (v ? v.split(",").map((s) => s.trim()).filter(Boolean) : d);
const engines = list(process.env.BENCH_ENGINES, ENGINES);
const workloads = list(process.env.BENCH_WORKLOADS, ["a", "b", "c", "d", "e", "f"]);
const CAP = Number(process.env.BENCH_CAP_S ?? 120) * 1000;
const GLOBAL = Number(process.env.BENCH_TIMEOUT_S ?? 2400) * 1000;
const run = Date.now().toString(36);
for (const e of engines) if (!ENGINES.includes(e)) throw new Error(`unknown engine ${e} (known: ${ENGINES.join(", ")})`);

const R = {}; // R[row][engine] = { ms, ... } | { status: "timeout" | "error", error }
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
  const meta = {
    date: new Date().toISOString(),
    userAgent: `Chromium ${browser.version()}`,
    docBytes: Math.round(makeDocs(0, 10_000).reduce((n, d) => n + JSON.stringify(d).length, 0) / 10_000),
    capSeconds: CAP / 1000,
    engines,
    workloads,
  };
  const t = table(R);
  console.log(`\n${plain(t)}\n`);
  const targets = TARGETS.map(([row, target, limit, f]) => {
    const value = f(R);
    return { row, target, limit, value, verdict: value === null ? "n/a" : value <= limit ? "PASS" : "FAIL" };
  });
  await mkdir(join(root, "target"), { recursive: true });
  await writeFile(join(root, "target", "bench-results.md"), markdown(t, meta));
  await writeFile(join(root, "target", "bench-results.json"), `${JSON.stringify({ meta, results: R, targets, table: t }, null, 2)}\n`);
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

/** Runs `fn`, recording a timeout or an error against row/engine; returns false on failure. */
async function guarded(row, engine, fn) {
  try {
    await fn();
    return true;
  } catch (e) {
    if (finishing) await new Promise(() => {}); // global timeout: finishAll() owns the exit now
    const status = e instanceof Timeout ? "timeout" : "error";
    record(row, engine, { status, error: String(e.message ?? e) });
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

try {
  for (const w of workloads) for (const e of engines) (w === "f" ? await coldOpen(e) : await workload(w, e));
} catch (e) {
  console.error(`[bench] harness failure: ${e.stack ?? e}`);
  dumpConsole();
  clearTimeout(globalTimer);
  await finishAll(1);
}
clearTimeout(globalTimer);
if (failed) console.error("[bench] some engine workloads errored (see above); exiting 1");
await finishAll(failed ? 1 : 0);
