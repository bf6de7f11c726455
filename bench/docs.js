// Deterministic test documents (~200 bytes of JSON each) and a seeded PRNG, so every engine
// gets the same data and the same random reads.
const WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor " +
  "incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud").split(" ");
const TAGS = ["work", "home", "urgent", "later", "idea", "note", "todo", "read"];

export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const docId = (i) => `doc-${String(i).padStart(6, "0")}`;

export function makeDoc(i) {
  const r = rng(i + 1);
  const words = (n) => Array.from({ length: n }, () => WORDS[Math.floor(r() * WORDS.length)]).join(" ");
  return {
    _id: docId(i),
    title: `Document ${i} ${words(3)}`,
    body: words(12),
    tags: [TAGS[i % TAGS.length], TAGS[(i * 7 + 3) % TAGS.length]],
    n: i,
    year: 2000 + (i % 25),
    month: 1 + (i % 12),
    done: i % 3 === 0,
  };
}

export const makeDocs = (from, count) => Array.from({ length: count }, (_, k) => makeDoc(from + k));

/** Workloads g–i: the same docs plus `bucket` (i % 100) and a year in 2020–2024 (month stays 1–12). */
export const makeQueryDoc = (i) => ({ ...makeDoc(i), bucket: i % 100, year: 2020 + (i % 5) });
export const makeQueryDocs = (from, count) => Array.from({ length: count }, (_, k) => makeQueryDoc(from + k));

/** Rows each g/h query must return on a ledger of `count` query docs (checked against every engine). */
export function expectedQueryRows(count) {
  const docs = makeQueryDocs(0, count);
  const ym = (d) => d.year * 100 + d.month;
  const n = (f) => docs.filter(f).length;
  return {
    g1: n((d) => d.bucket === 42),
    g2: n((d) => d.bucket === 42),
    h1: n((d) => d.year === 2022),
    h2: n((d) => ym(d) >= 202106 && ym(d) <= 202203),
  };
}
