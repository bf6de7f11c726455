// History in real Chromium (docs/format.md §15): db.at(clock) reads an older state with get,
// allDocs, changes and query; db.rollback(clock) commits it; compaction makes old clocks
// HISTORY_GONE.
import assert from "node:assert/strict";
import { openPage } from "./util.mjs";

export const tests = {
  async "at(clock) reads the state then; rollback commits it; after compaction old clocks are HISTORY_GONE"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("history");
      const c1 = (await db.bulk([{ _id: "a", n: 1, tag: "x" }, { _id: "b", n: 2, tag: "y" }, { _id: "c", n: 3, tag: "x" }])).clock;
      const c2 = (await db.put({ _id: "a", n: 10, tag: "y" })).clock;
      await db.del("b");
      await db.put({ _id: "d", n: 4, tag: "x" });
      await db.query("tag", { key: "x" }); // the current index exists before the views query
      const v1 = db.at(c1);
      const seen = {
        get: await v1.get("a"),
        missing: await v1.get("d").catch((e) => e.code),
        all: (await v1.allDocs()).rows.map((x) => x.key),
        changes: (await v1.changes()).rows.map((x) => x.key),
        field: (await v1.query("tag", { key: "x" })).rows.map((x) => x.id),
        mapped: (await v1.query((doc, emit) => emit(doc.n * 2), { range: [2, 4] })).rows.map((x) => [x.id, x.key]),
        v2a: await db.at(c2).get("a"),
        empty: (await db.at([]).allDocs()).rows.length,
        nowField: (await db.query("tag", { key: "x" })).rows.map((x) => x.id),
      };
      const bad = [];
      for (const c of ["nope", 42, null, [{ "/": "not-a-cid" }], ["bafyreigarbage"]]) {
        try {
          await db.at(c).get("a");
          bad.push("read");
        } catch (e) {
          bad.push(e.code ?? String(e));
        }
      }
      seen.bad = bad;
      seen.rollbackBad = await db.rollback("nope").then(() => "done", (e) => e.code);
      const notified = [];
      db.subscribe((docs) => notified.push(...docs.map((d) => d._id).sort()), true);
      const before = (await db.info()).seq;
      const rb = await db.rollback(c1);
      const after = {
        all: (await db.allDocs()).rows.map((x) => [x.key, x.value.n]),
        seq: (await db.info()).seq - before,
        clockIsHead: rb.clock[0].toString() === (await db.info()).clock[0].toString(),
      };
      await new Promise((res) => setTimeout(res, 50));
      await db.compact();
      return { seen, after, notified, c1: c1.map(String), head: (await db.info()).clock.map(String) };
    });
    assert.deepEqual(r.seen.get, { _id: "a", n: 1, tag: "x" });
    assert.equal(r.seen.missing, "ENOENT");
    assert.deepEqual(r.seen.all, ["a", "b", "c"]);
    assert.deepEqual(r.seen.changes, ["a", "b", "c"]);
    assert.deepEqual(r.seen.field, ["a", "c"]);
    assert.deepEqual(r.seen.mapped, [["a", 2], ["b", 4]]);
    assert.deepEqual(r.seen.v2a, { _id: "a", n: 10, tag: "y" });
    assert.equal(r.seen.empty, 0);
    // null reads as the empty clock ([]), where "a" does not exist
    assert.deepEqual(r.seen.bad, ["INVALID_ARG", "INVALID_ARG", "ENOENT", "INVALID_ARG", "INVALID_ARG"]);
    assert.equal(r.seen.rollbackBad, "INVALID_ARG");
    assert.deepEqual(r.seen.nowField, ["c", "d"], "the views did not touch the ledger's index");
    assert.deepEqual(r.after.all, [["a", 1], ["b", 2], ["c", 3]]);
    assert.equal(r.after.seq, 1, "one commit");
    assert.ok(r.after.clockIsHead);
    assert.deepEqual(r.notified, ["a", "b", "d"]);

    // a fresh page (no cached blocks) after the compaction: only the current clock reads
    await page.reload();
    await page.waitForFunction(() => window.harnessReady === true);
    const gone = await page.evaluate(async ({ c1, head }) => {
      const db = window.fp.fireproof("history");
      const toClock = (ss) => ss; // clocks as strings are accepted
      const codes = [];
      for (const read of [(v) => v.get("a"), (v) => v.allDocs(), (v) => v.query("tag", { key: "x" })]) {
        codes.push(await read(db.at(toClock(c1))).then(() => "read", (e) => e.code));
      }
      const rollback = await db.rollback(toClock(c1)).then(() => "done", (e) => e.code);
      const current = (await db.at(toClock(head)).allDocs()).rows.length;
      return { codes, rollback, current };
    }, { c1: r.c1, head: r.head });
    assert.deepEqual(gone, { codes: ["HISTORY_GONE", "HISTORY_GONE", "HISTORY_GONE"], rollback: "HISTORY_GONE", current: 3 });
  },
};
