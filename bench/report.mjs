// Turns the raw bench results into the printed table, target checks, Markdown and JSON.
export const ENGINES = ["ferroproof", "fireproof", "dexie", "pouchdb"];
export const ROWS = [
  ["a", "a. 1,000 sequential puts"],
  ["b", "b. 1,000 concurrent puts"],
  ["c", "c. bulk 10,000 (10 × 1,000)"],
  ["d", "d. 1,000 random gets (10k)"],
  ["e", "e. allDocs of 10k"],
  ["f10k", "f. cold open 10k + get"],
  ["f1k", "f. cold open 1k + get"],
];

const ms = (r) => (r && typeof r.ms === "number" ? r.ms : null);

/** Targets for ferroproof: [row, label, limit, value(results) → ratio or null]. */
export const TARGETS = [
  ["a", "≤ 2× dexie", 2, (R) => ratio(R.a?.ferroproof, R.a?.dexie)],
  ["c", "≤ 1× dexie", 1, (R) => ratio(R.c?.ferroproof, R.c?.dexie)],
  ["d", "≤ 1.5× dexie", 1.5, (R) => ratio(R.d?.ferroproof, R.d?.dexie)],
  ["f10k", "≤ 2× ours 1k", 2, (R) => ratio(R.f10k?.ferroproof, R.f1k?.ferroproof)],
];

function ratio(x, y) {
  return ms(x) !== null && ms(y) ? ms(x) / ms(y) : null;
}

function cell(r) {
  if (!r) return "—";
  if (ms(r) !== null) return r.ms >= 10_000 ? `${(r.ms / 1000).toFixed(1)} s` : `${r.ms.toFixed(1)} ms`;
  return r.status; // "timeout" | "error"
}

/** Builds { header, rows, targets } from results[row][engine] = { ms } | { status, error }. */
export function table(R) {
  const header = ["workload", ...ENGINES, ...ENGINES.filter((e) => e !== "dexie").map((e) => `${e}/dexie`), "target (ferroproof)", "result"];
  const rows = ROWS.map(([key, label]) => {
    const t = TARGETS.find(([row]) => row === key);
    const v = t ? t[3](R) : null;
    const verdict = !t ? "" : v === null ? "n/a" : v <= t[2] ? "PASS" : "FAIL";
    return [
      label,
      ...ENGINES.map((e) => cell(R[key]?.[e])),
      ...ENGINES.filter((e) => e !== "dexie").map((e) => {
        const x = ratio(R[key]?.[e], R[key]?.dexie);
        return x === null ? "—" : `${x.toFixed(2)}×`;
      }),
      t ? `${t[1]}${v === null ? "" : ` (${v.toFixed(2)}×)`}` : "",
      verdict,
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
    `${meta.date} · ${meta.userAgent} · ~${meta.docBytes} B/doc · one run each, times from performance.now()`,
    "",
    `| ${header.join(" | ")} |`,
    `| ${header.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
  ];
  return md.join("\n");
}
