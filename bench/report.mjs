// Turns the raw bench results into the printed table, target checks, Markdown and JSON.
export const ENGINES = ["ferroproof", "fireproof", "dexie", "pouchdb"];
/** Engines that run the 100k rows (f100k, k4); the others show "—". */
export const BIG_ENGINES = ["ferroproof", "dexie"];
/** How workload k3 makes its 10 updates per doc: "bulk" (10 rounds of bulk updates) or "single". */
export const K_UPDATES = process.env.BENCH_K_UPDATES ?? "bulk";
if (!["bulk", "single"].includes(K_UPDATES)) throw new Error(`BENCH_K_UPDATES=${K_UPDATES}: bulk or single`);
export const ROWS = [
  ["a", "a. 1,000 sequential puts"],
  ["a10k", "a. 1,000 sequential puts into a 10k ledger"],
  ["b", "b. 1,000 concurrent puts"],
  ["c", "c. bulk 10,000 (10 × 1,000)"],
  ["c1k", "c. bulk 1,000 (1 × 1,000)"],
  ["d", "d. 1,000 random gets (10k)"],
  ["e", "e. allDocs of 10k"],
  ["f1k", "f. cold open 1k + get + query"],
  ["f10k", "f. cold open 10k + get + query"],
  ["f100k", "f. cold open 100k + get + query"],
  ["fa10k", "f. new ledger from a 10k archive over HTTP + get + query"],
  ["g1", "g1. first query (incl. index build)"],
  ["g2", "g2. repeated query (median of 20)"],
  ["h1", "h1. prefix [2022] (median of 10)"],
  ["h2", "h2. range [2021,6]–[2022,3] (median of 10)"],
  ["i1", "i1. live query latency (median of 30)"],
  ["i2", "i2. live query latency (p95 of 30)"],
  ["i3", "i3. put call → row in DOM (median of 30)"],
  ["k1", "k1. footprint: 10k docs, 10 bulks of 1,000 + 1 field index"],
  ["k2", "k2. footprint: 10k docs, 10,000 awaited single puts"],
  [
    "k3",
    K_UPDATES === "single"
      ? "k3. footprint: 10k docs (bulk) + 10 updates each (100,000 single puts)"
      : "k3. footprint: 10k docs (bulk) + 10 updates each (as 10 rounds of bulk updates)",
  ],
  ["k4", "k4. footprint: 100k docs, 100 bulks of 1,000 + 1 field index"],
];

/** Workload s (sync, ferroproof only, real server over loopback): its own table. */
export const SYNC_ROWS = [
  ["s1", "s1. fresh replica joins 10k: attach → pulled → first query"],
  ["s2", "s2. one changed doc in 10k: bytes up + down (median of 3)"],
  ["s3", "s3. live: put on A → B's subscribe (median of 30)"],
  ["s3p95", "s3. live: put on A → B's subscribe (p95 of 30)"],
  ["s4", "s4. 20 replicas × 50 puts: converge after the last put"],
];

const ms = (r) => (r && typeof r.ms === "number" ? r.ms : null);
/** A row's measured value: milliseconds, or bytes for the footprint rows. */
const val = (r) => (r && typeof r.bytes === "number" ? r.bytes : ms(r));

function ratio(x, y) {
  return val(x) !== null && val(y) ? val(x) / val(y) : null;
}

const vsDexie = (row) => (R) => ratio(R[row]?.ferroproof, R[row]?.dexie);

/**
 * Targets for ferroproof: value(results) → number or null; PASS when value ≤ limit (or ≥ limit
 * with atLeast). A row may have several targets: the table prints them all.
 */
export const TARGETS = [
  // Issue 9, point 4: sequential puts ≤ 1.5× Dexie and bulk ≤ 0.5× Dexie, at 1k and at 10k.
  ...["a", "a10k"].map((row) => ({ row, label: "≤ 1.5× dexie", limit: 1.5, value: vsDexie(row) })),
  ...["c1k", "c"].map((row) => ({ row, label: "≤ 0.5× dexie", limit: 0.5, value: vsDexie(row) })),
  { row: "d", label: "≤ 1.5× dexie", limit: 1.5, value: vsDexie("d") },
  { row: "f1k", label: "≤ 2× dexie", limit: 2, value: vsDexie("f1k") },
  { row: "f10k", label: "≤ 2× dexie", limit: 2, value: vsDexie("f10k") },
  { row: "f100k", label: "≤ 1.5× ours 10k", limit: 1.5, value: (R) => ratio(R.f100k?.ferroproof, R.f10k?.ferroproof) },
  { row: "fa10k", label: "≤ 300 ms after fireproof()", limit: 300, unit: " ms", value: (R) => R.fa10k?.ferroproof?.afterCallMs ?? null },
  { row: "fa10k", label: "≤ 2× dexie's f10k", limit: 2, value: (R) => ratio(R.fa10k?.ferroproof, R.f10k?.dexie) },
  { row: "g1", label: "≤ 10× dexie", limit: 10, value: vsDexie("g1") },
  { row: "g1", label: "≥ 10× faster than fireproof", limit: 10, atLeast: true, value: (R) => ratio(R.g1?.fireproof, R.g1?.ferroproof) },
  { row: "g2", label: "≤ 1.5× dexie", limit: 1.5, value: vsDexie("g2") },
  { row: "i1", label: "≤ 16 ms", limit: 16, unit: " ms", value: (R) => ms(R.i1?.ferroproof) },
  ...["k1", "k2", "k3", "k4"].map((row) => ({ row, label: "≤ 1.5× dexie", limit: 1.5, value: vsDexie(row) })),
  { row: "s1", label: "≤ 2 s", limit: 2000, unit: " ms", value: (R) => ms(R.s1?.ferroproof) },
  { row: "s2", label: "≤ 10 KB (10,000 B)", limit: 10_000, unit: " B", value: (R) => R.s2?.ferroproof?.bytes ?? null },
  { row: "s3", label: "≤ 150 ms", limit: 150, unit: " ms", value: (R) => ms(R.s3?.ferroproof) },
  { row: "s4", label: "0 lost writes", limit: 0, unit: " lost", value: (R) => R.s4?.ferroproof?.lost ?? null },
  { row: "s4", label: "1 head on all", limit: 1, unit: " head(s)", value: (R) => R.s4?.ferroproof?.heads ?? null },
];

/** Every target checked: [{ row, target, limit, value, verdict: PASS | FAIL | n/a }]. */
export function checkTargets(R) {
  return TARGETS.map((t) => {
    const value = t.value(R);
    const ok = value !== null && (t.atLeast ? value >= t.limit : value <= t.limit);
    return { row: t.row, target: t.label, limit: t.limit, unit: t.unit ?? "×", value, verdict: value === null ? "n/a" : ok ? "PASS" : "FAIL" };
  });
}

function cell(r) {
  if (!r) return "—";
  if (typeof r.bytes === "number") return `${(r.bytes / 1e6).toFixed(2)} MB`;
  if (ms(r) !== null) return r.ms >= 10_000 ? `${(r.ms / 1000).toFixed(1)} s` : `${r.ms.toFixed(1)} ms`;
  return r.status; // "timeout" | "error"
}

const num = (v, unit) =>
  unit === "×" ? `${v.toFixed(2)}×` : Number.isInteger(v) ? `${v.toLocaleString("en")}${unit}` : `${v.toFixed(1)}${unit}`;

/** Builds { header, rows } from results[row][engine] = { ms } | { status, error }. */
export function table(R) {
  const checks = checkTargets(R);
  const header = ["workload", ...ENGINES, ...ENGINES.filter((e) => e !== "dexie").map((e) => `${e}/dexie`), "target (ferroproof)", "result"];
  const rows = ROWS.map(([key, label]) => {
    const mine = checks.filter((c) => c.row === key);
    return [
      label,
      ...ENGINES.map((e) => cell(R[key]?.[e])),
      ...ENGINES.filter((e) => e !== "dexie").map((e) => {
        const x = ratio(R[key]?.[e], R[key]?.dexie);
        return x === null ? "—" : `${x.toFixed(2)}×`;
      }),
      mine.map((c) => `${c.target}${c.value === null ? "" : ` (${num(c.value, c.unit)})`}`).join("; "),
      mine.map((c) => c.verdict).join("; "),
    ];
  });
  return { header, rows };
}

function syncCell(row, r) {
  if (!r) return "—";
  if (r.status) return r.status;
  if (row === "s2") return `${r.bytes.toLocaleString("en")} B (wire ${r.wire.toLocaleString("en")} B)`;
  return cell(r);
}

/** The sync table ({ header, rows }), or null when workload s did not run. */
export function syncTable(R) {
  if (!SYNC_ROWS.some(([key]) => R[key]?.ferroproof)) return null;
  const checks = checkTargets(R);
  const header = ["sync workload (ferroproof, ferroproof-server on 127.0.0.1)", "measured", "target", "result"];
  const rows = SYNC_ROWS.map(([key, label]) => {
    const mine = checks.filter((c) => c.row === key);
    return [
      label,
      syncCell(key, R[key]?.ferroproof),
      mine.map((c) => `${c.target}${c.value === null ? "" : ` (${num(c.value, c.unit)})`}`).join("; "),
      mine.map((c) => c.verdict).join("; "),
    ];
  });
  return { header, rows };
}

export function plain({ header, rows }) {
  const all = [header, ...rows];
  const w = header.map((_, i) => Math.max(...all.map((r) => [...r[i]].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  ");
  return [line(header), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

export function markdown({ header, rows }, meta) {
  const md = [
    "# ferroproof benchmark",
    "",
    `${meta.date} · ${meta.userAgent} · ~${meta.docBytes} B/doc · times from performance.now(); one run each, except f (median of ${meta.fRounds ?? 1} fresh pages per size, from the page's first module to the first query's rows: import + open + first get + first query, on a ledger seeded in bulks of 1,000 whose bucket index was built and stored while seeding), g (median of ${meta.gRounds ?? 1} rounds, each a fresh page and ledger; g2 within a round: median of 20 calls), h (median of 10 calls) and i (30 puts; i1/i2 from put resolved, i3 from put called)`,
    "",
    `k (footprint): navigator.storage.estimate() usage (MB = 10⁶ B) of an origin that holds only that ledger (each measurement in a fresh browser context), after the writes, ${meta.kIdleMs ?? 1500} ms idle, close() and a 2 s wait, read every 500 ms until three reads agree; query docs of ~225 B of JSON; the 100k rows (f100k, k4) for ${BIG_ENGINES.join(" and ")} only (— elsewhere: seeding 100k takes Fireproof and PouchDB far too long)`,
    "",
    `| ${header.join(" | ")} |`,
    `| ${header.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
    ...(meta.sync
      ? [
          `| ${meta.sync.header.join(" | ")} |`,
          `| ${meta.sync.header.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
          ...meta.sync.rows.map((r) => `| ${r.join(" | ")} |`),
          "",
        ]
      : []),
    ...(meta.notes ?? []).map((n) => `- ${n}`),
    ...(meta.notes?.length ? [""] : []),
  ];
  return md.join("\n");
}
