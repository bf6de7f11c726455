// Differential compatibility test: the same public API calls against the real @fireproof/core
// 0.24.19 and against ferroproof (the built package, pkg/) in one page (tests/compat/, built into
// target/compat-test by scripts/test.sh). Each scenario runs in the page once per library; every
// step's result is normalised (clock CIDs, generated ids and errors reduced to their shapes; key
// order kept) and the two traces are compared step by step. Where docs/differences.md documents a
// deliberate difference, the step states both libraries' answers.
import assert from "node:assert/strict";

/** Installed in the page: turns results into JSON-comparable values that keep what matters. */
function pageHelpers() {
  const isCid = (l) => l !== null && typeof l === "object" && /^baf[a-z2-7]{20,}$/.test(String(l));
  const clock = (c) => {
    if (Array.isArray(c)) return c.map((l) => (isCid(l) ? "<cid>" : { notCid: norm(l) }));
    return isCid(c) ? "<cid>" : { notClock: norm(c) };
  };
  function norm(x) {
    if (x === undefined) return "<undefined>";
    if (typeof x === "number") {
      if (Number.isNaN(x)) return "<NaN>";
      if (!Number.isFinite(x) || Object.is(x, -0)) return `<${Object.is(x, -0) ? "-0" : x}>`;
      return x;
    }
    if (typeof x === "bigint" || typeof x === "function" || typeof x === "symbol") return `<${typeof x}>`;
    if (typeof x !== "object" || x === null) return x;
    if (x instanceof Error) return { error: { isError: true, name: x.name, code: x.code ?? "<none>", message: x.message } };
    if (x instanceof Uint8Array) return { bytes: Array.from(x) };
    if (Array.isArray(x)) return x.map(norm);
    const proto = Object.getPrototypeOf(x);
    const out = proto === Object.prototype || proto === null ? {} : { "<class>": proto?.constructor?.name };
    for (const k of Object.keys(x)) out[k] = k === "clock" ? clock(x[k]) : norm(x[k]);
    return out;
  }
  /** Every object's key order, by path (only objects with two or more keys). */
  function order(x, path = "", out = {}) {
    if (x === null || typeof x !== "object" || x instanceof Uint8Array || x instanceof Error) return out;
    if (Array.isArray(x)) {
      x.forEach((v, i) => order(v, `${path}[${i}]`, out));
      return out;
    }
    const keys = Object.keys(x);
    if (keys.length > 1) out[path || "."] = keys.join(",");
    for (const k of keys) if (k !== "clock") order(x[k], path ? `${path}.${k}` : k, out);
    return out;
  }
  /** Records steps: the value (or rejection) of each, normalised, and its key order. */
  function trace() {
    const steps = [];
    return {
      steps,
      async step(name, fn) {
        let v;
        try {
          v = await fn();
        } catch (e) {
          steps.push([name, { rejected: norm(e) }, {}]);
          return undefined;
        }
        steps.push([name, norm(v), order(v)]);
        return v;
      },
    };
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  window.compat = { norm, order, trace, sleep };
}

async function openCompat(context, url) {
  const page = await context.newPage();
  await page.goto(`${url}/target/compat-test/`);
  await page.waitForFunction(() => window.compatReady === true);
  await page.evaluate(`(${pageHelpers.toString()})()`);
  return page;
}

/**
 * Runs `scenario(fireproof, t, helpers, lib)` in the page once per library (`fireproof` is that
 * library's `fireproof()`, `lib` its whole module, `t.step(name, fn)` records a step); returns
 * both traces. Each run uses
 * its own ledger names' storage (Fireproof's `fp.*`, ferroproof's `ferroproof.*` databases).
 */
async function both(page, scenario) {
  const run = (lib) =>
    page.evaluate(
      async ([lib, src]) => {
        const scenario = (0, eval)(`(${src})`);
        const t = window.compat.trace();
        await scenario(window.libs[lib].fireproof, t, window.compat, window.libs[lib]);
        return t.steps;
      },
      [lib, scenario.toString()],
    );
  return { fire: await run("fireproof"), ferro: await run("ferroproof") };
}

/**
 * Compares the traces step by step: every step must give the same normalised value and the same
 * key order in both, except the steps named in `differ`, whose function asserts each library's
 * own answer (a difference documented in docs/differences.md, or a known gap named there).
 * All mismatches are reported together. COMPAT_TRACE=1 prints both traces.
 */
function compare({ fire, ferro }, differ = {}) {
  if (process.env.COMPAT_TRACE) for (const [i, [name, v]] of fire.entries()) console.log(`    ${name}\n      fireproof:  ${JSON.stringify(v)}\n      ferroproof: ${JSON.stringify(ferro[i][1])}`);
  assert.deepEqual(ferro.map((s) => s[0]), fire.map((s) => s[0]), "same steps");
  for (const name of Object.keys(differ)) assert.ok(fire.some((s) => s[0] === name), `no step ${name}`);
  const bad = [];
  for (let i = 0; i < fire.length; i++) {
    const [name, fv, fo] = fire[i];
    const [, mv, mo] = ferro[i];
    try {
      // a step ours did not settle in time fails, even where Fireproof hangs too
      assert.ok(!JSON.stringify(mv ?? null).includes('"<hung>"'), `${name}: ferroproof did not settle`);
      if (differ[name]) differ[name]({ value: fv, order: fo }, { value: mv, order: mo });
      else {
        assert.deepEqual(mv, fv, name);
        assert.deepEqual(mo, fo, `${name} (key order)`);
      }
    } catch (e) {
      bad.push(`${name}: ${e.message}\n  fireproof:  ${JSON.stringify(fv)} ${JSON.stringify(fo)}\n  ferroproof: ${JSON.stringify(mv)} ${JSON.stringify(mo)}`);
    }
  }
  if (bad.length) assert.fail(`${bad.length} of ${fire.length} steps differ:\n${bad.join("\n")}`);
}

/** The error a step rejected with (fails if it resolved). */
function rejection(side, name) {
  assert.ok(side.value?.rejected?.error, `${name} should reject, got ${JSON.stringify(side.value)}`);
  return side.value.rejected.error;
}

/** Fireproof's validation errors: a plain Error whose message is a JSON log line. */
function fireproofLogError(side, msg) {
  const e = rejection(side, "Fireproof");
  assert.equal(e.name, "Error");
  assert.equal(e.code, "<none>");
  assert.match(e.message, msg);
}

function databaseError(side, code, message) {
  assert.deepEqual(rejection(side, "ferroproof"), { isError: true, name: "DatabaseError", code, message });
}

/** `NotFoundError` for `id`: Fireproof's repeats its message and is named "Error" (documented). */
function notFound(id) {
  return (f, m) => {
    assert.deepEqual(rejection(f, "Fireproof"), { isError: true, name: "Error", code: "ENOENT", message: `Not found: ${id} - Not found: ${id}` });
    assert.deepEqual(rejection(m, "ferroproof"), { isError: true, name: "NotFoundError", code: "ENOENT", message: `Not found: ${id}` });
  };
}

export const tests = {
  async "put, get, del, remove, bulk: results, stored documents, errors"({ context, url }) {
    const page = await openCompat(context, url);
    const traces = await both(page, async (fireproof, t) => {
      const db = fireproof("compat-crud");
      await t.step("put with _id", () => db.put({ _id: "a", n: 1, s: "x" }));
      await t.step("put without _id", async () => {
        const r = await db.put({ n: 2 });
        return { ...r, id: r.id.replace(/[0-9a-f]/g, "h"), got: await db.get(r.id).then((d) => ({ ...d, _id: d._id === r.id })) };
      });
      await t.step("get", () => db.get("a"));
      await t.step("get missing", () => db.get("nope"));
      await t.step("put update", () => db.put({ _id: "a", n: 3, extra: [1] }));
      await t.step("get updated", () => db.get("a"));
      await t.step("del", () => db.del("a"));
      await t.step("get after del", () => db.get("a"));
      await t.step("del missing", () => db.del("never"));
      await t.step("get after del missing", () => db.get("never"));
      await t.step("remove", async () => { await db.put({ _id: "r", x: 1 }); return db.remove("r"); });
      await t.step("get after remove", () => db.get("r"));
      await t.step("put again after del", async () => { await db.put({ _id: "a", back: true }); return db.get("a"); });
      await t.step("bulk", () => db.bulk([{ _id: "b1", i: 1 }, { _id: "b2", i: 2 }]));
      await t.step("get after bulk", async () => [await db.get("b1"), await db.get("b2")]);
      await t.step("bulk without ids", async () => {
        const r = await db.bulk([{ i: 3 }, { i: 4 }]);
        return { ...r, ids: r.ids.map((id) => id.replace(/[0-9a-f]/g, "h")), distinct: r.ids[0] !== r.ids[1], got: (await db.get(r.ids[1])).i };
      });
      await t.step("bulk same id twice", async () => { const r = await db.bulk([{ _id: "dup", v: 1 }, { _id: "dup", v: 2 }]); return { ids: r.ids, got: await db.get("dup") }; });
      await t.step("bulk []", () => db.bulk([]));
      await t.step("put _id empty string", async () => { const r = await db.put({ _id: "", e: 1 }); return { len: r.id.length, doc: await db.get(r.id).then((d) => ({ ...d, _id: d._id === r.id })) }; });
      await t.step("put _id null", async () => { const r = await db.put({ _id: null, e: 2 }); return { len: r.id.length, e: (await db.get(r.id)).e }; });
      await t.step("put _id undefined", async () => { const r = await db.put({ _id: undefined, e: 3 }); return { len: r.id.length, e: (await db.get(r.id)).e }; });
      await t.step("get empty id", () => db.get(""));
      await t.step("put null", () => db.put(null));
      await t.step("key order of get", async () => { await db.put({ zz: 1, _id: "ord", a: 2, AAA: 3, _ia: 4, _ie: 5, long: 6, m: { yy: 1, b: 2 } }); return db.get("ord"); });
      await t.step("get returns a copy", async () => { const d = await db.get("b1"); d.i = 99; return db.get("b1"); });
      await t.step("put does not keep the caller's object", async () => { const d = { _id: "c", v: 1 }; await db.put(d); d.v = 2; return db.get("c"); });
      await t.step("put a document read back", async () => { const d = await db.get("c"); d.w = true; await db.put(d); return db.get("c"); });
      await t.step("put _deleted: true is a field", async () => { await db.put({ _id: "dd", _deleted: true, x: 1 }); return db.get("dd"); });
      await t.step("a _deleted field in allDocs and changes", async () => {
        const has = (rows) => rows.filter((r) => r.key === "dd").map((r) => r.value);
        return { allDocs: has((await db.allDocs()).rows), includeDeleted: has((await db.allDocs({ includeDeleted: true })).rows), changes: has((await db.changes()).rows) };
      });
      await t.step("allDocs limit after leaving out _deleted fields", async () => {
        // ids sorting before every other one here (generated ids start with "0")
        await db.bulk([{ _id: "!del1", _deleted: true }, { _id: "!del2", _deleted: true }]);
        const keys = async (opts) => (await db.allDocs(opts)).rows.map((r) => (r.key.length === 36 ? "<generated>" : r.key));
        return { limited: await keys({ limit: 3 }), withDeleted: await keys({ limit: 3, includeDeleted: true }) };
      });
      await t.step("other underscore fields are kept", async () => { await db.put({ _id: "us", _rev: "1-x", _private: 1 }); return db.get("us"); });
    });
    compare(traces, {
      "get missing": notFound("nope"),
      "get after del": notFound("a"),
      "get after del missing": notFound("never"),
      "get after remove": notFound("r"),
      // documented: ferroproof resolves with the current head, Fireproof rejects
      "bulk []"(f, m) {
        fireproofLogError(f, /Missing result/);
        assert.deepEqual(m.value, { ids: [], clock: ["<cid>"], name: "compat-crud" });
      },
      // documented: INVALID_ARG instead of a plain Error with a log line
      "get empty id"(f, m) {
        fireproofLogError(f, /Doc id is required/);
        databaseError(m, "INVALID_ARG", "invalid argument: a document id is required");
      },
      // docs/differences.md: Fireproof fails with a TypeError from its destructuring
      "put null"(f, m) {
        assert.deepEqual(rejection(f, "Fireproof"), { isError: true, name: "TypeError", code: "<none>", message: "Cannot read properties of null (reading '_id')" });
        databaseError(m, "INVALID_DOC", "invalid document: field (root): a document must be a plain object");
      },
    });
  },

  async "allDocs and changes: rows, order, includeDeleted, limit, since"({ context, url }) {
    const page = await openCompat(context, url);
    const traces = await both(page, async (fireproof, t) => {
      const db = fireproof("compat-rows");
      await t.step("allDocs empty", () => db.allDocs());
      await t.step("changes empty", () => db.changes());
      await db.put({ _id: "m", v: 1, nested: { z: 1, a: [1] } });
      const c1 = await db.put({ _id: "b", v: 2 });
      await db.put({ _id: "z", v: 3 });
      await db.put({ _id: "a", v: 4 });
      await db.put({ _id: "m", v: 5 });
      await db.del("z");
      await db.put({ _id: "B", v: 6 });
      await db.put({ _id: "10", v: 7 });
      await db.put({ _id: "9", v: 8, long: "x", k: null });
      await t.step("allDocs", () => db.allDocs());
      await t.step("allDocs includeDeleted", () => db.allDocs({ includeDeleted: true }));
      await t.step("allDocs limit 2", () => db.allDocs({ limit: 2 }));
      await t.step("allDocs limit 0", () => db.allDocs({ limit: 0 }));
      await t.step("allDocs includeDeleted limit 4", () => db.allDocs({ includeDeleted: true, limit: 4 }));
      await t.step("allDocuments", () => db.allDocuments());
      await t.step("allDocs descending", () => db.allDocs({ descending: true }));
      await t.step("changes", () => db.changes());
      await t.step("changes since", () => db.changes(c1.clock));
      await t.step("changes limit 2", () => db.changes([], { limit: 2 }));
      await t.step("changes limit 0", () => db.changes([], { limit: 0 }));
      await t.step("changes since current", async () => { const { clock } = await db.changes(); return db.changes([...clock]); });
      await t.step("changes since, then del", async () => { const since = [...(await db.changes()).clock]; await db.del("a"); return db.changes(since); });
      await t.step("allDocs after del", () => db.allDocs({ includeDeleted: true }));
      await t.step("changes since, put again", async () => { const since = [...(await db.changes()).clock]; await db.put({ _id: "a", v: 9 }); return db.changes(since); });
      await t.step("changes since a put's clock", async () => { const { clock } = await db.put({ _id: "p", v: 1 }); await db.put({ _id: "q", v: 2 }); await db.put({ _id: "p", v: 3 }); return db.changes(clock); });
      await t.step("changes since a del's clock", async () => { const { clock } = await db.del("q"); await db.put({ _id: "r" }); return db.changes(clock); });
      await t.step("changes since a bulk's clock", async () => { const { clock } = await db.bulk([{ _id: "s1" }, { _id: "s2" }]); await db.put({ _id: "s1", again: true }); return db.changes(clock); });
      await t.step("order of same-tick puts in changes", async () => { const since = [...(await db.changes()).clock]; await Promise.all([db.put({ _id: "t2" }), db.put({ _id: "t1" })]); return db.changes(since); });
      await t.step("order of a bulk in changes", async () => { const since = [...(await db.changes()).clock]; await db.bulk([{ _id: "y" }, { _id: "x" }, { _id: "w" }]); return db.changes(since); });
      await t.step("changes limit inside a bulk", () => db.changes([], { limit: 2 }));
      await t.step("each changes row's clock is the event its write returned", async () => {
        const wrote = {};
        for (const [id, write] of [["k1", () => db.put({ _id: "k1" })], ["k2", () => db.put({ _id: "k2" })], ["k1", () => db.put({ _id: "k1", v: 2 })], ["k3", () => db.put({ _id: "k3" })], ["k2", () => db.del("k2")]]) {
          wrote[id] = String((await write()).clock[0]);
        }
        const { rows } = await db.changes([], { limit: 3 });
        return rows.map((r) => [r.key, String(r.clock) === wrote[r.key]]);
      });
      await t.step("clock of changes after a later write", async () => { const { clock } = await db.changes(); const held = clock.map(String); await db.put({ _id: "later" }); return { same: clock.map(String).every((c, i) => c === held[i]) }; });
    });
    const rowKeys = (side) => side.value.rows.map((r) => r.key);
    compare(traces, {
      "each changes row's clock is the event its write returned"(f, m) {
        const linked = [["k1", true], ["k3", true], ["k2", true]];
        assert.deepEqual(f.value, linked);
        assert.deepEqual(m.value, linked);
      },
      // documented: allDocs honours descending (Fireproof ignores it)
      "allDocs descending"(f, m) {
        assert.deepEqual(rowKeys(f), ["10", "9", "B", "a", "b", "m"]);
        assert.deepEqual(rowKeys(m), ["m", "b", "a", "B", "9", "10"]);
        assert.deepEqual(m.value.rows, [...f.value.rows].reverse());
      },
      // Rows of one commit come in write order, as in Fireproof (same-tick puts are one commit
      // here, separate commits in Fireproof, and still come in the order they were made): those
      // steps compare as equal, row clocks included.
      // docs/differences.md: Fireproof's limit stops only between commits (all 3 rows of the
      // bulk); here it is exact: the 2 written last, in write order.
      "changes limit inside a bulk"(f, m) {
        assert.deepEqual(rowKeys(f), ["y", "x", "w"]);
        assert.deepEqual(rowKeys(m), ["x", "w"]);
      },
      // documented: clocks are fresh arrays; Fireproof's is its live head, updated in place
      "clock of changes after a later write"(f, m) {
        assert.deepEqual(f.value, { same: false });
        assert.deepEqual(m.value, { same: true });
      },
    });
  },

  async "subscribe: callback arguments with and without updates"({ context, url }) {
    const page = await openCompat(context, url);
    const traces = await both(page, async (fireproof, t, { sleep }) => {
      const db = fireproof("compat-sub");
      const withUpdates = [];
      const without = [];
      const un1 = db.subscribe((docs) => withUpdates.push(docs), true);
      const un2 = db.subscribe((...args) => without.push(args));
      // waits (up to 15 s) until `docs` documents reached the updates listener and the other one
      // was called, then a little longer for anything extra
      const settle = async (docs = 1) => {
        for (let i = 0; i < 1500 && (withUpdates.flat().length < docs || without.length === 0); i++) await sleep(10);
        await sleep(50);
      };
      const take = () => ({ withUpdates: withUpdates.splice(0), without: without.splice(0) });
      await db.put({ _id: "s1", v: 1 });
      await settle();
      await t.step("after put", take);
      await db.bulk([{ _id: "s2", v: 2 }, { _id: "s3", v: 3 }]);
      await settle(2);
      await t.step("after bulk", take);
      await db.put({ v: 4, _id: "s4", nested: { b: 1, a: 2 } });
      await settle();
      await t.step("documents' key order", take);
      await db.del("s1");
      await settle();
      await t.step("after del", take);
      await Promise.all([db.put({ _id: "t2" }), db.put({ _id: "t1" })]);
      await settle(2);
      await t.step("after two puts in one tick", take);
      un1();
      un2();
      await db.put({ _id: "s5" });
      await sleep(100);
      await t.step("after unsubscribe", take);
      await t.step("unsubscribe is a function", () => typeof un1);
    });
    // docs/differences.md: the same documents; Fireproof passes each written object's own key
    // order with _id moved last, ferroproof the stored order with _id first (as allDocs, changes)
    const subscribed = (fireproofOrder, ferroproofOrder) => (f, m) => {
      assert.deepEqual(m.value, f.value);
      assert.deepEqual(f.order, { ".": "withUpdates,without", ...fireproofOrder });
      assert.deepEqual(m.order, { ".": "withUpdates,without", ...ferroproofOrder });
    };
    compare(traces, {
      "after put": subscribed({ "withUpdates[0][0]": "v,_id" }, { "withUpdates[0][0]": "_id,v" }),
      "documents' key order": subscribed(
        { "withUpdates[0][0]": "v,nested,_id", "withUpdates[0][0].nested": "b,a" },
        { "withUpdates[0][0]": "_id,v,nested", "withUpdates[0][0].nested": "a,b" },
      ),
      // docs/differences.md: puts in one tick are one commit, so one notification (documents in
      // the order they were put); Fireproof notifies once per put
      "after two puts in one tick"(f, m) {
        assert.deepEqual(f.value, { withUpdates: [[{ _id: "t2" }], [{ _id: "t1" }]], without: [[[]], [[]]] });
        assert.deepEqual(m.value, { withUpdates: [[{ _id: "t2" }, { _id: "t1" }]], without: [[[]]] });
      },
      // documented: a deleted document is {_id, _deleted: true}; Fireproof sends {_id}
      "after del"(f, m) {
        assert.deepEqual(f.value, { withUpdates: [[{ _id: "s1" }]], without: [[[]]] });
        assert.deepEqual(m.value, { withUpdates: [[{ _id: "s1", _deleted: true }]], without: [[[]]] });
      },
    });
  },

  async "subscribe: listeners have been called by the time the write resolves"({ context, url }) {
    const page = await openCompat(context, url);
    const traces = await both(page, async (fireproof, t) => {
      const db = fireproof("compat-sub-sync");
      const withUpdates = [];
      const without = [];
      db.subscribe((docs) => withUpdates.push(docs.map((d) => d._id)), true);
      db.subscribe(() => without.push(1));
      const take = () => ({ withUpdates: withUpdates.splice(0), without: without.splice(0) });
      await db.put({ _id: "a" });
      await t.step("right after put", take);
      await db.del("a");
      await t.step("right after del", take);
      await db.bulk([{ _id: "b" }, { _id: "c" }]);
      await t.step("right after bulk", take);
      await db.put({ _id: "d" });
      const other = fireproof("compat-sub-sync");
      await other.put({ _id: "e" });
      await t.step("right after a put through another handle", take);
    });
    compare(traces);
  },

  async "query by field: key, keys, range, prefix, descending, limit, includeDocs"({ context, url }) {
    const page = await openCompat(context, url);
    const traces = await both(page, async (fireproof, t) => {
      const db = fireproof("compat-field");
      await db.bulk([
        { _id: "d01", tag: "work", n: 3, year: 2024, month: 5 },
        { _id: "d02", tag: "home", n: -1.5, year: 2024, month: 1 },
        { _id: "d03", tag: "work", n: 10, year: 2023, month: 12 },
        { _id: "d04", tag: null, n: 0 },
        { _id: "d05", tag: true, n: 2 ** 40 },
        { _id: "d06", tag: "apple", n: 1e21 },
        { _id: "d07", n: "3" },
        { _id: "d08", tag: "", n: false },
        { _id: "d09", tag: ["work", 1], n: -100 },
        { _id: "d10", tag: "Work", n: 0.001 },
        { _id: "d11", tag: "ü", n: 7 },
        { _id: "d12", tag: "😀", n: 7 },
        { _id: "d13", tag: "apricot", n: 2.5 },
        { _id: "d14", tag: false, n: true },
      ]);
      await t.step("all rows", () => db.query("tag"));
      await t.step("includeDocs false", () => db.query("tag", { includeDocs: false }));
      await t.step("includeDocs true", () => db.query("tag", { includeDocs: true, limit: 2 }));
      await t.step("key", () => db.query("tag", { key: "work" }));
      await t.step("key missing", () => db.query("tag", { key: "nope" }));
      await t.step("key true", () => db.query("tag", { key: true }));
      await t.step("key false", () => db.query("tag", { key: false }));
      await t.step("key array", () => db.query("tag", { key: ["work", 1] }));
      await t.step("keys", () => db.query("tag", { keys: ["work", "home"] }));
      await t.step("keys with a missing key", () => db.query("tag", { keys: ["nope", "apple"] }));
      await t.step("keys includeDocs false", () => db.query("tag", { keys: ["home"], includeDocs: false }));
      await t.step("keys limit", () => db.query("tag", { keys: ["work", "home"], limit: 2 }));
      await t.step("range", () => db.query("tag", { range: ["a", "x"] }));
      await t.step("range descending", () => db.query("tag", { range: ["a", "x"], descending: true }));
      await t.step("range limit", () => db.query("tag", { range: ["a", "x"], limit: 2 }));
      await t.step("range nothing", () => db.query("tag", { range: ["x", "y"] }));
      await t.step("descending", () => db.query("tag", { descending: true }));
      await t.step("limit", () => db.query("tag", { limit: 3 }));
      await t.step("descending limit", () => db.query("tag", { descending: true, limit: 3 }));
      await t.step("numbers collate", () => db.query("n", { includeDocs: false }));
      await t.step("number range", () => db.query("n", { range: [0, 10], includeDocs: false }));
      await t.step("number range open end", () => db.query("n", { range: [5, Infinity], includeDocs: false }));
      await t.step("number key", () => db.query("n", { key: 7, includeDocs: false }));
      await t.step("another field", () => db.query("year", { includeDocs: false }));
      await t.step("unknown field", () => db.query("nosuchfield"));
      await t.step("range reversed", () => db.query("tag", { range: ["x", "a"], includeDocs: false }));
      await t.step("keys with a duplicate", () => db.query("tag", { keys: ["home", "home"], includeDocs: false }));
      await t.step("limit above the row count", () => db.query("tag", { limit: 100, includeDocs: false }));
      await t.step("negative limit", () => db.query("tag", { limit: -1, includeDocs: false }));
      await t.step("keys descending", () => db.query("tag", { keys: ["work"], descending: true, includeDocs: false }));
      await t.step("range of arrays on scalars", () => db.query("tag", { range: [["a"], ["z"]], includeDocs: false }));
      await t.step("excludeDocs is not an option", () => db.query("tag", { key: "home", excludeDocs: true }));
      await t.step("after update", async () => { await db.put({ _id: "d01", tag: "home", n: 3 }); return db.query("tag", { key: "home" }); });
      await t.step("after delete", async () => { await db.del("d03"); return db.query("tag", { key: "work" }); });
      // documented differences
      await t.step("prefix string", () => db.query("tag", { prefix: "ap", includeDocs: false }));
      await t.step("key 0", () => db.query("n", { key: 0, includeDocs: false }));
      await t.step("key empty string", () => db.query("tag", { key: "", includeDocs: false }));
      await t.step("limit 0", () => db.query("tag", { limit: 0, includeDocs: false }));
      await t.step("key and range", () => db.query("tag", { range: ["a", "x"], key: "home", includeDocs: false }));
      await db.bulk([{ _id: "d15", nested: { x: 5 } }, { _id: "d16", "nested.x": 6 }, { _id: "d17", nested: null }]);
      await t.step("dotted field name", () => db.query("nested.x", { includeDocs: false }));
      await t.step("field _id", () => db.query("_id", { range: ["d14", "d16"], includeDocs: false }));
    });
    const ids = (side) => side.value.rows.map((r) => r.id);
    compare(traces, {
      // documented: "ap" is a string prefix here; Fireproof's [["ap", NaN], ["ap", Infinity]] finds nothing
      "prefix string"(f, m) {
        assert.deepEqual(ids(f), []);
        assert.deepEqual(m.value, { rows: [{ key: "apple", id: "d06", value: null }, { key: "apricot", id: "d13", value: null }] });
      },
      // documented: falsy keys match exactly; Fireproof ignores them and returns every row
      "key 0"(f, m) {
        assert.equal(ids(f).length, 13);
        assert.deepEqual(m.value, { rows: [{ key: 0, id: "d04", value: null }] });
      },
      "key empty string"(f, m) {
        assert.equal(ids(f).length, 11);
        assert.deepEqual(m.value, { rows: [{ key: "", id: "d08", value: null }] });
      },
      // docs/differences.md: a negative limit is no limit; Fireproof's slice(0, -1) drops the last row
      "negative limit"(f, m) {
        assert.equal(ids(f).length, 11);
        assert.deepEqual(ids(f), ids(m).slice(0, -1));
      },
      // documented: limit 0 returns no rows; Fireproof: no limit
      "limit 0"(f, m) {
        assert.equal(ids(f).length, 11);
        assert.deepEqual(m.value, { rows: [] });
      },
      // documented: options intersect; Fireproof applies only range
      "key and range"(f, m) {
        assert.deepEqual(ids(f), ["d06", "d13", "d01", "d02"]);
        assert.deepEqual(ids(m), ["d01", "d02"]);
      },
    });
  },

  async "query by map function: emit, values, multiple emits, array keys, returned keys"({ context, url }) {
    const page = await openCompat(context, url);
    const traces = await both(page, async (fireproof, t) => {
      const db = fireproof("compat-map");
      await db.bulk([
        { _id: "e1", year: 2024, month: 5, tags: ["a", "b"], title: "one", n: 1 },
        { _id: "e2", year: 2024, month: 1, tags: ["b"], title: "two", n: 2 },
        { _id: "e3", year: 2023, month: 12, tags: [], title: "three", n: 3 },
        { _id: "e4", year: 2025, month: 2, title: "four", n: 4 },
      ]);
      await t.step("emit key only", () => db.query((doc, emit) => emit(doc.title)));
      await t.step("emit key and value", () => db.query((doc, emit) => emit(doc.title, doc.n), { includeDocs: false }));
      await t.step("emit object value", () => db.query((doc, emit) => emit(doc.n, { yy: doc.year, t: doc.title, list: [doc.month], nested: { zz: 1, a: 2 } }), { includeDocs: false }));
      await t.step("multiple emits", () => db.query((doc, emit) => { for (const tag of doc.tags ?? []) emit(tag, doc.n); }));
      await t.step("multiple emits, key", () => db.query((doc, emit) => { for (const tag of doc.tags ?? []) emit(tag); }, { key: "b", includeDocs: false }));
      await t.step("same key twice from one doc", () => db.query((doc, emit) => { emit("k", 1); emit("k", 2); }, { includeDocs: false, limit: 4 }));
      await t.step("array keys", () => db.query((doc, emit) => emit([doc.year, doc.month]), { includeDocs: false }));
      await t.step("array keys prefix", () => db.query((doc, emit) => emit([doc.year, doc.month]), { prefix: [2024], includeDocs: false }));
      await t.step("array keys range", () => db.query((doc, emit) => emit([doc.year, doc.month]), { range: [[2024, 0], [2024, 12]], includeDocs: false }));
      await t.step("array keys key", () => db.query((doc, emit) => emit([doc.year, doc.month]), { key: [2024, 5] }));
      await t.step("array keys keys", () => db.query((doc, emit) => emit([doc.year, doc.month]), { keys: [[2025, 2], [2024, 1]], includeDocs: false }));
      await t.step("array keys descending", () => db.query((doc, emit) => emit([doc.year, doc.month]), { descending: true, includeDocs: false }));
      await t.step("mixed-length array keys", () => db.query((doc, emit) => { emit([doc.year]); emit([doc.year, doc.title]); }, { includeDocs: false }));
      await t.step("returned key", () => db.query((doc) => doc.year, { includeDocs: false }));
      await t.step("returned key, undefined skipped", () => db.query((doc) => doc.tags?.[0], { includeDocs: false }));
      await t.step("emit conditionally", () => db.query((doc, emit) => { if (doc.n % 2 === 0) emit(doc._id); }));
      await t.step("emit null value", () => db.query((doc, emit) => emit(doc.n, null), { includeDocs: false }));
      await t.step("after put", async () => { await db.put({ _id: "e5", year: 2024, month: 3, title: "five", n: 5, tags: ["a"] }); return db.query((doc, emit) => emit([doc.year, doc.month]), { prefix: [2024], includeDocs: false }); });
      await t.step("after del", async () => { await db.del("e1"); return db.query((doc, emit) => { for (const tag of doc.tags ?? []) emit(tag); }); });
      await t.step("emit falsy values", () => db.query((doc, emit) => emit(doc.n, [0, "", false][doc.n % 3]), { includeDocs: false }));
      await t.step("array keys with a missing field", () => db.query((doc, emit) => emit([doc.year, doc.missing]), { includeDocs: false }));
      await t.step("NaN and Infinity keys", () => db.query((doc, emit) => emit(doc.n > 3 ? doc.n / 0 : doc.n * doc.missing), { includeDocs: false }));
      await db.close();
      const again = fireproof("compat-map");
      await t.step("emit object value, reopened", () => again.query((doc, emit) => emit(doc.n, { yy: doc.year, t: doc.title, list: [doc.month], nested: { zz: 1, a: 2 } }), { includeDocs: false }));
      await t.step("get, reopened", () => again.get("e2"));
      await t.step("query docs, reopened", () => again.query("year", { key: 2024 }));
    });
    // docs/differences.md: the same values; Fireproof hands back each emitted object as it was
    // emitted (even after reopening), ferroproof in dag-cbor key order, as document fields come
    const emittedObjects = (f, m) => {
      assert.deepEqual(m.value, f.value);
      for (const [path, keys] of Object.entries(f.order)) {
        if (/^rows\[\d\]$/.test(path)) assert.equal(m.order[path], keys);
        else if (path.endsWith(".value.nested")) assert.deepEqual([keys, m.order[path]], ["zz,a", "a,zz"]);
        else assert.deepEqual([keys, m.order[path]], ["yy,t,list,nested", "t,yy,list,nested"], path);
      }
      assert.deepEqual(Object.keys(m.order), Object.keys(f.order));
    };
    compare(traces, {
      "emit object value": emittedObjects,
      "emit object value, reopened": emittedObjects,
      // documented ("Keys"): undefined inside an array key is null here (as JSON has it), and the
      // rows come in the same order
      "array keys with a missing field"(f, m) {
        assert.deepEqual(m.value.rows, f.value.rows.map((r) => ({ ...r, key: r.key.map((k) => (k === "<undefined>" ? null : k)) })));
        assert.ok(f.value.rows.every((r) => r.key[1] === "<undefined>"));
      },
      // documented ("Keys"): NaN and ±Infinity keys are null here; Fireproof keeps them
      "NaN and Infinity keys"(f, m) {
        assert.deepEqual(f.value.rows.map((r) => [r.id, r.key]), [["e2", "<NaN>"], ["e3", "<NaN>"], ["e4", "<Infinity>"], ["e5", "<Infinity>"]]);
        assert.deepEqual(m.value.rows.map((r) => [r.id, r.key]), [["e2", null], ["e3", null], ["e4", null], ["e5", null]]);
      },
      // documented: emitted 0, "" and false are kept; Fireproof stores `v || null`
      "emit falsy values"(f, m) {
        assert.deepEqual(f.value.rows.map((r) => r.value), [null, null, null, null]);
        assert.deepEqual(m.value.rows.map((r) => [r.id, r.value]), [["e2", false], ["e3", 0], ["e4", ""], ["e5", false]]);
        assert.deepEqual(m.value.rows.map((r) => r.key), f.value.rows.map((r) => r.key));
      },
    });
  },

  async "values and ids: nested, arrays, null, booleans, numbers, unicode, emoji, empty strings, odd _id"({ context, url }) {
    const page = await openCompat(context, url);
    const traces = await both(page, async (fireproof, t) => {
      const db = fireproof("compat-values");
      const doc = {
        _id: "v",
        nested: { a: { b: { c: [1, { d: null }] } } },
        arr: [1, "two", null, true, false, [3, [4]], { x: 1 }],
        t: true, f: false, nul: null,
        i: 42, neg: -7, float: 3.14159, negf: -0.5, max: Number.MAX_SAFE_INTEGER, min: Number.MIN_SAFE_INTEGER,
        big: 2 ** 60, tiny: 1e-7, huge: 1.5e300, zero: 0, third: 1 / 3,
        empty: "", emptyObj: {}, emptyArr: [],
        uni: "héllo wörld ✓ 日本語 😀", esc: "a\nb\t\"q\"\\", nul0: "a\u0000b",
        date: new Date(0),
        bytes: new Uint8Array([0, 1, 255]),
        "": "empty key", "key with space": 1, "ключ": "unicode key", "😀": "emoji key",
      };
      await t.step("put values", () => db.put(doc));
      await t.step("get values", () => db.get("v"));
      await t.step("allDocs values", () => db.allDocs());
      await t.step("query values", () => db.query("uni"));
      await t.step("undefined field dropped", async () => { await db.put({ _id: "u", a: undefined, b: 1 }); return db.get("u"); });
      await t.step("NaN field dropped", async () => { await db.put({ _id: "nan", a: NaN, b: 1 }); return db.get("nan"); });
      await t.step("negative zero", async () => { await db.put({ _id: "nz", z: -0 }); return db.get("nz"); });
      await t.step("function field", async () => { await db.put({ _id: "fn", a: () => 1, b: 1 }); return db.get("fn"); });
      await t.step("undefined in an array", () => db.put({ _id: "ua", a: [1, undefined] }));
      await t.step("Infinity", () => db.put({ _id: "inf", a: Infinity }));
      await t.step("bigint", async () => { await db.put({ _id: "bi", a: 1n }); return db.get("bi"); });
      for (const id of ["a b", "a/b", " ", "__proto__", "constructor", "_id", "0", "-1", "null", "undefined", "x".repeat(500), "~!@#$%^&*()"]) {
        await t.step(`id ${JSON.stringify(id).slice(0, 16)}`, async () => { const r = await db.put({ _id: id, v: id.length }); return { put: r, got: await db.get(id) }; });
      }
      // "fn" and "bi" are stored by one library only (steps above)
      await t.step("allDocs ascii id order", async () => (await db.allDocs()).rows.map((r) => r.key).filter((k) => k !== "fn" && k !== "bi"));
      for (const id of ["ü", "日本語", "😀", "e\u0301"]) {
        await t.step(`unicode id ${id}`, async () => { const r = await db.put({ _id: id, v: id.length }); return { put: r, got: await db.get(id) }; });
      }
      for (const [label, id] of [["number", 5], ["zero", 0], ["false", false], ["true", true], ["object", { a: 1 }], ["array", ["a"]]]) {
        await t.step(`_id ${label}`, async () => { const r = await db.put({ _id: id, w: 1 }); return { idType: typeof r.id }; });
      }
      await t.step("get a number id", () => db.get(5));
      await t.step("del a number id", () => db.del(5));
    });
    const unicodeId = (id) => (f, m) => {
      fireproofLogError(f, /key contains non-ASCII characters/);
      assert.deepEqual(m.value, { put: { id, clock: ["<cid>"], name: "compat-values" }, got: { v: id.length, _id: id } });
    };
    compare(traces, {
      // docs/differences.md: -0 comes back as -0 here (Fireproof's CBOR stores it as 0)
      "negative zero"(f, m) {
        assert.deepEqual(f.value, { z: 0, _id: "nz" });
        assert.deepEqual(m.value, { z: "<-0>", _id: "nz" });
      },
      // documented: functions are dropped; Fireproof's CBOR encoder rejects them
      "function field"(f, m) {
        fireproofLogError(f, /CBOR encode error: unsupported type: Function/);
        assert.deepEqual(m.value, { b: 1, _id: "fn" });
      },
      // documented: both reject; here INVALID_DOC naming the field
      "undefined in an array"(f, m) {
        fireproofLogError(f, /`undefined` is not supported/);
        databaseError(m, "INVALID_DOC", "invalid document: field a[1]: undefined in an array is not supported by the IPLD Data Model");
      },
      Infinity(f, m) {
        fireproofLogError(f, /`Infinity` and `-Infinity` is not supported/);
        databaseError(m, "INVALID_DOC", "invalid document: field a: Infinity is not supported by the IPLD Data Model");
      },
      // documented: BigInt rejects (Fireproof stores 1n as the number 1)
      bigint(f, m) {
        assert.deepEqual(f.value, { a: 1, _id: "bi" });
        databaseError(m, "INVALID_DOC", "invalid document: field a: bigint is not allowed");
      },
      // docs/differences.md: Fireproof 0.24.19 rejects every id with a non-ASCII character
      "unicode id ü": unicodeId("ü"),
      "unicode id 日本語": unicodeId("日本語"),
      "unicode id 😀": unicodeId("😀"),
      "unicode id e\u0301": unicodeId("e\u0301"),
      // docs/differences.md: a non-string _id rejects; Fireproof stores a number id (that get
      // then cannot read) and replaces 0 and false by a generated id
      "_id number"(f, m) {
        assert.deepEqual(f.value, { idType: "number" });
        databaseError(m, "INVALID_DOC", "invalid document: field _id: must be a string");
      },
      "_id zero"(f, m) {
        assert.deepEqual(f.value, { idType: "string" });
        databaseError(m, "INVALID_DOC", "invalid document: field _id: must be a string");
      },
      "_id false"(f, m) {
        assert.deepEqual(f.value, { idType: "string" });
        databaseError(m, "INVALID_DOC", "invalid document: field _id: must be a string");
      },
      "_id true"(f, m) {
        fireproofLogError(f, /Invalid key type/);
        databaseError(m, "INVALID_DOC", "invalid document: field _id: must be a string");
      },
      "_id object"(f, m) {
        fireproofLogError(f, /Invalid key type/);
        databaseError(m, "INVALID_DOC", "invalid document: field _id: must be a string");
      },
      "_id array"(f, m) {
        fireproofLogError(f, /Invalid key type/);
        databaseError(m, "INVALID_DOC", "invalid document: field _id: must be a string");
      },
      // documented: a non-string id rejects with INVALID_ARG
      "get a number id"(f, m) {
        assert.deepEqual(rejection(f, "Fireproof"), { isError: true, name: "Error", code: "ENOENT", message: "Not found: 5 - key.startsWith is not a function" });
        databaseError(m, "INVALID_ARG", "invalid argument: a document id is required");
      },
      "del a number id"(f, m) {
        assert.deepEqual(f.value, { id: 5, clock: ["<cid>"], name: "compat-values" });
        databaseError(m, "INVALID_ARG", "invalid argument: a document id is required");
      },
    });
  },

  async "edge cases: failing map functions, object keys, foreign clocks"({ context, url }) {
    const page = await openCompat(context, url);
    const traces = await both(page, async (fireproof, t, { sleep }) => {
      const db = fireproof("compat-edge");
      // a step that does not settle within 3 s records "<hung>" instead of stalling the test
      const within = (p) => Promise.race([p, sleep(3000).then(() => "<hung>")]);
      await db.bulk([{ _id: "o1", obj: { a: 1 }, n: 1 }, { _id: "o2", obj: [1, { b: 2 }], n: 2 }]);
      await t.step("map function throws", () => within(db.query(() => { throw new Error("boom"); })));
      await t.step("after a throwing map function", () => within(db.query("n", { includeDocs: false })));
      await t.step("field holding an object", () => within(db.query("obj", { includeDocs: false })));
      await t.step("emitting an object key", () => within(db.query((doc, emit) => emit({ n: doc.n }), { includeDocs: false })));
      await t.step("changes since a made-up clock", () => within(db.changes([{ "/": "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" }]).then((r) => r.rows.map((x) => x.key))));
    });
    compare(traces, {
      // documented ("Bad keys reject"): INVALID_ARG naming the document; Fireproof's key encoder
      // fails with a plain Error
      "field holding an object"(f, m) {
        assert.deepEqual(rejection(f, "Fireproof"), { isError: true, name: "Error", code: "<none>", message: "can only encode arrays" });
        databaseError(m, "INVALID_ARG", 'invalid argument: invalid index key: objects cannot be keys (emitted for document "o1")');
      },
      "emitting an object key"(f, m) {
        assert.deepEqual(rejection(f, "Fireproof"), { isError: true, name: "Error", code: "<none>", message: "can only encode arrays" });
        databaseError(m, "INVALID_ARG", 'invalid argument: invalid index key: objects cannot be keys (emitted for document "o1")');
      },
    });
  },

  async "open-ended ranges, NaN emitted values, limits as strings, a listener subscribed twice, onClosed"({ context, url }) {
    const page = await openCompat(context, url);
    const traces = await both(page, async (fireproof, t, { sleep }) => {
      const within = (p) => Promise.race([p, sleep(3000).then(() => "<hung>")]);
      const keys = (r) => r.rows.map((x) => [x.key, x.id, x.value]);
      const db = fireproof("compat-open-range");
      await db.bulk([1, 2, 3, 4, 5].map((n) => ({ _id: `d${n}`, n })));
      await t.step("range [3, undefined]", () => within(db.query("n", { range: [3, undefined] }).then(keys)));
      await t.step("range [4]", () => within(db.query("n", { range: [4] }).then(keys)));
      await t.step("range [undefined, 2]", () => within(db.query("n", { range: [undefined, 2] }).then(keys)));
      await t.step("limit '2'", () => within(db.query("n", { limit: "2" }).then(keys)));
      await t.step("changes limit '1'", async () => {
        const c = fireproof("compat-changes-limit"); // one commit per put: Fireproof's limit stops between commits
        for (const id of ["a", "b", "c"]) await c.put({ _id: id });
        return within(c.changes([], { limit: "1" }).then((r) => r.rows.map((x) => x.key)));
      });
      // a fresh ledger per map query: in Fireproof a failed one fails the ledger's later queries
      await t.step("emit(k, NaN)", () => within(fireproof("compat-nan").bulk([{ _id: "a", n: 1 }]).then(() => fireproof("compat-nan").query((d, emit) => emit(d.n, NaN))).then(keys)));
      await t.step("a listener subscribed twice", async () => {
        const calls = [];
        const fn = (docs) => calls.push(docs.map((d) => d._id));
        const stop1 = db.subscribe(fn, true);
        const stop2 = db.subscribe(fn, true);
        await db.put({ _id: "s1" });
        await sleep(50);
        const once = calls.length;
        stop1();
        await db.put({ _id: "s2" });
        await sleep(50);
        stop2();
        return { once, after: calls.length };
      });
      await t.step("put of the stored document: no commit", async () => {
        const c = fireproof("compat-same-put");
        await c.put({ _id: "a", v: 1, w: 2 });
        await c.put({ _id: "b", v: 1 });
        const before = (await c.changes()).clock;
        const r = await c.put({ _id: "a", w: 2, v: 1 }); // the same content, another key order
        const since = await c.changes(before);
        return { sameClock: JSON.stringify(r.clock) === JSON.stringify(before), since: since.rows.map((x) => x.key), order: (await c.changes()).rows.map((x) => x.key) };
      });
      await t.step("onClosed", async () => {
        const other = fireproof("compat-closed");
        let called = 0;
        other.onClosed(() => called++);
        await other.put({ _id: "x" });
        const before = called;
        await other.close();
        return { before, after: called };
      });
    });
    compare(traces, {
      // documented ("Open ranges"): a missing low end is open; Fireproof returns no rows
      "range [undefined, 2]"(f, m) {
        assert.deepEqual(f.value, []);
        assert.deepEqual(m.value, [[1, "d1", null], [2, "d2", null]]);
      },
    });
  },

  async "handles, lifecycle and helpers: name, ready, isDatabase, NotFoundError, index(), close, destroy"({ context, url }) {
    const page = await openCompat(context, url);
    const traces = await both(page, async (fireproof, t, { sleep }, lib) => {
      const within = (p) => Promise.race([p, sleep(3000).then(() => "<hung>")]);
      const db = fireproof("compat-life");
      await t.step("name", () => db.name);
      await t.step("same handle for the same name", () => fireproof("compat-life") === db);
      await t.step("ready", () => db.ready());
      await t.step("isDatabase", () => [lib.isDatabase(db), lib.isDatabase({}), lib.isDatabase(null)]);
      await t.step("NotFoundError class", () => db.get("nope").catch((e) => [e instanceof lib.NotFoundError, e instanceof Error]));
      await db.bulk([{ _id: "i1", tag: "a", n: 1 }, { _id: "i2", tag: "b", n: 2 }, { _id: "i3", tag: "a", n: 3 }]);
      await t.step("index(db, field)", () => lib.index(db, "tag").query({ key: "a" }));
      await t.step("index(db, name, mapFn)", () => lib.index(db, "byN", (doc, emit) => emit(doc.n * 10, doc.tag)).query({ range: [15, 35], includeDocs: false }));
      await t.step("index(db, name) again: the same object, its map function kept", async () => {
        const first = lib.index(db, "byTen", (doc, emit) => doc.n && emit(doc.n * 10));
        const again = lib.index(db, "byTen");
        await again.ready();
        const r = await again.query({ includeDocs: false });
        return { same: first === again, mapFn: typeof again.mapFn, keys: r.rows.map((x) => x.key) };
      });
      await t.step("subscriber runs before or after put resolves", async () => {
        const log = [];
        const un = db.subscribe(() => log.push("subscriber"), true);
        await db.put({ _id: "i4" });
        log.push("put resolved");
        for (let i = 0; i < 100 && log.length < 2; i++) await sleep(10);
        un();
        return log;
      });
      await t.step("a handle for the same name sees the write", () => fireproof("compat-life").get("i4"));
      await t.step("close", () => db.close());
      await t.step("a new handle after close", () => fireproof("compat-life").get("i1"));
      await t.step("writes (and a compaction) made just before close() are stored", async () => {
        const d = fireproof("compat-close-pending");
        const writes = [d.put({ _id: "p" }), d.bulk([{ _id: "q" }, { _id: "r" }]), d.del("p"), d.compact()];
        await d.close();
        const settled = await Promise.allSettled(writes);
        return { settled: settled.map((x) => x.status), stored: (await fireproof("compat-close-pending").allDocs()).rows.map((r) => r.key) };
      });
      await t.step("close, then destroy (Fireproof's teardown)", async () => {
        const d = fireproof("compat-teardown");
        await d.put({ _id: "x" });
        await d.close();
        return within(d.destroy().then(() => "destroyed"));
      });
      await t.step("the handle goes on after destroy", async () => {
        const d = fireproof("compat-after");
        await d.put({ _id: "x" });
        await d.destroy();
        await d.put({ _id: "y", n: 1 });
        return within(d.get("y"));
      });
      await t.step("destroy, then a new handle is empty", async () => {
        const d = fireproof("compat-gone");
        await d.put({ _id: "x" });
        await d.destroy();
        return within(fireproof("compat-gone").allDocs());
      });
    });
    compare(traces, {
      // docs/differences.md: index(db, …).query() answers like db.query(); Fireproof's puts the
      // rows themselves in `docs` (and `docs: []` with includeDocs: false)
      "index(db, field)"(f, m) {
        assert.deepEqual(m.value.rows, f.value.rows);
        assert.deepEqual(f.value.docs, f.value.rows);
        assert.deepEqual(m.value.docs, m.value.rows.map((r) => r.doc));
      },
      "index(db, name, mapFn)"(f, m) {
        assert.deepEqual(f.value, { ...m.value, docs: [] });
        assert.deepEqual(Object.keys(m.value), ["rows"]);
      },
      // docs/differences.md: Fireproof 0.24.19 still answers with the destroyed ledger's documents
      "destroy, then a new handle is empty"(f, m) {
        assert.deepEqual(f.value.rows, [{ key: "x", value: { _id: "x" } }]);
        assert.deepEqual(m.value, { rows: [], clock: [], name: "compat-gone" });
      },
    });
  },

  async "files: _files metadata shape and file() contents"({ context, url }) {
    const page = await openCompat(context, url);
    const traces = await both(page, async (fireproof, t) => {
      const db = fireproof("compat-files");
      // a CID as a string or an object (whose String() is the CID), or an array of them
      const kind = (v) => {
        if (Array.isArray(v)) return ["array", ...v.map(kind)];
        if (!/^ba[a-z2-7]{20,}$/.test(String(v))) return v;
        return typeof v === "string" ? "<cid string>" : "<cid object>";
      };
      // metadata with functions and CIDs reduced to their kinds, and the file read back
      const meta = async (m) => {
        const shape = Object.fromEntries(Object.keys(m).sort().map((k) => [k, typeof m[k] === "function" ? "<function>" : kind(m[k])]));
        const f = await m.file();
        return { shape, file: { isFile: f instanceof File, name: f.name, type: f.type, size: f.size, text: await f.text() } };
      };
      const file = new File(["hello, files"], "note.txt", { type: "text/plain", lastModified: 1700000000000 });
      await t.step("put with a file", async () => { const r = await db.put({ _id: "f", title: "t", _files: { "note.txt": file } }); return { id: r.id }; });
      await t.step("get: _files metadata", async () => { const d = await db.get("f"); return { keys: Object.keys(d), names: Object.keys(d._files), note: await meta(d._files["note.txt"]) }; });
      await t.step("put the document read back keeps the file", async () => { const d = await db.get("f"); d.title = "u"; await db.put(d); const again = await db.get("f"); return { title: again.title, note: await meta(again._files["note.txt"]) }; });
      await t.step("allDocs: _files metadata", async () => { const { rows } = await db.allDocs(); return meta(rows[0].value._files["note.txt"]); });
      await t.step("_files metadata key order", async () => Object.keys((await db.get("f"))._files["note.txt"]).join(","));
    });
    // documented (docs/differences.md, Files): the same metadata plus `name`, and file() keeps the
    // name; `cid` and `car` are CID strings here, CID objects in Fireproof (`car` in an array)
    const sameFile = (f, m) => {
      const fire = { lastModified: 1700000000000, size: 12, type: "text/plain", file: "<function>", cid: "<cid object>", car: ["array", "<cid object>"] };
      const ferro = { ...fire, cid: "<cid string>", car: "<cid string>", name: "note.txt" };
      const content = { isFile: true, type: "text/plain", size: 12, text: "hello, files" };
      assert.deepEqual(f, { shape: fire, file: { ...content, name: "file" } });
      assert.deepEqual(m, { shape: ferro, file: { ...content, name: "note.txt" } });
    };
    compare(traces, {
      // dag-cbor order in both (`file` last), with `name` in its place here
      "_files metadata key order"(f, m) {
        assert.equal(f.value, "car,cid,size,type,lastModified,file");
        assert.equal(m.value, "car,cid,name,size,type,lastModified,file");
      },
      "get: _files metadata"(f, m) {
        assert.deepEqual({ ...m.value, note: null }, { ...f.value, note: null });
        sameFile(f.value.note, m.value.note);
      },
      "put the document read back keeps the file"(f, m) {
        assert.deepEqual([f.value.title, m.value.title], ["u", "u"]);
        sameFile(f.value.note, m.value.note);
      },
      "allDocs: _files metadata": (f, m) => sameFile(f.value, m.value),
    });
  },
};
