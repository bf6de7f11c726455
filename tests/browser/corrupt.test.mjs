// Damaged local storage, in real Chromium: the ledger's own IndexedDB records changed behind its
// back (a flipped byte in a CAR, a truncated CAR, a CAR gone, a garbled header, another key).
// Every call that needs the damaged part rejects with a stable code; calls that do not still
// answer; the engine keeps working (no trap); nothing is written over; and once the record is
// put back, every document reads as before. A deleted header record is rebuilt from the CARs.
import assert from "node:assert/strict";
import { openPage } from "./util.mjs";

/** In the page: helpers on the raw IndexedDB database of ledger `name`. */
function rawHelpers() {
  const open = (name) =>
    new Promise((ok, err) => {
      const r = indexedDB.open(`ferroproof.${name}`);
      r.onsuccess = () => ok(r.result);
      r.onerror = () => err(r.error);
    });
  const req = (r) =>
    new Promise((ok, err) => {
      r.onsuccess = () => ok(r.result);
      r.onerror = () => err(r.error);
    });
  window.raw = {
    async read(name, store, key) {
      const db = await open(name);
      try {
        return await req(db.transaction(store).objectStore(store).get(key));
      } finally {
        db.close();
      }
    },
    async write(name, store, key, value) {
      const db = await open(name);
      try {
        const tx = db.transaction(store, "readwrite");
        if (value === undefined) tx.objectStore(store).delete(key);
        else tx.objectStore(store).put(value, key);
        await new Promise((ok, err) => {
          tx.oncomplete = ok;
          tx.onabort = () => err(tx.error);
        });
      } finally {
        db.close();
      }
    },
    async carNames(name) {
      const db = await open(name);
      try {
        return (await req(db.transaction("cars").objectStore("cars").getAllKeys())).map(String);
      } finally {
        db.close();
      }
    },
  };
}

/** Seeds ledger `name` with 900 documents (`d0000`…, `n` = their number) in 3 bulks and a field index. */
async function seed(page, name) {
  return page.evaluate(async (name) => {
    const db = window.fp.fireproof(name);
    for (let b = 0; b < 3; b++) {
      const docs = [];
      for (let i = 0; i < 300; i++) docs.push({ _id: `d${String(b * 300 + i).padStart(4, "0")}`, n: b * 300 + i, g: i % 7, text: "t".repeat(100) });
      await db.bulk(docs);
    }
    await db.query("g", { key: 3 });
    await db.close();
  }, name);
}

/**
 * In a fresh page: every document read one by one, then allDocs, a query and a put; returns the
 * codes of the rejections (by call), the documents read and whether the engine still answers.
 */
async function probe(context, harness, name) {
  const page = await openPage(context, harness);
  return page.evaluate(async (name) => {
    const db = window.fp.fireproof(name);
    const codes = {};
    const note = (what, e) => {
      const c = e instanceof Error ? (e.code ?? `uncoded ${e.name}: ${e.message}`) : `not an Error: ${String(e)}`;
      (codes[what] ??= new Set()).add(c);
    };
    const docs = {};
    for (let i = 0; i < 900; i++) {
      const id = `d${String(i).padStart(4, "0")}`;
      try {
        docs[id] = (await db.get(id)).n;
      } catch (e) {
        note("get", e);
      }
    }
    let all;
    try {
      all = (await db.allDocs()).rows.length;
    } catch (e) {
      note("allDocs", e);
    }
    try {
      await db.query("g", { key: 3 });
    } catch (e) {
      note("query", e);
    }
    try {
      await db.put({ _id: "zzzz-new", n: -1 });
    } catch (e) {
      note("put", e);
    }
    // the engine still answers a call that needs nothing stored
    let alive;
    try {
      alive = typeof (await db.info()).seq === "number";
    } catch (e) {
      note("info", e);
    }
    await db.close().catch((e) => note("close", e));
    return { codes: Object.fromEntries(Object.entries(codes).map(([k, v]) => [k, [...v]])), read: Object.keys(docs).length, docs, all, alive };
  }, name);
}

/** Every code in `codes` is one of `allowed`. */
function onlyCodes(codes, allowed, what) {
  for (const [call, cs] of Object.entries(codes)) for (const c of cs) assert.ok(allowed.includes(c), `${what}: ${call} rejected with ${c}`);
}

async function intact(context, harness, name, what) {
  const r = await probe(context, harness, name);
  assert.deepEqual(r.codes, {}, `${what}: after the record is put back`);
  assert.equal(r.read, 900);
  for (let i = 0; i < 900; i++) assert.equal(r.docs[`d${String(i).padStart(4, "0")}`], i);
  return r;
}

export const tests = {
  async "a flipped byte, a truncated CAR, a missing CAR: coded errors, other reads answer, nothing lost once restored"({ context, harness }) {
    const page = await openPage(context, harness);
    await page.evaluate(`(${rawHelpers.toString()})()`);
    await seed(page, "damaged");
    const damages = {
      "a flipped byte": (o) => ({ ...o, b: o.b.map((x, i) => (i === o.b.length >> 1 ? x ^ 0x10 : x)) }),
      "a truncated CAR": (o) => ({ ...o, b: o.b.slice(0, o.b.length >> 1) }),
      "bytes that are not a CAR": (o) => ({ ...o, b: [1, 2, 3] }),
      "a CAR gone": () => undefined,
    };
    const calls = new Set(); // the calls some damage made reject
    const applied = {}; // how many CARs each damage was applied to
    const names = await page.evaluate(() => window.raw.carNames("damaged"));
    assert.ok(names.length >= 3, `${names.length} CARs`);
    for (const [what, damage] of Object.entries(damages)) {
      // a flipped byte in each CAR in turn; the other damages in two of them
      for (const victim of what === "a flipped byte" ? names : names.slice(0, 2)) {
        const original = await page.evaluate((n) => window.raw.read("damaged", "cars", n).then((r) => r && { b: Array.from(r.b), c: r.c }), victim);
        if (!original) continue; // compacted away meanwhile (each damage must still run: below)
        applied[what] = (applied[what] ?? 0) + 1;
        const value = damage(original);
        await page.evaluate(([n, v]) => window.raw.write("damaged", "cars", n, v && { b: new Uint8Array(v.b), c: v.c }), [victim, value]);
        const r = await probe(context, harness, "damaged");
        onlyCodes(r.codes, ["CORRUPT", "MISSING_BLOCK"], what);
        // every stored CAR holds blocks some call needs: the damage is noticed, never read as data
        assert.ok(Object.keys(r.codes).length > 0, `${what} in ${victim}: no call rejected`);
        for (const [id, n] of Object.entries(r.docs)) assert.equal(n, Number(id.slice(1)), `${what}: ${id} read back wrong`);
        for (const c of Object.keys(r.codes)) calls.add(c);
        assert.equal(r.alive, true, `${what}: the engine still answers`);
        // put back: every document is there, as it was
        await page.evaluate(([n, v]) => window.raw.write("damaged", "cars", n, { b: new Uint8Array(v.b), c: v.c }), [victim, original]);
        await intact(context, harness, "damaged", what);
      }
    }
    for (const what of Object.keys(damages)) assert.ok(applied[what] > 0, `${what} was never applied`);
    // some damage hit the documents' leaves (a get failed) and some an index (a query failed)
    assert.ok(calls.has("get") && calls.has("query") && calls.has("allDocs"), [...calls].join());
  },

  async "a deleted header record: the next open rebuilds it from the stored CARs, and every document and index answers"({ context, harness }) {
    const page = await openPage(context, harness);
    await page.evaluate(`(${rawHelpers.toString()})()`);
    await seed(page, "headless");
    const cars = (await page.evaluate(() => window.raw.carNames("headless"))).length;
    await page.evaluate(() => window.raw.write("headless", "meta", "header", undefined));
    const r = await intact(context, harness, "headless", "a deleted header");
    assert.equal(r.all, 900);
    const header = JSON.parse(await page.evaluate(() => window.raw.read("headless", "meta", "header")));
    assert.ok(header.seq >= 4, `rebuilt header at seq ${header.seq}`);
    assert.ok((await page.evaluate(() => window.raw.carNames("headless"))).length >= cars, "no CAR was deleted by the open");
    // the probe's own put landed on the rebuilt ledger
    const again = await intact(context, harness, "headless", "after the rebuild");
    assert.equal(again.all, 901);
  },

  async "a garbled header or another key: the ledger refuses with a code and writes nothing over it"({ context, harness }) {
    const page = await openPage(context, harness);
    await page.evaluate(`(${rawHelpers.toString()})()`);
    await seed(page, "garbled");
    const key = await page.evaluate(() => window.raw.read("garbled", "meta", "key").then((k) => Array.from(k)));
    const damages = [
      ["header", "not a header", "a header that is not JSON"],
      ["header", JSON.stringify({ car: "bafkreinotacid", v: 9 }), "a header naming no CAR"],
      ["header", 42, "a header that is a number"],
      ["key", new Uint8Array(32).fill(7), "another key"],
      ["key", new Uint8Array(5), "a key of 5 bytes"],
    ];
    for (const [record, value, what] of damages) {
      // the header as the last round left it (its put moved it)
      const header = await page.evaluate(() => window.raw.read("garbled", "meta", "header"));
      await page.evaluate(([r, v]) => window.raw.write("garbled", "meta", r, v), [record, value]);
      const r = await probe(context, harness, "garbled");
      onlyCodes(r.codes, ["CORRUPT", "DECRYPT"], what);
      assert.ok(Object.keys(r.codes).length > 0, `${what}: refused`);
      assert.equal(r.read, 0, `${what}: nothing read`);
      // nothing was written over the damaged record
      const now = await page.evaluate((r) => window.raw.read("garbled", "meta", r), record);
      assert.deepEqual(record === "key" ? Array.from(now) : now, record === "key" ? Array.from(value) : value, `${what}: the record is as it was damaged`);
      await page.evaluate(([r, v]) => window.raw.write("garbled", "meta", r, r === "key" ? new Uint8Array(v) : v), [record, record === "key" ? key : header]);
      await intact(context, harness, "garbled", what);
    }
  },
};
