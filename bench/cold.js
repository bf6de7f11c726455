// Cold-open page (workload f): cold.html?engine=X&db=NAME&id=ID&rows=R[&archive=URL] (with an
// archive, a new ledger starts from that file: row fa10k). Times from this module's
// start, before the engine is imported or initialised, through open, the first get of doc ID and
// the first query (bucket = 42, the g workloads' field query, on an index the seeding page already
// built and stored), which must return R rows; the result (or the error) lands in window.result
// for bench/run.mjs.
const t0 = performance.now();
const q = new URLSearchParams(location.search);

/** Workload f's first query: workload g's field query (bench/query.js), as bench.seed runs it. */
const COLD_QUERY = { field: "bucket", key: 42 };

async function main() {
  const { loadEngine } = await import("./engines.js");
  const engine = await loadEngine(q.get("engine"));
  const t1 = performance.now();
  const db = await engine.open(q.get("db"), { query: true, archive: q.get("archive") ?? undefined });
  const t2 = performance.now();
  const doc = await db.get(q.get("id"));
  const t3 = performance.now();
  const rows = await db.byField(COLD_QUERY.field, COLD_QUERY.key);
  const t4 = performance.now();
  if (doc?._id !== q.get("id")) throw new Error(`first get returned ${JSON.stringify(doc)}`);
  if (rows !== Number(q.get("rows"))) throw new Error(`first query (${COLD_QUERY.field} = ${COLD_QUERY.key}) returned ${rows} rows, expected ${q.get("rows")}`);
  const info = db.info ? await db.info() : undefined;
  await db.close();
  return { ok: true, ms: t4 - t0, importMs: t1 - t0, openMs: t2 - t1, getMs: t3 - t2, queryMs: t4 - t3, rows, sinceNavigationMs: t4, info };
}

main().then(
  (r) => (window.result = r),
  (e) => (window.result = { ok: false, error: String(e?.stack ?? e) }),
);
