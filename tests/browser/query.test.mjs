// query() through the built package: options, persistence across reloads, incremental updates,
// snapshots and live re-queries.
import assert from "node:assert/strict";
import { openPage } from "./util.mjs";

export const tests = {
  async "field and map-function queries with composable options"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("q-options");
      await db.bulk([
        { _id: "a", n: 0, s: "", b: false, t: "apple", y: 2023, m: 11 },
        { _id: "b", n: 1, s: "ab", b: true, t: "apricot", y: 2024, m: 1 },
        { _id: "c", n: 2, s: "abc", t: "banana", y: 2024, m: 2 },
        { _id: "d", n: 2, s: "b", t: "app", y: 2024, m: 12 },
        { _id: "e", s: null, t: "cherry", y: 2025, m: 1 },
      ]);
      const ids = (res) => res.rows.map((x) => x.id);
      const out = {};
      out.byN = await db.query("n");
      out.key0 = ids(await db.query("n", { key: 0 }));
      out.keyEmpty = ids(await db.query("s", { key: "" }));
      out.keyFalse = ids(await db.query("b", { key: false }));
      out.keys = ids(await db.query("n", { keys: [2, 0, 7] }));
      out.range = ids(await db.query("n", { range: [1, 2] }));
      out.desc = ids(await db.query("n", { descending: true, limit: 2 }));
      out.noDocs = await db.query("n", { includeDocs: false, limit: 1 });
      out.strPrefix = ids(await db.query("t", { prefix: "ap" }));
      const ym = (doc, emit) => emit([doc.y, doc.m], doc.t);
      out.arrPrefix = (await db.query(ym, { prefix: [2024] })).rows.map((x) => [x.key, x.value]);
      // a scalar prefix is also the one-element array prefix (as in Fireproof)
      out.scalarPrefix = (await db.query(ym, { prefix: 2024 })).rows.map((x) => [x.key, x.value]);
      out.scalarPrefixDesc = ids(await db.query(ym, { prefix: 2024, descending: true }));
      const mixed = (doc, emit) => {
        emit(doc.t);
        emit([doc.t, doc.y]);
      };
      out.strPrefixMixed = (await db.query(mixed, { prefix: "app" })).rows.map((x) => x.key);
      out.arrRange = ids(await db.query(ym, { range: [[2023, 12], [2024, 2]] }));
      out.arrRangeDesc = ids(await db.query(ym, { range: [[2023, 12], [2024, 2]], descending: true }));
      out.returned = ids(await db.query((doc) => doc.t.length));
      let objErr;
      try {
        await db.query((doc, emit) => emit({ bad: true }));
      } catch (e) {
        objErr = `${e.code}|${e.message}`;
      }
      out.objErr = objErr;
      out.afterErr = ids(await db.query("n", { key: 1 }));
      // Open range ends, as in Fireproof's README: range: [30, Infinity]
      out.toInf = ids(await db.query("n", { range: [1, Infinity] }));
      out.fromNegInf = ids(await db.query("n", { range: [-Infinity, 1] }));
      out.arrToInf = ids(await db.query(ym, { range: [[2024, 2], [2024, Infinity]] }));
      out.keyInf = ids(await db.query("n", { key: Infinity }));
      let infDoc;
      try {
        await db.put({ _id: "inf", n: Infinity });
      } catch (e) {
        infDoc = e.code;
      }
      out.infDoc = infDoc;
      return out;
    });
    assert.deepEqual(r.byN.rows.map((x) => [x.key, x.id, x.value]), [[0, "a", null], [1, "b", null], [2, "c", null], [2, "d", null]]);
    assert.deepEqual(r.byN.docs.map((d) => d._id), ["a", "b", "c", "d"]);
    assert.deepEqual(r.byN.rows[0].doc, { _id: "a", n: 0, s: "", b: false, t: "apple", y: 2023, m: 11 });
    assert.deepEqual(r.key0, ["a"]);
    assert.deepEqual(r.keyEmpty, ["a"]);
    assert.deepEqual(r.keyFalse, ["a"]);
    assert.deepEqual(r.keys, ["c", "d", "a"]);
    assert.deepEqual(r.range, ["b", "c", "d"]);
    assert.deepEqual(r.desc, ["d", "c"]);
    assert.deepEqual(r.noDocs, { rows: [{ key: 0, id: "a", value: null }] });
    assert.deepEqual(r.strPrefix, ["d", "a", "b"]);
    assert.deepEqual(r.arrPrefix, [[[2024, 1], "apricot"], [[2024, 2], "banana"], [[2024, 12], "app"]]);
    assert.deepEqual(r.scalarPrefix, r.arrPrefix);
    assert.deepEqual(r.scalarPrefixDesc, ["d", "c", "b"]);
    // strings starting with "app", then arrays whose first element is exactly "app"
    assert.deepEqual(r.strPrefixMixed, ["app", "apple", ["app", 2024]]);
    assert.deepEqual(r.arrRange, ["b", "c"]);
    assert.deepEqual(r.arrRangeDesc, ["c", "b"]);
    assert.deepEqual(r.returned, ["d", "a", "c", "e", "b"]);
    assert.match(r.objErr, /^INVALID_ARG\|.*objects cannot be keys/);
    assert.deepEqual(r.afterErr, ["b"]);
    assert.deepEqual(r.toInf, ["b", "c", "d"]);
    assert.deepEqual(r.fromNegInf, ["a", "b"]);
    assert.deepEqual(r.arrToInf, ["c", "d"]);
    assert.deepEqual(r.keyInf, []);
    assert.equal(r.infDoc, "INVALID_DOC");
  },

  async "indexes persist across a reload and update incrementally"({ context, harness }) {
    const page = await openPage(context, harness);
    const setup = await page.evaluate(async () => {
      const db = window.fp.fireproof("q-persist");
      await db.bulk(Array.from({ length: 50 }, (_, i) => ({ _id: `d${i}`, group: i % 5 })));
      let calls = 0;
      const byGroup = (doc, emit) => {
        calls++;
        emit(doc.group);
      };
      const first = (await db.query(byGroup, { key: 3 })).rows.length;
      // The index is stored right after the query answers (write-behind); close() waits for it.
      await db.close();
      return { first, calls };
    });
    assert.deepEqual(setup, { first: 10, calls: 50 });
    await page.reload();
    await page.waitForFunction(() => window.harnessReady === true);
    const after = await page.evaluate(async () => {
      const db = window.fp.fireproof("q-persist");
      let calls = 0;
      const byGroup = (doc, emit) => {
        calls++;
        emit(doc.group);
      };
      const again = (await db.query(byGroup, { key: 3 })).rows.length;
      const callsAfterReload = calls;
      await db.put({ _id: "d3", group: 4 });
      const moved = (await db.query(byGroup, { key: 3 })).rows.length;
      const callsAfterUpdate = calls - callsAfterReload;
      await db.del("d8");
      const afterDelete = (await db.query(byGroup, { key: 3 })).rows.length;
      return { again, callsAfterReload, moved, callsAfterUpdate, afterDelete, callsAfterDelete: calls - callsAfterReload - callsAfterUpdate };
    });
    assert.deepEqual(after, { again: 10, callsAfterReload: 0, moved: 9, callsAfterUpdate: 1, afterDelete: 8, callsAfterDelete: 0 });
  },

  async "a query started before a write sees the state before it"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("q-snapshot");
      await db.put({ _id: "a", v: 1 });
      await db.query("v");
      const q = db.query("v");
      const w = db.put({ _id: "b", v: 2 });
      const [res] = await Promise.all([q, w]);
      const later = await db.query("v");
      return { before: res.rows.map((x) => x.id), after: later.rows.map((x) => x.id) };
    });
    assert.deepEqual(r.before, ["a"]);
    assert.deepEqual(r.after, ["a", "b"]);
  },

  async "a subscriber re-querying sees new rows, also from another tab"({ context, harness }) {
    const a = await openPage(context, harness);
    const b = await openPage(context, harness);
    await a.evaluate(async () => {
      const db = window.fp.fireproof("q-live");
      window.seen = [];
      db.subscribe(async () => {
        const res = await db.query("kind", { key: "todo" });
        window.seen.push(res.rows.map((x) => x.id).join(","));
      });
      await db.put({ _id: "t1", kind: "todo" });
    });
    await a.waitForFunction(() => window.seen.includes("t1"));
    await b.evaluate(async () => {
      await window.fp.fireproof("q-live").put({ _id: "t2", kind: "todo" });
    });
    await a.waitForFunction(() => window.seen.includes("t1,t2"), null, { timeout: 15_000 });
  },
};
