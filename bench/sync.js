// Sync bench page (workload s): one replica per browser context, exposed as window.benchSync and
// driven by bench/sync.mjs against a real ferroproof-server. Network accounting (window.__net) is
// installed by an init script before this module runs (bench/sync.mjs, netCounter).
import { fireproof, toServer } from "ferroproof-pkg/index.js";
import { makeQueryDoc, makeQueryDocs } from "./docs.js";

let db = null;
let attached = null;
const seen = new Map(); // doc id -> Date.now() when this replica's subscriber first saw it

window.benchSync = {
  async open(name) {
    db = fireproof(name);
    await db.ready();
  },
  /** Attaches (a new remote ledger without an invite), syncs once, returns the invite. */
  async attach(url, invite) {
    attached = await db.attach(toServer(url, invite ? { invite } : {}));
    await attached.sync();
    return attached.invite();
  },
  /** Writes `count` query docs (workloads g/h's) in bulks of `batch` while attached, then syncs. */
  async load(count, batch) {
    for (let i = 0; i < count; i += batch) await db.bulk(makeQueryDocs(i, Math.min(batch, count - i)));
    await attached.sync();
    return (await db.allDocs()).rows.length;
  },
  /** s1, timed: attach with the invite → pulled → first query on `field` answered. */
  async join(url, invite, field, key) {
    const t0 = performance.now();
    attached = await db.attach(toServer(url, { invite }));
    const t1 = performance.now();
    await attached.sync();
    const t2 = performance.now();
    const res = await db.query(field, { key });
    const t3 = performance.now();
    return { ms: t3 - t0, attachMs: t1 - t0, syncMs: t2 - t1, queryMs: t3 - t2, rows: res.rows.length };
  },
  sync: () => attached.sync(),
  state() {
    const s = attached.state();
    return { phase: s.phase, pendingUp: s.pendingUp, pendingDown: s.pendingDown, lastError: s.lastError && `${s.lastError.code}: ${s.lastError.message}` };
  },
  async head() {
    return (await db.info()).clock.map(String).sort();
  },
  count: async () => (await db.allDocs()).rows.length,
  /** Records when each changed doc is first delivered to a subscriber (updates = true). */
  watch() {
    db.subscribe((docs) => {
      const t = Date.now();
      for (const d of docs) if (!seen.has(`${d._id}@${d.v}`)) seen.set(`${d._id}@${d.v}`, t);
    }, true);
  },
  seenAt: (id, v) => seen.get(`${id}@${v}`) ?? null,
  /** One put; Date.now() when it was called and when it resolved. */
  async put(doc) {
    const called = Date.now();
    await db.put(doc);
    return { called, resolved: Date.now() };
  },
  get: (id) => db.get(id),
  /** s2: rewrites query doc `i` with a new title and version `v` (same id). */
  change: (i, v) => window.benchSync.put({ ...makeQueryDoc(i), title: `changed ${v}`, v }),
  /** s4: `n` sequential puts of replica `k`. */
  async puts(k, n) {
    for (let i = 0; i < n; i++) await db.put({ _id: `r${String(k).padStart(2, "0")}-${String(i).padStart(3, "0")}`, k, i });
  },
  /** s4: head, doc count and the writes missing or wrong among replicas 0..r-1 × n puts. */
  async verify(r, n) {
    const rows = (await db.allDocs()).rows;
    const byId = new Map(rows.map((row) => [row.key, row.value]));
    const missing = [];
    for (let k = 0; k < r; k++) {
      for (let i = 0; i < n; i++) {
        const d = byId.get(`r${String(k).padStart(2, "0")}-${String(i).padStart(3, "0")}`);
        if (!d || d.k !== k || d.i !== i) missing.push(`${k}/${i}`);
      }
    }
    return { count: rows.length, missing, head: (await db.info()).clock.map(String).sort() };
  },
};
window.benchSyncReady = true;
