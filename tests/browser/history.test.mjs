// History in real Chromium (docs/format.md §15): db.at(clock) reads an older state with get,
// allDocs, changes and query; db.rollback(clock) commits it; compaction makes old clocks
// HISTORY_GONE.
import assert from "node:assert/strict";
import { openPage } from "./util.mjs";

export const tests = {
  async "a random history against a plain model: allDocs options, changes(since) and its limit, at(clock) views, subscriber deliveries"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const rnd = window.rng(5); // mulberry32 (harness.html)
      const ID = (i) => `d${String(i).padStart(2, "0")}`;
      const show = (v) => JSON.stringify(v, (_, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]])) : x));
      const db = window.fp.fireproof("history-model");
      const heard = [];
      db.subscribe((docs) => heard.push(...docs.map(show)), true);
      // the model: id -> { doc, at } (at: the write's number; doc undefined once deleted)
      const state = new Map();
      const told = []; // what subscribers must hear, in order
      const steps = []; // [clock, a copy of the state] after each awaited step
      let w = 0;
      // one commit's writes: subscribers hear each id once, in the place of its last write
      const commit = (writes) => {
        const last = new Map(writes.map(([id], i) => [id, i]));
        writes.forEach(([id, doc], i) => {
          state.set(id, { doc, at: ++w });
          if (last.get(id) === i) told.push(show(doc ?? { _id: id, _deleted: true }));
        });
      };
      const write = (id, doc) => commit([[id, doc]]);
      const live = () => [...state].filter(([, v]) => v.doc);
      for (let step = 0; step < 80; step++) {
        const kind = rnd(4);
        let res;
        if (kind === 0) {
          const doc = { _id: ID(rnd(40)), n: step, s: "x".repeat(rnd(3)) };
          write(doc._id, doc);
          res = await db.put(doc);
        } else if (kind === 1) {
          // a bulk may write an id twice: it is stored once, in the place of its last write
          const docs = Array.from({ length: 1 + rnd(5) }, (_, i) => ({ _id: ID(rnd(40)), n: step * 10 + i }));
          commit(docs.map((d) => [d._id, d]));
          res = await db.bulk(docs);
        } else if (kind === 2 && live().length > 0) {
          const [id] = live()[rnd(live().length)];
          write(id, undefined);
          res = await db.del(id);
        } else {
          // puts and dels in one tick (an id may come twice, a del may follow a put of its id):
          // one commit here, applied in the order they were called
          const writes = [];
          const calls = [];
          for (let i = 2 + rnd(3); i > 0; i--) {
            const id = ID(rnd(12));
            const earlier = writes.findLast(([x]) => x === id);
            const exists = earlier ? earlier[1] : state.get(id)?.doc;
            if (exists && rnd(2) === 0) {
              writes.push([id, undefined]);
              calls.push(db.del(id));
            } else {
              const doc = { _id: id, n: -step - i / 10 };
              writes.push([id, doc]);
              calls.push(db.put(doc));
            }
          }
          commit(writes);
          res = (await Promise.all(calls)).at(-1);
        }
        steps.push([res.clock, new Map(state), w]);
      }
      const bad = [];
      const check = (what, got, want) => got === want || bad.push(`${what}: got ${got}, want ${want}`);
      const byId = (a, b) => (a[0] < b[0] ? -1 : 1);
      // allDocs and its options
      const all = live().sort(byId).map(([, v]) => show(v.doc));
      check("allDocs", show((await db.allDocs()).rows.map((x) => show(x.value))), show(all));
      check("allDocs desc limit", show((await db.allDocs({ descending: true, limit: 5 })).rows.map((x) => show(x.value))), show([...all].reverse().slice(0, 5)));
      check("allDocs prefix", show((await db.allDocs({ prefix: "d1" })).rows.map((x) => x.key)), show(live().map(([id]) => id).filter((id) => id.startsWith("d1")).sort()));
      const keys = [ID(3), ID(41), ID(7), ID(3)];
      check("allDocs keys", show((await db.allDocs({ keys })).rows.map((x) => x.key)), show(keys.filter((k) => state.get(k)?.doc)));
      // changes since each recorded clock: what was written after it, each id once, oldest first
      const changed = (after) => [...state].filter(([, v]) => v.at > after).sort((a, b) => a[1].at - b[1].at);
      const row = ([id, v]) => (v.doc ? show(v.doc) : `${id} deleted`);
      const gotRow = (x) => (x.value._deleted === true ? `${x.key} deleted` : show(x.value));
      check("changes([])", show((await db.changes()).rows.map(gotRow)), show(changed(0).map(row)));
      check("changes limit 7", show((await db.changes([], { limit: 7 })).rows.map(gotRow)), show(changed(0).slice(-7).map(row)));
      for (let k = 0; k < 12; k++) {
        const [clock, then, after] = steps[rnd(steps.length)];
        check(`changes(since step ${after})`, show((await db.changes(clock)).rows.map(gotRow)), show(changed(after).map(row)));
        const view = db.at(clock);
        const thenLive = [...then].filter(([, v]) => v.doc).sort(byId).map(([, v]) => show(v.doc));
        check(`at(${after}).allDocs`, show((await view.allDocs()).rows.map((x) => show(x.value))), show(thenLive));
        const id = ID(rnd(40));
        const got = await view.get(id).then(show, (e) => e.code);
        check(`at(${after}).get(${id})`, got, then.get(id)?.doc ? show(then.get(id).doc) : "ENOENT");
      }
      await new Promise((res) => setTimeout(res, 50));
      const at = told.findIndex((x, i) => heard[i] !== x);
      if (at >= 0 || heard.length !== told.length) bad.push(`subscribers (${heard.length} heard, ${told.length} told) from #${at}: heard ${heard.slice(at, at + 4)}, want ${told.slice(at, at + 4)}`);
      return bad;
    });
    assert.deepEqual(r, []);
  },

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
      // without a clock, rollback refuses (it does not read as [], which would empty the ledger)
      seen.rollbackNone = [await db.rollback().then(() => "done", (e) => e.code), await db.rollback(null).then(() => "done", (e) => e.code)];
      seen.stillThere = (await db.allDocs()).rows.length;
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
    assert.deepEqual(r.seen.rollbackNone, ["INVALID_ARG", "INVALID_ARG"]);
    assert.equal(r.seen.stillThere, 3);
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
