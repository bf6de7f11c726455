// Archives (docs/format.md §14) in real Chromium: exportCar() read by standard IPLD tools
// (@ipld/car + @ipld/dag-cbor), and fireproof(name, { archive }) starting a ledger from a static
// file served over HTTP.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { CarReader } from "@ipld/car";
import * as dagCbor from "@ipld/dag-cbor";
import { sha256 } from "multiformats/hashes/sha2";
import { openPage } from "./util.mjs";

const DIR = "target/test-archives";

/** Every block's CID checked against its bytes; then every document reached from the root. */
async function readArchive(bytes) {
  const car = await CarReader.fromBytes(bytes);
  const blocks = new Map();
  for await (const { cid, bytes: b } of car.blocks()) {
    const digest = await sha256.digest(b);
    assert.deepEqual(digest.bytes, cid.multihash.bytes, `block ${cid} matches its CID`);
    assert.equal(cid.code, dagCbor.code);
    blocks.set(cid.toString(), dagCbor.decode(b));
  }
  const [root] = await car.getRoots();
  const archive = blocks.get(root.toString());
  assert.equal(archive.v, 1);
  assert.equal(archive.head.length, 1);
  const event = blocks.get(archive.head[0].toString());
  const docs = new Map();
  // returns the highest leaf seq under `cid`
  const walk = (cid) => {
    const [level, entries] = blocks.get(cid.toString());
    let max = 0;
    for (const [key, value] of entries) {
      // a documents-tree branch value is [link to child, highest leaf seq below] (docs/format.md §4)
      if (level > 0) {
        const below = walk(value[0]);
        assert.equal(value[1], below, "a branch records the highest seq below it");
        max = Math.max(max, below);
        continue;
      }
      max = Math.max(max, value.seq);
      if (value.del !== true) {
        const body = value.doc ?? blocks.get(value.ref.toString()).doc;
        docs.set(new TextDecoder().decode(key), body);
      }
    }
    return max;
  };
  walk(event.data.root);
  return { archive, event, docs, blocks: blocks.size };
}

export const tests = {
  async "exportCar is a standard IPLD CAR holding every live document"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("to-export");
      const docs = [];
      for (let i = 0; i < 400; i++) docs.push({ _id: `d${String(i).padStart(3, "0")}`, n: i, bucket: i % 5, text: i % 40 === 0 ? "x".repeat(3000) : "small" });
      await db.bulk(docs);
      for (let i = 0; i < 400; i += 7) await db.del(`d${String(i).padStart(3, "0")}`);
      await db.put({ _id: "d001", n: -1, bucket: 9, text: "updated" });
      await db.query("bucket", { key: 1 });
      const plain = await db.exportCar();
      const bare = await db.exportCar({ indexes: false });
      const sealed = await db.exportCar({ encrypted: true });
      return { plain: Array.from(plain), bare: bare.length, sealed: Array.from(sealed.subarray(0, 4)), sealedLen: sealed.length, count: (await db.allDocs()).rows.length };
    });
    const { archive, docs } = await readArchive(new Uint8Array(r.plain));
    assert.equal(docs.size, r.count);
    assert.equal(docs.size, 400 - 58);
    assert.equal(docs.get("d001").n, -1);
    assert.equal(docs.get("d001").text, "updated");
    assert.equal(docs.get("d040").text.length, 3000, "a document in its own block");
    assert.equal(docs.get("d007"), undefined, "deleted documents are tombstones");
    assert.deepEqual(Object.keys(archive.indexes), ["bucket"]);
    assert.ok(r.bare < r.plain.length, "without indexes it is smaller");
    assert.equal(new TextDecoder().decode(new Uint8Array(r.sealed)), "FPRS", "sealed under the ledger's key");
    assert.ok(r.sealedLen > r.plain.length);
  },

  async "a new ledger starts from an archive served over HTTP; writes go on top; bad archives get codes"({ context, harness, url }) {
    const page = await openPage(context, harness);
    const src = await page.evaluate(async () => {
      const db = window.fp.fireproof("archive-src");
      const docs = [];
      for (let i = 0; i < 2000; i++) docs.push({ _id: `k${i}`, n: i, bucket: i % 10 });
      await db.bulk(docs);
      await db.query("bucket", { key: 3 });
      const plain = await db.exportCar();
      const sealed = await db.exportCar({ encrypted: true });
      return { plain: Array.from(plain), sealed: Array.from(sealed) };
    });
    mkdirSync(DIR, { recursive: true });
    const plain = new Uint8Array(src.plain);
    writeFileSync(`${DIR}/good.car`, plain);
    writeFileSync(`${DIR}/sealed.car`, new Uint8Array(src.sealed));
    const bad = plain.slice();
    bad[Math.floor(bad.length / 2)] ^= 1;
    writeFileSync(`${DIR}/bad.car`, bad);
    const at = (f) => `${url}/${DIR}/${f}`;

    const r = await page.evaluate(async (at) => {
      const db = window.fp.fireproof("from-archive", { archive: at.good });
      const got = await db.get("k42");
      const q = await db.query("bucket", { key: 3 });
      const all = await db.allDocs();
      await db.put({ _id: "k42", n: "mine" });
      const errs = {};
      for (const [name, u] of Object.entries({ sealed: at.sealed, missing: at.missing })) {
        try {
          await window.fp.fireproof(`from-${name}`, { archive: u }).get("k1");
          errs[name] = "opened";
        } catch (e) {
          errs[name] = e.code;
        }
      }
      // a damaged block: a read that needs it is refused, never answered from it; the import
      // stores nothing and every later call says CORRUPT (a read of checked blocks before that
      // may answer)
      // (a read that answers must answer k1 as it was written: "ok"; anything else is shown)
      const code = (p) => p.then((v) => (v?._id === "k1" && v.n === 1 ? "ok" : JSON.stringify(v)), (e) => e.code);
      const dbBad = window.fp.fireproof("from-bad", { archive: at.bad });
      const bad = { first: await code(dbBad.get("k1")), put: await code(dbBad.put({ _id: "z" })), later: await code(dbBad.get("k1")) };
      const fullBuild = performance.getEntriesByType("resource").some((e) => e.name.includes("/wasm-sync/"));
      return { got, rows: q.rows.length, all: all.rows.length, errs, bad, fullBuild };
    }, { good: at("good.car"), sealed: at("sealed.car"), bad: at("bad.car"), missing: at("missing.car") });
    assert.deepEqual(r.got, { _id: "k42", n: 42, bucket: 2 });
    assert.equal(r.rows, 200);
    assert.equal(r.all, 2000);
    assert.deepEqual(r.errs, { sealed: "DECRYPT", missing: "NETWORK" });
    assert.ok(["ok", "CORRUPT"].includes(r.bad.first), `first read of a damaged archive: ${r.bad.first}`);
    assert.deepEqual({ put: r.bad.put, later: r.bad.later }, { put: "CORRUPT", later: "CORRUPT" });
    assert.equal(r.fullBuild, false, "a ledger started from an archive runs on the local build");

    // a reload keeps the local write (the archive is not imported again)
    await page.reload();
    await page.waitForFunction(() => window.harnessReady === true);
    const again = await page.evaluate(async (good) => {
      const db = window.fp.fireproof("from-archive", { archive: good });
      const r = { k42: await db.get("k42"), count: (await db.allDocs()).rows.length };
      // this profile held the ledger: the archive is not even fetched
      return { ...r, fetched: performance.getEntriesByType("resource").some((e) => e.name === good) };
    }, at("good.car"));
    assert.deepEqual(again, { k42: { _id: "k42", n: "mine" }, count: 2000, fetched: false });
    // without the profile's mark (localStorage cleared) the ledger's data still wins: the early
    // download is dropped, nothing is imported again
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await page.waitForFunction(() => window.harnessReady === true);
    const unmarked = await page.evaluate(async (good) => {
      const db = window.fp.fireproof("from-archive", { archive: good });
      return { k42: await db.get("k42"), count: (await db.allDocs()).rows.length };
    }, at("good.car"));
    assert.deepEqual(unmarked, { k42: { _id: "k42", n: "mine" }, count: 2000 });
    // destroy() with another handle open: that handle goes on with a new ledger, started from the
    // archive again (the first open's early download, aborted because the ledger had data, is not
    // reused); the archive is served slowly, so that the early download is still running when the
    // ledger turns out to have data
    await page.evaluate(() => localStorage.clear());
    await page.route("**/good.car", async (route) => {
      await new Promise((r) => setTimeout(r, 500));
      await route.continue();
    });
    await page.reload();
    await page.waitForFunction(() => window.harnessReady === true);
    const destroyed = await page.evaluate(async (good) => {
      const db = window.fp.fireproof("from-archive", { archive: good });
      const other = window.fp.fireproof("from-archive", { archive: good });
      await db.get("k42");
      await db.destroy();
      const read = (p) => p.then((v) => v, (e) => `rejected ${e.code}: ${e.message}`);
      return { k42: await read(other.get("k42")), count: await read(other.allDocs().then((a) => a.rows.length)) };
    }, at("good.car"));
    assert.deepEqual(destroyed, { k42: { _id: "k42", n: 42, bucket: 2 }, count: 2000 });

  },

  async "two pages starting one new ledger from an archive at once: one import, both pages' writes on top"({ context, harness, url }) {
    // one page creates the database and publishes the archive before the commit lock is granted
    // (docs/format.md §14); the other opens it after the creation: the lock and the commit's
    // compare-and-set leave one import and every write
    const maker = await openPage(context, harness);
    const plain = await maker.evaluate(async () => {
      const db = window.fp.fireproof("archive-src3");
      await db.bulk(Array.from({ length: 1500 }, (_, i) => ({ _id: `k${i}`, n: i })));
      return Array.from(await db.exportCar());
    });
    mkdirSync(DIR, { recursive: true });
    writeFileSync(`${DIR}/two.car`, new Uint8Array(plain));
    const good = `${url}/${DIR}/two.car`;
    const pages = [await openPage(context, harness), await openPage(context, harness)];
    for (let round = 0; round < 3; round++) {
      const name = `two-${round}`;
      const seen = await Promise.all(pages.map((p, i) => p.evaluate(async ({ name, good, i }) => {
        const db = window.fp.fireproof(name, { archive: good });
        const d = await db.get("k7");
        const first = d.n ?? `by ${d.by}`; // the other page may have imported and written first
        await db.put({ _id: `mine-${i}`, n: i });
        await db.put({ _id: "k7", by: i });
        return first;
      }, { name, good, i })));
      assert.ok([7, "by 1"].includes(seen[0]) && [7, "by 0"].includes(seen[1]), `first reads: ${seen}`);
      const check = await openPage(context, harness);
      const r = await check.evaluate(async (name) => {
        const db = window.fp.fireproof(name);
        const all = await db.allDocs();
        const ch = await db.changes();
        return { count: all.rows.length, mine: all.rows.filter((x) => x.key.startsWith("mine-")).length, k7: (await db.get("k7")).by, changes: ch.rows.length };
      }, name);
      assert.deepEqual({ count: r.count, mine: r.mine }, { count: 1502, mine: 2 }, `round ${round}`);
      assert.ok(r.k7 === 0 || r.k7 === 1, `k7 is one page's write: ${r.k7}`);
      await check.close();
    }
  },

  async "an archive is readable before it is stored; if the store refuses it, later calls say why"({ context, harness, url }) {
    // the quota is lowered before this origin stores anything (Chromium applies it to an origin
    // whose storage is not open yet; the archive is made on another origin, "localhost"):
    // IndexedDB itself refuses the import's commit, after the first read was answered from it
    const maker = await openPage(context, harness.replace("127.0.0.1", "localhost"));
    const plain = await maker.evaluate(async () => {
      const db = window.fp.fireproof("archive-src2");
      await db.bulk(Array.from({ length: 3000 }, (_, i) => ({ _id: `k${i}`, n: i, text: "t".repeat(200) })));
      const car = Array.from(await db.exportCar());
      await db.destroy();
      return car;
    });
    mkdirSync(DIR, { recursive: true });
    writeFileSync(`${DIR}/quota.car`, new Uint8Array(plain));
    const good = `${url}/${DIR}/quota.car`;
    const page = await openPage(context, harness);
    const cdp = await context.newCDPSession(page);
    const origin = new URL(url).origin;
    await cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize: 200_000 });
    const full = await page.evaluate(async (good) => {
      const db = window.fp.fireproof("archive-full", { archive: good });
      const first = await db.get("k7").then((d) => d.n, (e) => e.code);
      const put = await db.put({ _id: "x" }).then(() => "stored", (e) => e.code);
      const later = await db.get("k7").then((d) => d.n, (e) => e.code);
      return { first, put, later };
    }, good);
    assert.ok(full.first === 7 || full.first === "QUOTA", `first read: ${full.first}`);
    assert.deepEqual({ put: full.put, later: full.later }, { put: "QUOTA", later: "QUOTA" });
    await cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize: 1_000_000_000 });
    const p2 = await openPage(context, harness);
    const retry = await p2.evaluate(async (good) => {
      const db = window.fp.fireproof("archive-full", { archive: good });
      return [(await db.get("k7")).n, (await db.allDocs()).rows.length];
    }, good);
    assert.deepEqual(retry, [7, 3000]);
  },
};
