// Live-query page (workload i), driven by bench/run.mjs through window.live: setup() loads a 10k
// query ledger and renders the engine's live list of bucket-7 docs; run(n) then n times puts a new
// bucket-7 doc and measures from the moment put resolves to the moment a MutationObserver sees its
// <li> in the DOM (0 if it was there before put resolved, counted in `early`), and also from the
// put call itself (`fromCall`), which is comparable across engines that render before put resolves.
import { createRoot } from "react-dom/client";
import { makeQueryDoc, makeQueryDocs } from "./docs.js";
import { median, percentile } from "./stats.js";

const ADAPTERS = { ferroproof: () => import("./live/ferroproof.jsx"), dexie: () => import("./live/dexie.jsx") };
const LEDGER = 10_000;
const BATCH = 1000;
const BUCKET = 7;

let cur = null; // { db, root, el }

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves with performance.now() at the first DOM mutation after which `test()` holds. */
function whenDom(el, test) {
  return new Promise((resolve) => {
    const mo = new MutationObserver(() => {
      if (!test()) return;
      mo.disconnect();
      resolve(performance.now());
    });
    mo.observe(el, { childList: true, subtree: true });
  });
}

window.live = {
  engines: Object.keys(ADAPTERS),
  async setup(engine, name) {
    const db = await (await ADAPTERS[engine]()).open(name);
    for (let i = 0; i < LEDGER; i += BATCH) await db.bulk(makeQueryDocs(i, BATCH));
    const el = document.getElementById("root");
    const want = makeQueryDocs(0, LEDGER).filter((d) => d.bucket === BUCKET).length;
    const shown = whenDom(el, () => el.querySelectorAll("li").length === want);
    const root = createRoot(el);
    root.render(<db.Rows bucket={BUCKET} />);
    await shown;
    cur = { db, root, el };
    return want;
  },
  async run(times) {
    const { db, el } = cur;
    const all = [];
    const puts = [];
    const fromCall = [];
    let early = 0;
    for (let k = 0; k < times; k++) {
      const id = `live-${String(k).padStart(3, "0")}`;
      const seen = whenDom(el, () => el.querySelector(`li[data-id="${id}"]`) !== null);
      const tPut = performance.now();
      await db.put({ ...makeQueryDoc(LEDGER + k), _id: id, bucket: BUCKET });
      const t0 = performance.now();
      const t1 = await seen;
      puts.push(t0 - tPut);
      fromCall.push(t1 - tPut);
      if (t1 < t0) early++;
      all.push(Math.max(0, t1 - t0));
      await sleep(20); // let the hook's follow-up work settle before the next put
    }
    const rows = el.querySelectorAll("li").length;
    return { ms: median(all), p95: percentile(all, 95), all, putMs: median(puts), fromCallMs: median(fromCall), early, rows };
  },
  async finish() {
    const { db, root } = cur;
    cur = null;
    root.unmount();
    await db.destroy();
  },
};
window.liveReady = true;
