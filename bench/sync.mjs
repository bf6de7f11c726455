// Workload s (sync), driven from bench/run.mjs: replicas are pages of bench/sync.html, each in its
// own browser context (another profile: its own IndexedDB), attached to a real ferroproof-server
// spawned here on 127.0.0.1 with a temporary folder store (stopped and removed at the end).
//
//   s1  a fresh replica joins a 10k-doc ledger with an invite: attach() → pulled → first field query
//   s2  one changed doc in that ledger: bytes moved up + down, both replicas, until quiet (3 docs, median)
//   s3  live latency: put on A → delivered to B's db.subscribe (30 puts after one warm-up)
//   s4  20 replicas × 50 puts while attached, then sync() rounds until one head and 1,000 docs
//
// Every replica talks to the server through a byte-counting TCP relay (also on 127.0.0.1), so s2
// gets the bytes on the wire (HTTP headers and WebSocket framing included) beside the page's own
// count (request + response bodies of fetch, WebSocket message payloads; window.__net).
// Env: FERROPROOF_SERVER_BIN (default target/server/ferroproof-server), BENCH_SYNC=1,2,3,4 (parts),
// BENCH_SYNC_REPLICAS (20), BENCH_SYNC_PUTS (50), BENCH_SYNC_LIVE (30).
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { docId, expectedQueryRows } from "./docs.js";
import { median, percentile } from "./stats.js";

const LEDGER = 10_000;
const BATCH = 1000;
const CHANGED = [5000, 1234, 8765]; // s2 rewrites these docs, one change at a time
const LIVE_GAP_MS = 100; // s3: pause after B has seen a put, before the next one
const QUIET_MS = 1500; // s2: no request, response or socket message for this long = quiet

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
let cleanups = []; // run at the end, also by run.mjs's global timeout (stopSync)

/** Spawns ferroproof-server on 127.0.0.1:0 with a fresh temporary folder store. */
async function startServer(bin) {
  const store = mkdtempSync(join(tmpdir(), "fp-bench-store-"));
  const child = spawn(bin, ["--listen", "127.0.0.1:0", "--store", store, "--open"], { stdio: ["ignore", "pipe", "inherit"] });
  const stop = () =>
    new Promise((resolve) => {
      const done = () => {
        rmSync(store, { recursive: true, force: true });
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once("exit", done);
      child.kill("SIGTERM");
    });
  cleanups.push(stop);
  const url = await new Promise((resolve, reject) => {
    let out = "";
    child.on("error", (e) => reject(new Error(`cannot start ${bin}: ${e.message} (built by scripts/bench.sh)`)));
    child.on("exit", (code) => reject(new Error(`ferroproof-server exited with ${code}`)));
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
  });
  child.removeAllListeners("exit");
  return { url, store };
}

/** Bytes under `dir` (the server's folder store). */
function duBytes(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? duBytes(p) : statSync(p).size;
  }
  return n;
}

/** Sizes of every file under a `cars` folder of the store. */
function carSizes(dir, inCars = false) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...carSizes(p, inCars || e.name === "cars"));
    else if (inCars) out.push(statSync(p).size);
  }
  return out;
}

/** A TCP relay to `target` (http://127.0.0.1:PORT) counting the bytes each way. */
async function startRelay(target) {
  const { port } = new URL(target);
  const counts = { up: 0, down: 0, connections: 0, last: Date.now() };
  const sockets = new Set();
  const server = createServer((client) => {
    counts.connections++;
    const upstream = connect(Number(port), "127.0.0.1");
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    client.on("data", (d) => {
      counts.up += d.length;
      counts.last = Date.now();
    });
    upstream.on("data", (d) => {
      counts.down += d.length;
      counts.last = Date.now();
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on("error", end);
      s.on("close", end);
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const stop = () =>
    new Promise((ok) => {
      for (const s of sockets) s.destroy();
      server.close(() => ok());
    });
  cleanups.push(stop);
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    counts,
    reset() {
      counts.up = counts.down = 0;
    },
  };
}

/**
 * Init script of every replica's context: wraps fetch and WebSocket to count, while
 * window.__net.on, request bodies (up), response bodies (down) and WebSocket message payloads,
 * with a log of [what, up, down]; `last` is the time of the latest network event of any kind.
 */
function netCounter() {
  const net = { on: false, up: 0, down: 0, wsUp: 0, wsDown: 0, requests: 0, log: [], last: Date.now() };
  window.__net = net;
  const size = (b) => (b == null ? 0 : typeof b === "string" ? new TextEncoder().encode(b).length : (b.byteLength ?? b.size ?? 0));
  const what = (method, url) => {
    const m = /\/v1\/ledgers\/[^/]+\/([^?]*)(\?.*)?$/.exec(String(url));
    return `${method} ${m ? m[1].replace(/[a-z2-7]{59}$/, "<name>") + (m[2] ? "?…" : "") : url}`;
  };
  // cars: with `track`, every CAR name this page downloaded and how often (s4: re-downloads)
  net.track = false;
  net.cars = new Map();
  const fetch0 = window.fetch;
  window.fetch = async function (input, init) {
    const on = net.on;
    if (net.track && (init?.method ?? "GET") === "GET") {
      const m = /\/cars\/([a-z2-7]{59})$/.exec(typeof input === "string" ? input : input.url);
      if (m) net.cars.set(m[1], (net.cars.get(m[1]) ?? 0) + 1);
    }
    net.last = Date.now();
    const res = await fetch0.call(this, input, init);
    net.last = Date.now();
    if (on) {
      const up = size(init?.body);
      const down = (await res.clone().arrayBuffer()).byteLength;
      net.last = Date.now();
      net.up += up;
      net.down += down;
      net.requests++;
      net.log.push([`${what(init?.method ?? "GET", typeof input === "string" ? input : input.url)} → ${res.status}`, up, down]);
    }
    return res;
  };
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        net.last = Date.now();
        if (!net.on) return;
        const n = size(e.data);
        net.wsDown += n;
        net.log.push([`ws message ← ${String(e.data).slice(0, 60)}`, 0, n]);
      });
    }
    send(data) {
      net.last = Date.now();
      if (net.on) {
        net.wsUp += size(data);
        net.log.push(["ws message →", size(data), 0]);
      }
      super.send(data);
    }
  };
}

/**
 * Runs the sync workload. `guarded(rows, engine, fn)` and `capped(promise, ms, what)` are the
 * runner's; results go to record(row, "ferroproof", r), extra lines to notes.
 */
export async function runSync({ browser, base, run, CAP, guarded, capped, record, notes, logs }) {
  const parts = (process.env.BENCH_SYNC ?? "1,2,3,4").split(",").map((s) => s.trim());
  const bin = process.env.FERROPROOF_SERVER_BIN ?? "target/server/ferroproof-server";
  const replicas = Number(process.env.BENCH_SYNC_REPLICAS ?? 20);
  const putsEach = Number(process.env.BENCH_SYNC_PUTS ?? 50);
  const livePuts = Number(process.env.BENCH_SYNC_LIVE ?? 30);
  const done = new Set();
  const rec = (row, r) => {
    done.add(row);
    record(row, "ferroproof", r);
  };
  const say = (line) => {
    console.log(`[bench] ${line}`);
    notes.push(line);
  };
  let server;
  let relay;
  const contexts = [];

  async function replica(tag) {
    const context = await browser.newContext(); // its own profile: separate IndexedDB
    contexts.push(context);
    await context.addInitScript(netCounter);
    const page = await context.newPage();
    page.on("console", (m) => logs.push(`[sync ${tag}] ${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`[sync ${tag}] pageerror: ${e.stack ?? e}`));
    await page.goto(`${base}/sync.html`);
    await page.waitForFunction(() => window.benchSyncReady === true, null, { timeout: 30_000 });
    return page;
  }
  const closeAll = async () => {
    for (const c of contexts.splice(0)) await c.close().catch(() => {});
  };

  /** Waits until neither the pages nor the relay have moved a byte for `ms`. */
  async function quiet(pages, ms) {
    for (;;) {
      const lasts = await Promise.all(pages.map((p) => p.evaluate(() => window.__net.last)));
      const idle = Date.now() - Math.max(relay.counts.last, ...lasts);
      if (idle >= ms) return;
      await sleep(Math.max(50, ms - idle));
    }
  }

  try {
    server = await startServer(bin);
    relay = await startRelay(server.url);
    console.log(`[bench] s: ferroproof-server ${bin} at ${server.url} (store ${server.store}), replicas through the counting relay ${relay.url}`);
    const url = relay.url;
    const name = `s-${run}`;
    const want = expectedQueryRows(LEDGER).g1;

    // s1–s3 share two replicas: A writes the 10k ledger, B joins it.
    const pairParts = parts.filter((p) => ["1", "2", "3"].includes(p));
    if (pairParts.length > 0) {
      const rows = () => ["s1", "s2", "s3", "s3p95"].filter((r) => parts.includes(r[1]) && !done.has(r));
      await guarded(rows, "ferroproof", async () => {
        const a = await replica("A");
        const b = await replica("B");
        await a.evaluate((n) => window.benchSync.open(n), name);
        await b.evaluate((n) => window.benchSync.open(n), name);
        const invite = await capped(a.evaluate((u) => window.benchSync.attach(u), url), CAP, "A attaches");
        const t = Date.now();
        const n = await capped(a.evaluate(([c, k]) => window.benchSync.load(c, k), [LEDGER, BATCH]), 2 * CAP, "A writes 10k and syncs");
        console.log(`[bench] s setup: A wrote ${n} docs in ${LEDGER / BATCH} bulks while attached and synced them in ${Date.now() - t} ms`);

        // s1: B is a fresh profile with an empty ledger of the same name.
        const r1 = await capped(b.evaluate(([u, i, w]) => window.benchSync.join(u, i, "bucket", w), [url, invite, 42]), CAP, "B joins");
        const docs = await b.evaluate(() => window.benchSync.count());
        if (r1.rows !== want) throw new Error(`s1: the first query on B returned ${r1.rows} rows, the data has ${want}`);
        if (docs !== LEDGER) throw new Error(`s1: B holds ${docs} docs after sync(), A wrote ${LEDGER}`);
        if (parts.includes("1")) {
          rec("s1", r1);
          say(`s1: attach → first query ${r1.ms.toFixed(1)} ms (attach() ${r1.attachMs.toFixed(1)}, sync() pulling 10k ${r1.syncMs.toFixed(1)}, query("bucket", {key: 42}) ${r1.queryMs.toFixed(1)} ms, ${r1.rows} rows); B then holds ${docs} docs`);
        }

        // Both synced: a few sync() calls each, then quiet.
        for (const p of [a, b, a, b]) await capped(p.evaluate(() => window.benchSync.sync()), CAP, "sync");
        const [ha, hb] = [await a.evaluate(() => window.benchSync.head()), await b.evaluate(() => window.benchSync.head())];
        if (ha.join() !== hb.join()) throw new Error(`A and B differ after syncing: ${ha} vs ${hb}`);
        await b.evaluate(() => window.benchSync.watch());
        await a.evaluate(() => window.benchSync.watch());

        if (parts.includes("2")) {
          // Three separate single-doc changes, each measured from quiet to quiet; the row is their median.
          const runs = [];
          for (const [k, i] of CHANGED.entries()) {
            await capped(quiet([a, b], QUIET_MS), CAP, "quiet before s2");
            relay.reset();
            const start = () => Object.assign(window.__net, { on: true, up: 0, down: 0, wsUp: 0, wsDown: 0, requests: 0, log: [] });
            await a.evaluate(start);
            await b.evaluate(start);
            const v = 1000 + k;
            await a.evaluate(([i, v]) => window.benchSync.change(i, v), [i, v]);
            const id = docId(i);
            await capped(b.waitForFunction(([i, v]) => window.benchSync.seenAt(i, v) !== null, [id, v], { timeout: 0, polling: 20 }), CAP, "B sees the change");
            await capped(quiet([a, b], QUIET_MS), CAP, "quiet after s2");
            const stop = () => {
              window.__net.on = false;
              const { up, down, wsUp, wsDown, requests, log } = window.__net;
              return { up, down, wsUp, wsDown, requests, log };
            };
            const na = await a.evaluate(stop);
            const nb = await b.evaluate(stop);
            const got = await b.evaluate((i) => window.benchSync.get(i), id);
            if (got.v !== v) throw new Error(`s2: B holds ${JSON.stringify(got)}`);
            const page = (x) => x.up + x.down + x.wsUp + x.wsDown;
            const r = {
              id,
              bytes: page(na) + page(nb),
              up: na.up + nb.up + na.wsUp + nb.wsUp,
              down: na.down + nb.down + na.wsDown + nb.wsDown,
              wire: relay.counts.up + relay.counts.down,
              wireUp: relay.counts.up,
              wireDown: relay.counts.down,
              requests: na.requests + nb.requests,
              a: na,
              b: nb,
            };
            runs.push(r);
            const fmt = (x) => x.log.map(([w, u, d]) => `${w} (↑${u} ↓${d})`).join("; ");
            say(`s2 ${id}: ${r.bytes} B of bodies and socket messages (A ↑${na.up + na.wsUp} ↓${na.down + na.wsDown}, B ↑${nb.up + nb.wsUp} ↓${nb.down + nb.wsDown}) in ${r.requests} requests; on the wire incl. HTTP headers and WebSocket framing ${r.wire} B (↑${r.wireUp} ↓${r.wireDown})`);
            say(`s2 ${id} A: ${fmt(na)}`);
            say(`s2 ${id} B: ${fmt(nb)}`);
          }
          const mid = [...runs].sort((x, y) => x.bytes - y.bytes)[runs.length >> 1];
          rec("s2", { ...mid, runs: runs.map(({ id, bytes, wire }) => ({ id, bytes, wire })) });
          say(`s2: median of ${runs.length} single-doc changes: ${mid.bytes} B (page count; each: ${runs.map((r) => r.bytes).join(", ")}), wire ${mid.wire} B (each: ${runs.map((r) => r.wire).join(", ")})`);
        }

        if (parts.includes("3")) {
          const lat = [];
          const fromResolved = [];
          for (let k = 0; k <= livePuts; k++) {
            const id = `live-${String(k).padStart(3, "0")}`;
            const put = await capped(a.evaluate((d) => window.benchSync.put(d), { _id: id, v: k, text: `live ${k}` }), CAP, "A puts");
            await capped(b.waitForFunction(([i, v]) => window.benchSync.seenAt(i, v) !== null, [id, k], { timeout: 0, polling: 5 }), CAP, `B sees ${id}`);
            const seen = await b.evaluate(([i, v]) => window.benchSync.seenAt(i, v), [id, k]);
            if (k > 0) {
              lat.push(seen - put.called); // k = 0 is a warm-up
              fromResolved.push(seen - put.resolved);
            }
            await sleep(LIVE_GAP_MS);
          }
          rec("s3", { ms: median(lat), all: lat, fromResolved });
          rec("s3p95", { ms: percentile(lat, 95) });
          say(`s3: put on A → B's subscriber: median ${median(lat)} ms, p95 ${percentile(lat, 95)} ms, min ${Math.min(...lat)}, max ${Math.max(...lat)} ms over ${lat.length} puts (from put resolved: median ${median(fromResolved)} ms); all: ${lat.join(" ")}`);
        }
        await closeAll();
      });
      await closeAll();
    }

    if (parts.includes("4")) {
      await guarded("s4", "ferroproof", async () => {
        const pages = [];
        const t = Date.now();
        for (let k = 0; k < replicas; k++) pages.push(await replica(`R${k}`));
        const n4 = `s4-${run}`;
        for (const p of pages) await p.evaluate((n) => window.benchSync.open(n), n4);
        const invite = await capped(pages[0].evaluate((u) => window.benchSync.attach(u), url), CAP, "R0 attaches");
        for (const p of pages.slice(1)) await capped(p.evaluate(([u, i]) => window.benchSync.attach(u, i), [url, invite]), CAP, "a replica joins");
        console.log(`[bench] s4 setup: ${replicas} contexts opened and attached in ${Date.now() - t} ms`);
        for (const p of pages) await p.evaluate(() => (window.__net.track = true));
        const t0 = Date.now();
        const putDone = [];
        await capped(
          Promise.all(pages.map((p, k) => p.evaluate(([k, n]) => window.benchSync.puts(k, n), [k, putsEach]).then(() => putDone.push(Date.now() - t0)))),
          5 * CAP,
          `${replicas} × ${putsEach} puts`,
        );
        const t1 = Date.now();
        const total = replicas * putsEach;
        let rounds = 0;
        let v;
        const roundLog = [];
        let movedBefore = relay.counts.up + relay.counts.down;
        console.log(`[bench] s4 puts phase: ${(movedBefore / 1e6).toFixed(1)} MB through the relay so far`);
        for (;;) {
          rounds++;
          const tr = Date.now();
          const each = await capped(
            Promise.all(pages.map((p) => p.evaluate(async () => { const t = performance.now(); await window.benchSync.sync(); return Math.round(performance.now() - t); }))),
            5 * CAP,
            `sync round ${rounds}`,
          );
          const syncedMs = Date.now() - tr;
          const moved = relay.counts.up + relay.counts.down - movedBefore;
          movedBefore += moved;
          v = await Promise.all(pages.map((p) => p.evaluate(([r, n]) => window.benchSync.verify(r, n), [replicas, putsEach])));
          const heads = new Set(v.map((x) => x.head.join()));
          roundLog.push(`round ${rounds}: sync() on all ${syncedMs} ms (slowest ${Math.max(...each)}, fastest ${Math.min(...each)} ms, ${(moved / 1e6).toFixed(1)} MB moved), then ${heads.size} distinct head(s), doc counts ${[...new Set(v.map((x) => x.count))].join("/")}`);
          console.log(`[bench] s4 ${roundLog[roundLog.length - 1]}`);
          if (heads.size === 1 && v.every((x) => x.count === total && x.missing.length === 0)) break;
          if (rounds >= 30) throw new Error(`s4: not converged after ${rounds} sync rounds: ${heads.size} heads, counts ${v.map((x) => x.count).join(",")}`);
        }
        const t2 = Date.now();
        const lost = Math.max(...v.map((x) => x.missing.length));
        const storeBytes = duBytes(server.store);
        const sizes = carSizes(server.store).sort((x, y) => y - x);
        roundLog.push(`the store's ${sizes.length} CARs: ${sizes.filter((n) => n > 50_000).length} over 50 KB holding ${(sizes.filter((n) => n > 50_000).reduce((a, b) => a + b, 0) / 1e6).toFixed(1)} MB (largest ${sizes.slice(0, 3).map((n) => `${(n / 1e3).toFixed(0)} KB`).join(", ")}), median ${(sizes[sizes.length >> 1] / 1e3).toFixed(1)} KB`);
        const cars = await Promise.all(pages.map((p) => p.evaluate(() => [window.__net.cars.size, [...window.__net.cars.values()].reduce((a, b) => a + b, 0)])));
        const distinct = cars.reduce((a, c) => a + c[0], 0);
        const gets = cars.reduce((a, c) => a + c[1], 0);
        roundLog.push(`CAR downloads over all replicas: ${gets} GETs of ${distinct} distinct (replica, CAR) pairs, so ${gets - distinct} re-downloads of a CAR the same replica had fetched before (most by one replica: ${Math.max(...cars.map((c) => c[1] - c[0]))})`);
        roundLog.push(`the server's store then held ${(storeBytes / 1e6).toFixed(1)} MB`);
        const states = await Promise.all(pages.map((p) => p.evaluate(() => window.benchSync.state())));
        const errors = states.filter((s) => s.lastError).map((s) => s.lastError);
        rec("s4", { ms: t2 - t1, rounds, storeBytes, roundLog, putsMs: t1 - t0, replicas, puts: total, lost, heads: new Set(v.map((x) => x.head.join())).size, docs: v[0].count, errors });
        say(`s4: ${replicas} replicas × ${putsEach} puts while attached: puts done after ${t1 - t0} ms (first replica ${Math.min(...putDone)} ms); then ${rounds} round(s) of sync() on all replicas in parallel: one head, ${v[0].count} docs on every replica, ${lost} lost writes, converged ${t2 - t1} ms after the last put (${t2 - t0} ms from the first; ${roundLog.join("; ")})${errors.length ? `; lastError on ${errors.length} replicas: ${errors[0]}` : ""}`);
        await closeAll();
      });
      await closeAll();
    }
  } finally {
    await closeAll();
    await stopSync();
  }
}

/** Stops the server and the relay (idempotent; also called by the runner's global timeout). */
export async function stopSync() {
  const cs = cleanups.reverse();
  cleanups = [];
  for (const c of cs) await c().catch(() => {});
}
