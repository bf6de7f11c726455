// Cold-open page (workload f): cold.html?engine=X&db=NAME&id=ID. Times from this module's start,
// before the engine is imported or initialised, to the first successful get; the result (or the
// error) lands in window.result for bench/run.mjs.
const t0 = performance.now();
const q = new URLSearchParams(location.search);

async function main() {
  const { loadEngine } = await import("./engines.js");
  const engine = await loadEngine(q.get("engine"));
  const t1 = performance.now();
  const db = await engine.open(q.get("db"));
  const t2 = performance.now();
  const doc = await db.get(q.get("id"));
  const t3 = performance.now();
  if (doc?._id !== q.get("id")) throw new Error(`first get returned ${JSON.stringify(doc)}`);
  const info = db.info ? await db.info() : undefined;
  await db.close();
  return { ok: true, ms: t3 - t0, importMs: t1 - t0, openMs: t2 - t1, getMs: t3 - t2, sinceNavigationMs: t3, info };
}

main().then(
  (r) => (window.result = r),
  (e) => (window.result = { ok: false, error: String(e?.stack ?? e) }),
);
