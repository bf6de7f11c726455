// The built package in real Chromium against real IndexedDB: the Fireproof-compatible API.
import assert from "node:assert/strict";
import { openPage } from "./util.mjs";

export const tests = {
  async "put, get, del, allDocs and changes"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("basics");
      const a = await db.put({ _id: "a", n: 1 });
      const b = await db.put({ n: 2 });
      const gotA = await db.get("a");
      const gotB = await db.get(b.id);
      const d = await db.del("a");
      let notFound;
      try {
        await db.get("a");
      } catch (e) {
        notFound = { isNF: e instanceof window.fp.NotFoundError, isErr: e instanceof Error, code: e.code, msg: e.message, is: window.fp.isNotFoundError(e) };
      }
      const all = await db.allDocs();
      const withDeleted = await db.allDocs({ includeDeleted: true });
      const changes = await db.changes();
      const isDb = [window.fp.isDatabase(db), window.fp.isDatabase({ put() {} }), window.fp.isDatabase(null)];
      return { a, b, gotA, gotB, d, notFound, all, withDeleted, changes, clockStr: String(a.clock[0]), isDb };
    });
    assert.deepEqual(r.isDb, [true, false, false]);
    assert.equal(r.a.id, "a");
    assert.equal(r.a.name, "basics");
    assert.match(r.b.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(r.gotA, { _id: "a", n: 1 });
    assert.deepEqual(r.gotB, { _id: r.b.id, n: 2 });
    assert.equal(r.d.id, "a");
    assert.deepEqual(r.notFound, { isNF: true, isErr: true, code: "ENOENT", msg: "Not found: a", is: true });
    assert.deepEqual(r.all.rows, [{ key: r.b.id, value: { _id: r.b.id, n: 2 } }]);
    assert.deepEqual(r.withDeleted.rows.find((x) => x.key === "a"), { key: "a", value: { _id: "a", _deleted: true } });
    assert.deepEqual(r.changes.rows.map((x) => x.key), [r.b.id, "a"]);
    assert.match(r.clockStr, /^bafyrei/);
  },

  async "value rules: dates, undefined, NaN, null, bytes, unicode ids, no mutation"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("values");
      const input = { _id: "ünï-☃-😀", when: new Date("2024-01-02T03:04:05.000Z"), gone: undefined, nan: NaN, nil: null, bytes: new Uint8Array([0, 1, 254, 255]), nested: { list: [1, "x", null, true], deep: { k: 0.5 } } };
      const copy = { ...input };
      await db.put(input);
      const got = await db.get("ünï-☃-😀");
      const errs = [];
      const nest = (n, leaf) => (n === 0 ? leaf : { d: nest(n - 1, leaf) });
      let deep = [1]; // deeper than any recursion can go
      for (let i = 0; i < 200_000; i++) deep = [deep];
      for (const bad of [{ x: Infinity }, { list: [1, NaN] }, { list: [undefined] }, { big: 10n }, { deep }, nest(200, 1)]) {
        try {
          await db.put(bad);
          errs.push("accepted");
        } catch (e) {
          errs.push(`${e.code}|${e.message}`);
        }
      }
      const stillWorks = await db.put({ _id: "after", ok: true });
      return {
        got: { ...got, bytes: Array.from(got.bytes), isBytes: got.bytes instanceof Uint8Array },
        unmutated: Object.keys(input).length === Object.keys(copy).length && input._id === copy._id && !("_deleted" in input),
        errs,
        after: stillWorks.id,
      };
    });
    assert.deepEqual(r.got, { _id: "ünï-☃-😀", when: "2024-01-02T03:04:05.000Z", nil: null, bytes: [0, 1, 254, 255], isBytes: true, nested: { list: [1, "x", null, true], deep: { k: 0.5 } } });
    assert.ok(r.unmutated);
    assert.match(r.errs[0], /^INVALID_DOC\|.*field x: Infinity/);
    assert.match(r.errs[1], /^INVALID_DOC\|.*field list\[1\]: NaN/);
    assert.match(r.errs[2], /^INVALID_DOC\|.*field list\[0\]: undefined/);
    assert.match(r.errs[3], /^INVALID_DOC\|.*field big: bigint/);
    assert.match(r.errs[4], /^INVALID_DOC\|invalid document: field deep(\[0\]){127}: nested more than 128 levels deep$/);
    assert.match(r.errs[5], /^INVALID_DOC\|invalid document: field d(\.d){127}: nested more than 128 levels deep$/);
    assert.equal(r.after, "after");
  },

  async "junk arguments to every method (400 random calls) and to toServer settle with coded errors, and the ledger keeps its data and works"({ context, harness }) {
    const page = await openPage(context, harness);
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    const r = await page.evaluate(async ([SEED, N]) => {
      const rnd = window.rng(SEED); // mulberry32 (harness.html)
      const cyc = {};
      cyc.self = cyc;
      const junk = () => {
        const all = [
          undefined, null, 0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 64, "", "a", "x".repeat(5000), "\ud800", true, false,
          Symbol("s"), 10n, [], [1, 2], [[[]]], {}, { _id: 5 }, { _id: "" }, { _id: "ok", v: 1 }, { _id: {} }, cyc, new Date(NaN), new Date(0),
          new Uint8Array(3), new ArrayBuffer(2), () => 1, (d, e) => e(d._id), async () => 1, Object.create(null), new Map([[1, 2]]),
          { get boom() { throw new Error("getter"); } }, new Proxy({}, { ownKeys() { throw new Error("proxy"); } }),
          { key: {} }, { keys: "x" }, { range: [1] }, { range: "x" }, { prefix: {} }, { limit: -5 }, { limit: "3" }, { descending: "yes" },
          [{ "/": 1 }], { clock: [1] }, [{ "/": "notacid" }], ["bafyreigaoe36umoeeov3sqjiexmfqh5bsj7g5vojciqhqaxw5vqm4ta7w4"], { includeDocs: 3 },
          Array.from({ length: 50 }, (_, i) => ({ _id: "b" + i })), [null, 1, "x"], [{ _id: "c", v: NaN }], [{ _id: "d", v: [undefined] }],
        ];
        return all[rnd(all.length)];
      };
      const db = window.fp.fireproof("api-fuzz");
      await db.put({ _id: "keep", v: 42 });
      const methods = ["put", "get", "del", "remove", "bulk", "query", "allDocs", "allDocuments", "changes", "subscribe", "compact", "info", "at", "rollback", "exportCar", "attach"];
      const bad = [];
      for (let i = 0; i < N; i++) {
        const m = methods[rnd(methods.length)];
        const args = Array.from({ length: rnd(3) }, junk);
        if (m === "rollback" && Array.isArray(args[0]) && args[0].length === 0) continue; // empties the ledger, on purpose
        let p;
        try {
          p = db[m](...args);
        } catch (e) {
          // a synchronous throw: allowed only as a coded error
          if (!(e instanceof Error) || typeof e.code !== "string") bad.push(`${m} threw synchronously ${e?.constructor?.name}: ${String(e?.message ?? e).slice(0, 120)}`);
          continue;
        }
        if (m === "subscribe") {
          if (typeof p === "function") p();
          continue;
        }
        if (m === "at") {
          try {
            p = p.get(junk());
          } catch (e) {
            if (!(e instanceof Error) || typeof e.code !== "string") bad.push(`at().get threw ${String(e?.message ?? e).slice(0, 120)}`);
            continue;
          }
        }
        if (!p || typeof p.then !== "function") continue;
        const res = await Promise.race([p.then(() => "ok", (e) => e), new Promise((r) => setTimeout(() => r("TIMEOUT"), 5000))]);
        if (res === "TIMEOUT") bad.push(`${m}(${args.map((a) => typeof a).join(",")}) did not settle`);
        else if (res !== "ok") {
          if (res instanceof Error && /^(proxy|getter)$/.test(res.message)) continue; // the app's own throw, passed on
          if (!(res instanceof Error) || typeof res.code !== "string") bad.push(`${m}(${args.map((a) => typeof a).join(",")}) rejected with ${res?.constructor?.name} ${String(res?.message ?? res).slice(0, 160)}`);
        }
      }
      // the sync factories check their arguments too
      for (const [url, opts] of [[undefined], [null], [5], [{}], ["http://127.0.0.1:1", null]]) {
        try {
          window.fp.toServer(url, opts);
        } catch (e) {
          if (!(e instanceof Error) || e.code !== "INVALID_ARG") bad.push(`toServer(${typeof url}, ${opts}) threw ${e?.constructor?.name}: ${e?.message}`);
        }
      }
      // not http(s) URLs are refused at once; a page-relative one is resolved against the page
      for (const url of ["", "   ", "ftp://x", "mailto:a@b", "http://[bad"]) {
        try {
          window.fp.toServer(url);
          bad.push(`toServer(${JSON.stringify(url)}) accepted`);
        } catch (e) {
          if (e?.code !== "INVALID_ARG") bad.push(`toServer(${JSON.stringify(url)}) threw ${e?.constructor?.name}: ${e?.message}`);
        }
      }
      const relative = window.fp.toServer("/sync/").name;
      if (relative !== `server:${location.origin}/sync`) bad.push(`toServer("/sync/") is ${relative}`);
      const keep = await db.get("keep").then((d) => d.v, (e) => e.code);
      await db.put({ _id: "after", v: 1 });
      const after = await db.get("after").then((d) => d.v, (e) => e.code);
      return { bad: [...new Set(bad)].slice(0, 30), keep, after };
    }, [4, 400]);
    assert.deepEqual(r.bad, []);
    assert.equal(r.keep, 42);
    assert.equal(r.after, 1);
    assert.deepEqual(pageErrors, []);
  },

  async "random documents round-trip by the value rules (a plain model): numbers, -0, floats, big magnitudes, NaN and undefined fields, dates, bytes, \"/\"-only maps, nesting"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const rnd = window.rng(7); // mulberry32 (harness.html)
      // a value and what it must read back as (undefined: the field is dropped)
      const gen = (depth, inArray) => {
        const kinds = depth > 3 ? 9 : 12;
        switch (rnd(kinds)) {
          case 0: { const n = rnd(2000) - 1000; return [n, n]; }
          case 1: { const f = (rnd(100000) - 50000) / 64 + 0.5; return [f, f]; }
          case 2: { const n = [-0, 2 ** 63, -(2 ** 64), 1e300, 5e-324, 2 ** 53 + 2][rnd(6)]; return [n, n]; }
          case 3: { const s = "s" + rnd(50) + ["", "\u00e9", "\u{1f600}", "\"\\\n"][rnd(4)]; return [s, s]; }
          case 4: { const b = rnd(2) === 0; return [b, b]; }
          case 5: return [null, null];
          case 6: { const d = new Date(1.7e12 + rnd(1e9)); return [d, d.toISOString()]; }
          case 7: { const b = new Uint8Array(rnd(5)).map(() => rnd(256)); return [b, b]; }
          case 8: { const n = rnd(10); return inArray ? [n, n] : [[NaN, undefined][n % 2], undefined]; } // refused in arrays
          case 9: { const [v, w] = gen(depth + 1, false); return [{ "/": v }, w === undefined ? {} : { "/": w }]; }
          case 10: { const a = [], b = []; for (let i = rnd(4); i > 0; i--) { const [v, w] = gen(depth + 1, true); a.push(v); b.push(w); } return [a, b]; }
          default: { const o = {}, e = {}; for (let i = rnd(5); i > 0; i--) { const k = "k" + rnd(8); const [v, w] = gen(depth + 1, false); o[k] = v; if (w === undefined) delete e[k]; else e[k] = w; } return [o, e]; }
        }
      };
      const same = (a, b) => {
        if (a instanceof Uint8Array || b instanceof Uint8Array) return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
        if (typeof a === "number" || typeof b === "number") return Object.is(a, b);
        if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
        if (a && b && typeof a === "object" && typeof b === "object") {
          const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
          return same(ka, kb) && ka.every((k) => same(a[k], b[k]));
        }
        return a === b;
      };
      const docs = [], want = new Map();
      for (let i = 0; i < 600; i++) {
        const doc = { _id: `d${i}` }, exp = { _id: `d${i}` };
        for (let f = rnd(6); f >= 0; f--) { const [v, w] = gen(0, false); doc["f" + f] = v; if (w !== undefined) exp["f" + f] = w; }
        docs.push(doc); want.set(doc._id, exp);
      }
      const db = window.fp.fireproof("model-values");
      await db.bulk(docs.slice(0, 450));
      for (const d of docs.slice(450)) await db.put(d);
      const bad = [];
      const show = (v) => JSON.stringify(v, (k, x) => (x instanceof Uint8Array ? `bytes:${Array.from(x)}` : Object.is(x, -0) ? "-0" : x));
      const check = (how, got, exp) => same(got, exp) || bad.push(`${how}: got ${show(got)}, want ${show(exp)}`);
      for (const row of (await db.allDocs()).rows) check("allDocs", row.value, want.get(row.key));
      for (const d of docs.slice(0, 20)) check("get", await db.get(d._id), want.get(d._id));
      return { n: (await db.allDocs()).rows.length, bad };
    });
    assert.equal(r.n, 600);
    assert.deepEqual(r.bad, []);
  },

  async "objects shaped like the wire's forms ({\"/\": …}) come back as themselves: get, allDocs, changes, query values, subscribers"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("slash");
      const shapes = {
        bytesLike: { "/": { bytes: "aGk=" } },
        f64Like: { "/": { f64: "3ff0000000000000" } },
        mapLike: { "/": { map: { "/": { bytes: "aGk=" } } } },
        linkLike: { "/": "bafyreihiu2zzshn2fv5nh5zyn7u2nmh4q4llt6b5bjqd5ya2qjp65r5gdy" },
        slashBytes: { "/": new Uint8Array([1, 2]) },
        nested: [{ "/": { "/": null } }, { "/": { bytes: 1 } }, { "/": {} }],
        beside: { "/": { bytes: "aGk=" }, other: 1 },
        realBytes: new Uint8Array([104, 105]),
      };
      let heard = null;
      db.subscribe((docs) => (heard = docs), true);
      await db.put({ _id: "a", ...shapes });
      await db.put({ "/": { bytes: "aGk=" } }); // a document whose only field is "/" (its id generated)
      // bytes marked, keys sorted (stored documents come back in dag-cbor key order)
      const sorted = (x) => Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]]));
      const show = (v) =>
        JSON.stringify(v, (k, x) => (x instanceof Uint8Array ? `bytes:${Array.from(x)}` : x && typeof x === "object" && !Array.isArray(x) ? sorted(x) : x));
      const strip = ({ _id, ...rest }) => rest;
      const got = await db.get("a");
      const all = (await db.allDocs()).rows.map((x) => x.value);
      const changes = (await db.changes()).rows.map((x) => x.value);
      const values = (await db.query((d, emit) => d.bytesLike && emit(d._id, d.bytesLike))).rows.map((x) => x.value);
      await new Promise((res) => setTimeout(res, 100));
      return {
        want: show(shapes),
        got: show(strip(got)),
        all: all.map((d) => show(strip(d))),
        changes: changes.map((d) => show(strip(d))),
        values: values.map(show),
        heard: heard && show(strip(heard[0])),
        onlySlash: show(strip(all.find((d) => d._id !== "a"))),
      };
    });
    assert.equal(r.got, r.want);
    assert.deepEqual(r.all.sort(), [r.want, JSON.stringify({ "/": { bytes: "aGk=" } })].sort());
    assert.deepEqual(r.changes, [r.want, JSON.stringify({ "/": { bytes: "aGk=" } })]);
    assert.deepEqual(r.values, [JSON.stringify({ "/": { bytes: "aGk=" } })]);
    assert.equal(r.heard, JSON.stringify({ "/": { bytes: "aGk=" } }));
    assert.equal(r.onlySlash, JSON.stringify({ "/": { bytes: "aGk=" } }));
  },

  async "numbers come back as the same doubles; float keys query and collate"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("numbers");
      const nums = [0, -0, 1, -1, 0.1, -2.5, 1 / 3, 1e21, -1e-7, 5e-324, 2 ** 53 + 2, 2 ** 60, 2 ** 63, -(2 ** 63), 1.7976931348623157e308, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
      await db.bulk(nums.map((n, i) => ({ _id: `n${String(i).padStart(2, "0")}`, n, list: [n, { n }] })));
      const back = [];
      for (let i = 0; i < nums.length; i++) back.push(await db.get(`n${String(i).padStart(2, "0")}`));
      const same = back.map((d, i) => Object.is(d.n, nums[i]) && Object.is(d.list[0], nums[i]) && Object.is(d.list[1].n, nums[i]));
      const range = (await db.query("n", { range: [-2.5, 0.1] })).rows.map((x) => x.key);
      const byKey = (await db.query("n", { key: 1 / 3 })).rows.map((x) => x.id);
      const emitted = (await db.query((d, emit) => emit([d.n, d.n / 2], d.n / 4), { limit: 2 })).rows.map((x) => [x.key, x.value]);
      return { same, range, byKey, emitted };
    });
    assert.deepEqual(r.same, Array(17).fill(true));
    assert.deepEqual(r.range, [-2.5, -1, -1e-7, 0, 0, 5e-324, 0.1]);
    assert.deepEqual(r.byKey, ["n06"]);
    assert.deepEqual(r.emitted, [[[-(2 ** 63), -(2 ** 62)], -(2 ** 61)], [[-9007199254740991, -4503599627370495.5], -9007199254740991 / 4]]);
  },

  async "same-tick writes coalesce into one commit; bulk is one commit"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("coalesce");
      await db.ready();
      const before = (await db.info()).seq;
      const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => db.put({ _id: `d${i}`, i })));
      const mid = (await db.info()).seq;
      const bulk = await db.bulk(Array.from({ length: 50 }, (_, i) => ({ _id: `b${i}`, i })));
      const after = await db.info();
      return { before, mid, after: after.seq, count: after.count, sameClock: rs.every((x) => String(x.clock[0]) === String(rs[0].clock[0])), bulkIds: bulk.ids.length };
    });
    assert.equal(r.mid - r.before, 1, "100 puts in one tick are one commit");
    assert.equal(r.after - r.mid, 1, "bulk is one commit");
    assert.equal(r.count, 150);
    assert.ok(r.sameClock);
    assert.equal(r.bulkIds, 50);
  },

  async "handles of one name share a ledger; subscribe with and without updates"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const a = window.fp.fireproof("shared");
      const b = window.fp.fireproof("shared");
      const seen = [];
      const plain = [];
      const unsub = a.subscribe((docs) => seen.push(docs.map((d) => d._id)), true);
      a.subscribe((docs) => plain.push(docs.length));
      // as in Fireproof, a write resolves once the subscribers have been called for it
      const told = [];
      await b.put({ _id: "x", v: 1 });
      told.push([seen.length, plain.length]);
      await b.del("x");
      told.push([seen.length, plain.length]);
      await b.bulk([{ _id: "p" }, { _id: "q" }]);
      told.push([seen.length, plain.length]);
      // one added after a write resolved is not told of that write
      const late = [];
      a.subscribe((docs) => late.push(docs.map((d) => d._id)), true);
      await new Promise((r) => setTimeout(r, 50));
      unsub();
      await b.put({ _id: "y" });
      told.push([seen.length, plain.length, late.length]);
      return { got: await a.get("y"), seen, plain, told, late };
    });
    assert.deepEqual(r.got, { _id: "y" });
    assert.deepEqual(r.seen, [["x"], ["x"], ["p", "q"]]);
    assert.deepEqual(r.plain, [0, 0, 0, 0]);
    assert.deepEqual(r.told, [[1, 1], [2, 2], [3, 3], [3, 4, 1]]);
    assert.deepEqual(r.late, [["y"]]);
  },

  async "close() right after unawaited calls: writes are stored and resolve, reads answer, subscribers hear the writes, nothing is logged"({ context, harness }) {
    const page = await openPage(context, harness);
    const errors = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("close-after-writes");
      const seen = [];
      db.subscribe((docs) => seen.push(...docs.map((d) => d._id)), true);
      const writes = [db.put({ _id: "a" }), db.bulk([{ _id: "b" }, { _id: "c" }]), db.del("a")];
      const compacted = db.compact();
      await db.close();
      const results = await Promise.all(writes);
      await compacted;
      // reads made before close() answer too, on a page that has not loaded the ledger yet
      const again = window.fp.fireproof("close-after-writes");
      const reads = [again.get("b"), again.allDocs(), again.changes(), again.query("_id")];
      await again.close();
      const [doc, all, changes, query] = await Promise.all(reads);
      // and a view's read and an export, alone
      const third = window.fp.fireproof("close-after-writes");
      const others = [third.at(results[2].clock).get("c"), third.exportCar()];
      await third.close();
      const [past, car] = await Promise.all(others);
      const late = await again.get("b").then(() => "answered", (e) => e.code);
      return {
        ids: results.map((x) => x.id ?? x.ids.join("+")),
        seen,
        read: { doc, all: all.rows.map((row) => row.key), changes: changes.rows.map((row) => row.key), query: query.rows.map((row) => row.id), past, car: car instanceof Uint8Array && car.length > 0 },
        late,
      };
    });
    assert.deepEqual(r.ids, ["a", "b+c", "a"]);
    assert.deepEqual([...new Set(r.seen)].sort(), ["a", "b", "c"]);
    assert.deepEqual(r.read, { doc: { _id: "b" }, all: ["b", "c"], changes: ["b", "c", "a"], query: ["b", "c"], past: { _id: "c" }, car: true });
    assert.equal(r.late, "CLOSED");
    assert.deepEqual(errors, []);
  },

  async "subscribers that write, throw or never settle hold neither the writes nor later notifications"({ context, harness }) {
    const page = await openPage(context, harness);
    const errors = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("reentrant");
      const seen = [];
      db.subscribe((docs) => {
        throw new Error("thrown by a subscriber");
      }, true);
      db.subscribe(async () => {
        throw new Error("rejected by a subscriber");
      });
      db.subscribe(() => new Promise(() => {})); // never settles
      // writes a log entry for every document it is told of, and waits for that write
      db.subscribe(async (docs) => {
        for (const d of docs) if (!d._id.startsWith("log-")) await db.put({ _id: `log-${d._id}` });
        seen.push(docs.map((d) => d._id));
      }, true);
      await db.put({ _id: "a" });
      await db.put({ _id: "b" });
      for (let i = 0; i < 1000 && seen.flat().filter((id) => id.startsWith("log-")).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      return { seen, ids: (await db.allDocs()).rows.map((row) => row.key) };
    });
    assert.deepEqual(r.ids, ["a", "b", "log-a", "log-b"]);
    assert.deepEqual(r.seen.flat().sort(), ["a", "b", "log-a", "log-b"]);
    assert.ok(errors.some((e) => e.includes("thrown by a subscriber")), errors.join("\n"));
    assert.ok(errors.some((e) => e.includes("rejected by a subscriber")), errors.join("\n"));
  },

  async "changes since a clock; returned clocks are never mutated"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("changes");
      await db.put({ _id: "a" });
      const first = await db.changes();
      const frozen = first.clock.map(String);
      await db.put({ _id: "b" });
      await db.put({ _id: "a", again: true });
      const since = await db.changes(first.clock);
      const limited = await db.changes([], { limit: 1 });
      return { frozen, nowFirst: first.clock.map(String), since: since.rows.map((x) => x.value), limited: limited.rows.map((x) => x.key) };
    });
    assert.deepEqual(r.nowFirst, r.frozen);
    assert.deepEqual(r.since, [{ _id: "b" }, { _id: "a", again: true }]);
    assert.deepEqual(r.limited, ["a"]);
  },

  async "a browser without WebAssembly SIMD gets UNSUPPORTED, not a compile error"({ context, harness }) {
    const page = await context.newPage();
    // As a browser without SIMD would answer the engine's feature probe.
    await page.addInitScript(() => {
      WebAssembly.validate = () => false;
    });
    await page.goto(harness);
    await page.waitForFunction(() => window.harnessReady === true);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("no-simd");
      const out = [];
      for (const op of [() => db.put({ a: 1 }), () => db.get("x")]) {
        try {
          await op();
          out.push("resolved");
        } catch (e) {
          out.push(`${e instanceof Error}|${e.code}|${e.message}`);
        }
      }
      return out;
    });
    for (const x of r) assert.match(x, /^true\|UNSUPPORTED\|this browser lacks WebAssembly SIMD/);
    await page.close();
  },

  async "close rejects with CLOSED; other handles keep working"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const a = window.fp.fireproof("closing");
      const b = window.fp.fireproof("closing");
      await a.put({ _id: "k" });
      await a.close();
      const codes = [];
      for (const op of [() => a.get("k"), () => a.put({}), () => a.allDocs()]) {
        try {
          await op();
          codes.push("ok");
        } catch (e) {
          codes.push(e.code);
        }
      }
      // subscribe does not throw on a closed handle (as in Fireproof): its listener is never called
      const heard = [];
      const un = a.subscribe((docs) => heard.push(docs), true);
      await b.put({ _id: "later" });
      un();
      return { codes, viaB: await b.get("k"), un: typeof un, heard };
    });
    assert.deepEqual(r.codes, ["CLOSED", "CLOSED", "CLOSED"]);
    assert.deepEqual(r.viaB, { _id: "k" });
    assert.deepEqual({ un: r.un, heard: r.heard }, { un: "function", heard: [] });
  },

  async "a handle opened while the last one closes gets a working ledger (not a closed one)"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const fp = window.fp;
      const a = fp.fireproof("reopened");
      await a.put({ _id: "k", n: 1 });
      await a.query("n", { key: 1 }); // an index the close stores, holding the commit lock
      // the lock held here: the close waits for it, and the second handle opens meanwhile
      let granted, release;
      const got = new Promise((r) => (granted = r));
      const held = new Promise((r) => (release = r));
      void navigator.locks.request("ferroproof:reopened", () => (granted(), held));
      await got;
      const closing = a.close();
      await new Promise((res) => setTimeout(res, 100));
      const b = fp.fireproof("reopened"); // before the close has finished
      const heard = [];
      b.subscribe((docs) => heard.push(...docs.map((d) => d._id)), true);
      release();
      await closing;
      const out = (p) => p.then((v) => v, (e) => `rejected ${e.code}`);
      const put = await out(b.put({ _id: "k2", n: 1 }).then((w) => w.id));
      const rows = await out(b.query("n", { key: 1 }).then((q) => q.rows.map((row) => row.id)));
      await new Promise((res) => setTimeout(res, 50));
      await b.close();
      // and the ledger closes with its last handle, as before
      const c = fp.fireproof("reopened");
      const all = (await c.allDocs()).rows.map((row) => row.key);
      return { put, rows, heard, all, closedA: await out(a.get("k")) };
    });
    assert.deepEqual(r, { put: "k2", rows: ["k", "k2"], heard: ["k2"], all: ["k", "k2"], closedA: "rejected CLOSED" });
  },

  async "data survives a reload; compact keeps documents"({ context, harness }) {
    const page = await openPage(context, harness);
    await page.evaluate(async () => {
      const db = window.fp.fireproof("reload");
      for (let i = 0; i < 30; i++) await db.put({ _id: `d${i % 10}`, i });
      await db.del("d3");
    });
    await page.reload();
    await page.waitForFunction(() => window.harnessReady === true);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("reload");
      const before = await db.allDocs();
      const info = await db.info();
      await db.compact();
      const after = await db.allDocs();
      const info2 = await db.info();
      return { n: before.rows.length, same: JSON.stringify(before.rows) === JSON.stringify(after.rows), d5: await db.get("d5"), head: String(info.clock[0]) === String(info2.clock[0]) };
    });
    assert.equal(r.n, 9);
    assert.ok(r.same);
    assert.deepEqual(r.d5, { _id: "d5", i: 25 });
    assert.ok(r.head);
  },

  async "files: put a File, get metadata with file(), re-put keeps it, survives reload"({ context, harness }) {
    const page = await openPage(context, harness);
    await page.evaluate(async () => {
      const db = window.fp.fireproof("files");
      const file = new File(["hello file"], "hello.txt", { type: "text/plain", lastModified: 1700000000000 });
      await db.put({ _id: "f", title: "with file", _files: { "hello.txt": file } });
      const doc = await db.get("f");
      await db.put({ ...doc, title: "edited" }); // files read back are kept on re-put
    });
    await page.reload();
    await page.waitForFunction(() => window.harnessReady === true);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("files");
      const doc = await db.get("f");
      const meta = doc._files["hello.txt"];
      const f = await meta.file();
      const all = await db.allDocs();
      return { title: doc.title, type: meta.type, size: meta.size, lastModified: meta.lastModified, name: f.name, text: await f.text(), viaAll: typeof all.rows[0].value._files["hello.txt"].file };
    });
    assert.deepEqual(r, { title: "edited", type: "text/plain", size: 10, lastModified: 1700000000000, name: "hello.txt", text: "hello file", viaAll: "function" });
  },

  async "every CAR record stays under the 64 KiB above which Chromium moves a value to a blob file"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("records");
      const doc = (i) => ({ _id: `d${(i * 2654435761) % 4294967296}`, n: i, text: "x".repeat(100 + (i % 300)) });
      for (let b = 0; b < 5; b++) await db.bulk(Array.from({ length: 1000 }, (_, i) => doc(b * 1000 + i))); // ~300 KB each
      await db.query("n", { key: 7 }); // an index, stored too
      await db.close();
      const sizes = async () => {
        const idb = await new Promise((ok, err) => {
          const r = indexedDB.open("ferroproof.records");
          r.onsuccess = () => ok(r.result);
          r.onerror = () => err(r.error);
        });
        const all = await new Promise((ok) => {
          const r = idb.transaction("cars").objectStore("cars").getAll();
          r.onsuccess = () => ok(r.result);
        });
        idb.close();
        // the record's bytes, each CID with its clone framing, and the object's own framing
        return all.map((v) => v.b.byteLength + v.c.reduce((n, c) => n + c.byteLength + 12, 0) + 64);
      };
      const written = await sizes();
      const db2 = window.fp.fireproof("records");
      await db2.compact();
      const count = (await db2.allDocs()).rows.length;
      await db2.close();
      return { written, compacted: await sizes(), count };
    });
    assert.equal(r.count, 5000);
    assert.ok(r.written.length >= 25, `${r.written.length} records`); // 5 bulks of ~300 KB: split
    assert.ok(r.compacted.length >= 5, `${r.compacted.length} records after compact()`); // ~1.5 MB live
    for (const [what, sizes] of [["written", r.written], ["compacted", r.compacted]]) {
      const max = Math.max(...sizes);
      assert.ok(max < 65536, `${what}: largest record ~${max} B`);
    }
  },

  async "destroy removes all data; open handles go on empty, subscribers hear it; close then destroy works"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("doomed");
      const other = window.fp.fireproof("doomed");
      await db.put({ _id: "x" });
      await db.query("n", { key: 1 }); // an index built and stored
      let heard = 0;
      other.subscribe(() => heard++);
      await db.destroy();
      const again = window.fp.fireproof("doomed");
      const afterDestroy = [(await again.allDocs()).rows.length, (await other.allDocs()).rows.length, (await db.allDocs()).rows.length];
      await new Promise((r) => setTimeout(r, 50));
      // the handles write on the new, empty ledger, and see each other's writes
      await db.put({ _id: "y", n: 1 });
      const seen = [(await other.get("y")).n, (await other.query("n", { key: 1 })).rows.map((row) => row.id)];
      // Fireproof's tests tear down with close() then destroy()
      await db.close();
      await other.close();
      await again.close();
      await db.destroy();
      const fresh = window.fp.fireproof("doomed");
      const afterCloseDestroy = (await fresh.allDocs()).rows.length;
      let closedCode;
      try {
        await db.put({ _id: "z" });
      } catch (e) {
        closedCode = e.code;
      }
      // and without awaiting the close (the close still running when destroy() starts)
      const late = window.fp.fireproof("doomed-late");
      await late.put({ _id: "l1" });
      await late.query("n", { key: 1 }); // an index the close stores
      void late.close();
      const lateDestroy = await late.destroy().then(() => "ok", (e) => `rejected ${e.code}: ${e.message}`);
      const lateAfter = (await window.fp.fireproof("doomed-late").allDocs()).rows.length;
      return { afterDestroy, heard, seen, afterCloseDestroy, closedCode, lateDestroy, lateAfter };
    });
    assert.deepEqual({ lateDestroy: r.lateDestroy, lateAfter: r.lateAfter }, { lateDestroy: "ok", lateAfter: 0 });
    assert.deepEqual(r.afterDestroy, [0, 0, 0]);
    assert.ok(r.heard >= 1, "the other handle's subscriber was told");
    assert.deepEqual(r.seen, [1, ["y"]]);
    assert.equal(r.afterCloseDestroy, 0);
    assert.equal(r.closedCode, "CLOSED", "a closed handle stays closed after destroy");
  },

  async "fireproof(undefined) opens the ledger \"default\"; an empty name is INVALID_ARG"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof(undefined);
      await db.put({ _id: "hello", value: "world" });
      const got = await window.fp.fireproof("default").get("hello");
      const changes = await db.changes([]);
      let empty;
      try {
        window.fp.fireproof("");
      } catch (e) {
        empty = e.code;
      }
      await db.close();
      await db.destroy();
      return { name: db.name, got: got.value, changes: changes.rows.length, empty };
    });
    assert.deepEqual(r, { name: "default", got: "world", changes: 1, empty: "INVALID_ARG" });
  },
};
