// migrateFromFireproof in real Chromium: a ledger written by @fireproof/core 0.24.19 (the page
// tests/migrate/, built into target/migrate-test by scripts/test.sh) is migrated by the built
// package (pkg/) in the same origin.
import assert from "node:assert/strict";
import { openPage } from "./util.mjs";

async function writer(context, url) {
  const page = await context.newPage();
  await page.goto(`${url}/target/migrate-test/`);
  await page.waitForFunction(() => window.fpw?.ready === true);
  return page;
}

const byId = (docs) => Object.fromEntries(docs.map((d) => [d._id, d]));

/** The ferroproof ledger's documents (byte arrays as `{bytes}`, `_files` apart) and the file's name, type and bytes. */
async function ferroproofDocs(page, name) {
  return page.evaluate(async (name) => {
    const db = window.fp.fireproof(name);
    const { rows } = await db.allDocs();
    const docs = [];
    let file;
    for (const { value } of rows) {
      const { _files, ...rest } = value;
      for (const [k, v] of Object.entries(rest)) if (v instanceof Uint8Array) rest[k] = { bytes: Array.from(v) };
      docs.push(rest);
      if (_files) {
        const f = await _files["pixel.bin"].file();
        file = { id: value._id, name: f.name, type: f.type, lastModified: f.lastModified, bytes: Array.from(new Uint8Array(await f.arrayBuffer())) };
      }
    }
    await db.close();
    return { docs, file };
  }, name);
}

export const tests = {
  async "a Fireproof 0.24.19 ledger (updates, deletes, a file, compacted twice) migrates with every live document equal"({ context, url, harness }) {
    const w = await writer(context, url);
    const src = await w.evaluate(() => window.fpw.write("fp-mig", 230));
    assert.equal(src.commits, 230);
    // Fireproof's compaction (every 100 CARs) ran and the second one removed the CARs the first superseded
    assert.ok(src.cars < src.commits, `${src.cars} CARs left after ${src.commits} commits`);
    assert.deepEqual(byId(src.live), byId(src.model), "Fireproof reads back what was written");
    assert.ok(src.deleted.length >= 3, `${src.deleted.length} deleted`); // others were deleted, then put again

    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const seen = [];
      const res = await window.fp.migrateFromFireproof("fp-mig", { batch: 25, onProgress: (p) => seen.push(p) });
      return { res, phases: [...new Set(seen.map((p) => p.phase))], cars: seen.filter((p) => p.phase === "read").length, writes: seen.filter((p) => p.phase === "write").map((p) => p.docs), last: seen.at(-1) };
    });
    assert.deepEqual(r.phases, ["read", "write", "done"]);
    // only the car log is read: the last compaction's CAR and the commits after it, not the superseded CARs still stored
    assert.ok(r.cars > 1 && r.cars < src.cars / 2, `${r.cars} of ${src.cars} CARs read`);
    assert.deepEqual(r.writes, Array.from({ length: Math.ceil(src.live.length / 25) }, (_, i) => Math.min(25 * (i + 1), src.live.length)));
    assert.deepEqual(r.last, { phase: "done", docs: src.live.length, total: src.live.length });
    assert.equal(r.res.docs, src.live.length);
    assert.equal(r.res.files, 1);
    assert.deepEqual(r.res.skipped, []);
    assert.deepEqual(r.res.lost, { docs: [], files: [], subtrees: 0 });
    assert.equal(r.res.deleted, src.deleted.length);

    const got = await ferroproofDocs(page, "fp-mig");
    assert.deepEqual(byId(got.docs), byId(src.live));
    for (const id of src.deleted) assert.equal(byId(got.docs)[id], undefined, `${id} was deleted`);
    assert.deepEqual(got.file, src.file);

    // Fireproof's own ledger is untouched: a fresh Fireproof instance reads the same documents
    await w.reload();
    await w.waitForFunction(() => window.fpw?.ready === true);
    assert.deepEqual(byId(await w.evaluate(() => window.fpw.read("fp-mig"))), byId(src.live));
    assert.equal((await w.evaluate(() => window.fpw.dataKeys("fp-mig"))).length, src.cars);
  },

  async "a corrupt Fireproof CAR rejects with CORRUPT naming it and writes nothing; skipCorrupt reports it and migrates the rest"({ context, url, harness }) {
    const w = await writer(context, url);
    const src = await w.evaluate(() => window.fpw.write("fp-bad", 30));
    const cars = await w.evaluate(() => window.fpw.putTracked("fp-bad", { _id: "victim", text: "in the damaged CAR" }));
    assert.equal(cars.length, 1);
    await w.evaluate(async () => {
      for (let i = 0; i < 3; i++) await window.fpw.putTracked("fp-bad", { _id: `after-${i}`, i });
    });
    await w.evaluate((car) => window.fpw.flip("fp-bad", car), cars[0]);

    const page = await openPage(context, harness);
    const err = await page.evaluate(async () => {
      try {
        await window.fp.migrateFromFireproof("fp-bad");
        return null;
      } catch (e) {
        return { code: e.code, message: e.message, dbs: (await indexedDB.databases()).map((d) => d.name) };
      }
    });
    assert.equal(err?.code, "CORRUPT");
    assert.ok(err.message.includes(cars[0]), err.message);
    assert.ok(!err.dbs.some((n) => n.startsWith("ferroproof")), `nothing written: ${err.dbs}`);

    const r = await page.evaluate(() => window.fp.migrateFromFireproof("fp-bad", { skipCorrupt: true }));
    assert.deepEqual(r.skipped, [cars[0]]);
    assert.deepEqual(r.lost, { docs: ["victim"], files: [], subtrees: 0 });
    const got = await ferroproofDocs(page, "fp-bad");
    const want = byId(src.live);
    for (let i = 0; i < 3; i++) want[`after-${i}`] = { _id: `after-${i}`, i };
    assert.deepEqual(byId(got.docs), want);
    assert.equal(r.docs, Object.keys(want).length);
  },

  async "a ledger whose key is missing from fp-keybag rejects with DECRYPT and writes nothing"({ context, url, harness }) {
    const w = await writer(context, url);
    await w.evaluate(() => window.fpw.write("fp-nokey", 5));
    await w.evaluate(() => window.fpw.dropKey("fp-nokey"));
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      try {
        await window.fp.migrateFromFireproof("fp-nokey", { skipCorrupt: true });
        return null;
      } catch (e) {
        return { code: e.code, message: e.message, dbs: (await indexedDB.databases()).map((d) => d.name) };
      }
    });
    assert.equal(r?.code, "DECRYPT");
    assert.match(r.message, /no key in fp-keybag for Fireproof CAR baembei/);
    assert.ok(!r.dbs.some((n) => n.startsWith("ferroproof")), `nothing written: ${r.dbs}`);
  },

  async "IndexedDB failing a read rejects with STORAGE, even with skipCorrupt (a read error is not damage), and writes nothing"({ context, url, harness }) {
    const w = await writer(context, url);
    await w.evaluate(() => window.fpw.write("fp-ioerr", 5));
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      // the CAR store's reads fail as a failing disk makes them fail
      const get = IDBObjectStore.prototype.get;
      IDBObjectStore.prototype.get = function (key) {
        if (this.name === "data") throw new DOMException("the disk said no", "UnknownError");
        return get.call(this, key);
      };
      try {
        const res = await window.fp.migrateFromFireproof("fp-ioerr", { skipCorrupt: true });
        return { resolved: res };
      } catch (e) {
        return { code: e.code, message: e.message, dbs: (await indexedDB.databases()).map((d) => d.name) };
      } finally {
        IDBObjectStore.prototype.get = get;
      }
    });
    assert.equal(r.code, "STORAGE", JSON.stringify(r));
    assert.match(r.message, /the disk said no/);
    assert.ok(!r.dbs.some((n) => n.startsWith("ferroproof")), `nothing written: ${r.dbs}`);
  },

  async "two heads (two branches of one clock) merge in pail's order"({ context, url, harness }) {
    const w = await writer(context, url);
    const base = await w.evaluate(() => window.fpw.write("fp-a", 12));
    await w.evaluate(() => window.fpw.copyLedger("fp-a", "fp-b"));
    // each branch: three commits after the shared history; "k" is written on both
    await w.evaluate(() => window.fpw.putAll("fp-a", [{ _id: "k", from: "a" }, { _id: "x", from: "a" }, { _id: "doc-003", from: "a" }]));
    await w.evaluate(() => window.fpw.putAll("fp-b", [{ _id: "y", from: "b" }, { _id: "k", from: "b" }, { _id: "doc-004", from: "b" }]));
    await w.evaluate(() => window.fpw.joinLedgers("fp-a", "fp-b"));

    const page = await openPage(context, harness);
    const r = await page.evaluate(() => window.fp.migrateFromFireproof("fp-a"));
    const got = byId((await ferroproofDocs(page, "fp-a")).docs);
    const want = byId(base.live);
    Object.assign(want, byId([{ _id: "x", from: "a" }, { _id: "y", from: "b" }, { _id: "doc-003", from: "a" }, { _id: "doc-004", from: "b" }]));
    // pail replays the events after the common ancestor heaviest first (the sum of their depths
    // below the heads): a's "k" (depth 2) before b's (depth 1), so b's write wins although the
    // meta lists a's head first
    want.k = { _id: "k", from: "b" };
    assert.deepEqual(got, want);
    assert.equal(r.docs, Object.keys(want).length);
  },

  async "no Fireproof ledger of that name: ENOENT, and no database is created"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      let code;
      try {
        await window.fp.migrateFromFireproof("never-written");
      } catch (e) {
        code = e.code;
      }
      return { code, dbs: (await indexedDB.databases()).map((d) => d.name) };
    });
    assert.deepEqual(r, { code: "ENOENT", dbs: [] });
  },
};
