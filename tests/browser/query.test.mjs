// query() through the built package: options, persistence across reloads, incremental updates,
// snapshots and live re-queries.
import assert from "node:assert/strict";
import { openPage } from "./util.mjs";

export const tests = {
  async "random queries against a plain model: key, keys, range, prefix, descending, limit over mixed key types, a field and a multi-emit map function, before and after updates and a reopen"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const rnd = window.rng(11); // mulberry32 (harness.html)
      const pick = (a) => a[rnd(a.length)];
      const STR = ["", "a", "ap", "apple", "apricot", "a b", "ab", "b", "B", "\u00e9", "\u{1f600}", "\uffff"];
      const scalar = () => [() => rnd(7) - 3, () => pick([-1.5, 0.25, 2.5, 1e21]), () => pick(STR), () => rnd(2) === 0, () => null][rnd(5)]();
      const key = () => (rnd(4) === 0 ? Array.from({ length: rnd(4) }, () => (rnd(8) === 0 ? [scalar()] : scalar())) : scalar());
      // collation (docs/format.md §12): null < false < true < numbers < strings < arrays
      const rank = (k) => (k === null ? 0 : k === false ? 1 : k === true ? 2 : typeof k === "number" ? 3 : typeof k === "string" ? 4 : 5);
      const cmp = (a, b) => {
        const d = rank(a) - rank(b);
        if (d !== 0 || rank(a) < 3) return d;
        if (rank(a) === 3) return a < b ? -1 : a > b ? 1 : 0;
        if (rank(a) === 4) return a < b ? -1 : a > b ? 1 : 0;
        for (let i = 0; i < Math.min(a.length, b.length); i++) {
          const c = cmp(a[i], b[i]);
          if (c !== 0) return c;
        }
        return a.length - b.length;
      };
      const eq = (a, b) => cmp(a, b) === 0;
      const prefixed = (k, p) => {
        if (Array.isArray(p)) return Array.isArray(k) && k.length >= p.length && p.every((x, i) => eq(k[i], x));
        if (Array.isArray(k)) return k.length >= 1 && eq(k[0], p);
        return typeof p === "string" ? typeof k === "string" && k.startsWith(p) : eq(k, p);
      };
      // the rows of the two indexes: a field query indexes neither missing nor null fields
      // (docs/format.md §12.4); the map function emits each tag (null too) with the doc's n
      const fieldRows = (id, d) => (d.k !== undefined && d.k !== null ? [{ key: d.k, id, value: null }] : []);
      const tagRows = (id, d) => (d.tags ?? []).map((t, i) => ({ key: t, id, value: d.n ?? null, i }));
      const byTags = (doc, emit) => {
        for (const t of doc.tags ?? []) emit(t, doc.n);
      };
      const model = (docs, o, rowsOf) => {
        let rows = [...docs].flatMap(([id, d]) => rowsOf(id, d));
        // equal keys: by id, then in emit order
        rows.sort((x, y) => cmp(x.key, y.key) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0) || x.i - y.i);
        if ("key" in o) rows = rows.filter((x) => eq(x.key, o.key));
        if (o.range) rows = rows.filter((x) => cmp(o.range[0], x.key) <= 0 && cmp(x.key, o.range[1]) <= 0);
        if ("prefix" in o) rows = rows.filter((x) => prefixed(x.key, o.prefix));
        const groups = o.keys ? o.keys.map((k) => rows.filter((x) => eq(x.key, k))) : [rows];
        const out = groups.flatMap((g) => (o.descending ? [...g].reverse() : g));
        return "limit" in o ? out.slice(0, o.limit) : out;
      };
      const opts = () => {
        const o = {};
        if (rnd(4) === 0) o.key = key();
        if (rnd(5) === 0) o.keys = Array.from({ length: 1 + rnd(3) }, key);
        if (rnd(3) === 0) o.range = rnd(6) === 0 ? [pick([-Infinity, -2, "a"]), pick([Infinity, 1, "b"])] : [key(), key()];
        if (rnd(3) === 0) o.prefix = rnd(3) === 0 ? [scalar()] : scalar();
        if (rnd(2) === 0) o.descending = true;
        if (rnd(3) === 0) o.limit = rnd(12);
        return o;
      };
      const show = (v) => JSON.stringify(v, (_, x) => (x === Infinity ? "Inf" : x === -Infinity ? "-Inf" : x));
      const docs = new Map();
      let db = window.fp.fireproof("q-model");
      const batch = [];
      for (let i = 0; i < 300; i++) {
        const d = { _id: `d${String(i).padStart(3, "0")}` };
        if (rnd(10) > 0) d.k = key();
        if (rnd(3) > 0) d.tags = Array.from({ length: rnd(4) }, scalar);
        if (rnd(4) > 0) d.n = rnd(100);
        docs.set(d._id, d);
        batch.push(d);
      }
      await db.bulk(batch);
      const bad = [];
      let asked = 0;
      const round = async (n) => {
        for (let q = 0; q < n; q++) {
          const o = opts();
          const tags = q % 2 === 1;
          const got = (await db.query(tags ? byTags : "k", o)).rows.map((x) => ({ key: x.key, id: x.id, value: x.value, doc: x.doc?._id }));
          const want = model(docs, o, tags ? tagRows : fieldRows);
          asked++;
          const same = got.length === want.length && got.every((x, i) => eq(x.key, want[i].key) && x.id === want[i].id && (!tags || x.value === want[i].value) && x.doc === x.id);
          const rows = (v) => show(v.map((x) => [x.key, x.id, x.value]));
          if (!same) bad.push(`${tags ? "tags " : ""}${show(o)}: got ${rows(got)}, want ${rows(want)}`.slice(0, 800));
        }
      };
      await round(150);
      // updates, deletions and new documents, some in one batch: the index catches up (reads do
      // not wait for writes still queued, as in Fireproof, so the last ones are awaited)
      const pending = [];
      for (let i = 0; i < 60; i++) {
        const id = `d${String(rnd(330)).padStart(3, "0")}`;
        if (rnd(4) === 0 && docs.has(id)) {
          docs.delete(id);
          await db.del(id);
        } else {
          const d = { _id: id };
          if (rnd(8) > 0) d.k = key();
          if (rnd(3) > 0) d.tags = Array.from({ length: rnd(4) }, scalar);
          if (rnd(4) > 0) d.n = rnd(100);
          docs.set(id, d);
          if (rnd(2) === 0) await db.put(d);
          else pending.push(db.put(d));
        }
      }
      await Promise.all(pending);
      // the documents themselves agree with the model
      const stored = new Map((await db.allDocs()).rows.map((x) => [x.key, x.value]));
      for (const [id, d] of docs) if (show(stored.get(id)?.k) !== show(d.k) || !stored.has(id)) bad.push(`allDocs ${id}: ${show(stored.get(id))} vs ${show(d)}`);
      for (const id of stored.keys()) if (!docs.has(id)) bad.push(`allDocs has deleted ${id}`);
      await round(150);
      // reopened (the engine reads the stored indexes) and updated again
      await db.close();
      db = window.fp.fireproof("q-model");
      for (let i = 0; i < 20; i++) {
        const d = { _id: `d${String(rnd(330)).padStart(3, "0")}`, k: key(), tags: [scalar()], n: i };
        docs.set(d._id, d);
        await db.put(d);
      }
      await round(100);
      return { asked, bad: bad.slice(0, 5), nBad: bad.length };
    });
    assert.equal(r.asked, 400);
    assert.deepEqual(r.bad, []);
  },

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
