// A ledger stored by an earlier build (IndexedDB version 2: block CIDs as strings in the `cid`
// index) opens at version 3 (binary CIDs), reads cold, takes writes and compacts into the new form.
import assert from "node:assert/strict";
import { CID } from "multiformats/cid";
import { openPage } from "./util.mjs";

const NAME = "legacy-v2";

export const tests = {
  async "a ledger with string block CIDs (IDB version 2) reads, writes and compacts"({ context, harness }) {
    const writer = await openPage(context, harness);
    // Written by this build, then dumped: every record, with its CIDs as bytes.
    const dump = await writer.evaluate(async (name) => {
      const db = window.fp.fireproof(name);
      const text = "z".repeat(100);
      for (let k = 0; k < 3; k++) {
        await db.bulk(Array.from({ length: 400 }, (_, i) => ({ _id: `d${(i * 7919 + k) % 1201}`, k, i, text })));
      }
      const bytes = new Uint8Array(5000).map((_, i) => (i * 31) % 251);
      await db.put({ _id: "with-file", _files: { f: new File([bytes], "f.bin", { type: "application/x-test" }) } });
      await db.close();
      const idb = await new Promise((ok, err) => {
        const r = indexedDB.open(`ferroproof.${name}`);
        r.onsuccess = () => ok(r.result);
        r.onerror = () => err(r.error);
      });
      const all = (store, what) =>
        new Promise((ok, err) => {
          const r = idb.transaction(store).objectStore(store)[what]();
          r.onsuccess = () => ok(r.result);
          r.onerror = () => err(r.error);
        });
      const version = idb.version;
      const names = await all("cars", "getAllKeys");
      const cars = (await all("cars", "getAll")).map((r) => ({ b: Array.from(r.b), c: r.c.map((c) => Array.from(new Uint8Array(c))) }));
      const metaKeys = await all("meta", "getAllKeys");
      const meta = (await all("meta", "getAll")).map((v) => (v instanceof Uint8Array ? { bytes: Array.from(v) } : { value: v }));
      idb.close();
      await new Promise((ok) => {
        const r = indexedDB.deleteDatabase(`ferroproof.${name}`);
        r.onsuccess = r.onerror = r.onblocked = () => ok();
      });
      return { version, names, cars, metaKeys, meta };
    }, NAME);
    assert.equal(dump.version, 3);
    assert.ok(dump.cars.every((r) => r.c.every((c) => c[0] === 1)), "this build stores CID bytes");
    // The same records as version 2 stored them: string CIDs.
    const legacy = dump.cars.map((r) => ({ b: r.b, c: r.c.map((c) => CID.decode(Uint8Array.from(c)).toString()) }));
    assert.ok(legacy.some((r) => r.c.some((c) => c.startsWith("bafk"))), "a file CAR");
    await writer.close();

    const old = await openPage(context, harness);
    await old.evaluate(
      async ({ name, names, cars, metaKeys, meta }) => {
        const idb = await new Promise((ok, err) => {
          const r = indexedDB.open(`ferroproof.${name}`, 2);
          r.onupgradeneeded = () => {
            r.result.createObjectStore("cars").createIndex("cid", "c", { multiEntry: true });
            r.result.createObjectStore("meta");
          };
          r.onsuccess = () => ok(r.result);
          r.onerror = () => err(r.error);
        });
        const tx = idb.transaction(["cars", "meta"], "readwrite");
        cars.forEach((r, i) => tx.objectStore("cars").put({ b: Uint8Array.from(r.b), c: r.c }, names[i]));
        meta.forEach((m, i) => tx.objectStore("meta").put(m.bytes ? Uint8Array.from(m.bytes) : m.value, metaKeys[i]));
        await new Promise((ok, err) => {
          tx.oncomplete = ok;
          tx.onabort = () => err(tx.error);
        });
        idb.close();
      },
      { name: NAME, names: dump.names, cars: legacy, metaKeys: dump.metaKeys, meta: dump.meta },
    );
    await old.close();

    const reader = await openPage(context, harness);
    const r = await reader.evaluate(async (name) => {
      const db = window.fp.fireproof(name);
      const out = {};
      // cold reads: every block is located through the string entries
      out.d7 = (await db.get("d7")).k;
      out.count = (await db.allDocs()).rows.length;
      const doc = await db.get("with-file");
      const file = await doc._files.f.file();
      const got = new Uint8Array(await file.arrayBuffer());
      out.fileOk = got.length === 5000 && got.every((v, i) => v === (i * 31) % 251) && file.name === "f.bin";
      await db.put({ _id: "after", n: 1 });
      await db.del("d8");
      await db.compact();
      const idb = await new Promise((ok, err) => {
        const q = indexedDB.open(`ferroproof.${name}`);
        q.onsuccess = () => ok(q.result);
        q.onerror = () => err(q.error);
      });
      out.version = idb.version;
      const recs = await new Promise((ok, err) => {
        const q = idb.transaction("cars").objectStore("cars").getAll();
        q.onsuccess = () => ok(q.result);
        q.onerror = () => err(q.error);
      });
      idb.close();
      out.stringCids = recs.filter((x) => x.c.some((c) => typeof c === "string")).length;
      out.fileCars = recs.filter((x) => x.c.some((c) => typeof c === "string" && c.startsWith("bafk"))).length;
      const again = window.fp.fireproof(`${name}`);
      out.after = (await again.get("after")).n;
      out.countAfter = (await again.allDocs()).rows.length;
      const withFile = await again.get("with-file");
      out.fileAfter = (await withFile._files.f.file()).size;
      // Sync: the file CAR (listed through its string CIDs) is pushed but kept out of the head
      // records' manifests, so a fresh replica fetches it only when its file is read.
      const objects = new Map();
      const gets = [];
      const store = {
        async put(k, b) {
          if (!objects.has(k)) objects.set(k, b.slice());
        },
        async get(k) {
          gets.push(k);
          return objects.get(k) ?? null;
        },
        async list(p) {
          return [...objects.keys()].filter((k) => k.startsWith(p));
        },
        async delete(k) {
          objects.delete(k);
        },
      };
      const a1 = await again.attach(window.fp.toConnector(store));
      await a1.sync();
      const car = withFile._files.f.car.toString();
      out.filePushed = [...objects.keys()].some((k) => k.includes(car));
      const copy = window.fp.fireproof(`${name}-copy`);
      const a2 = await copy.attach(window.fp.toConnector(store, { invite: await a1.invite() }));
      await a2.sync();
      out.copyCount = (await copy.allDocs()).rows.length;
      out.fetchedBeforeRead = gets.some((k) => k.includes(car));
      out.copyFile = (await (await copy.get("with-file"))._files.f.file()).size;
      out.fetchedOnRead = gets.some((k) => k.includes(car));
      return out;
    }, NAME);
    const ids = new Set();
    for (let k = 0; k < 3; k++) for (let i = 0; i < 400; i++) ids.add(`d${(i * 7919 + k) % 1201}`);
    assert.ok(ids.has("d7") && ids.has("d8"));
    assert.equal(typeof r.d7, "number");
    assert.equal(r.count, ids.size + 1); // and the file document
    assert.ok(r.fileOk, "the file's bytes, name and type");
    assert.equal(r.version, 3);
    // compaction rewrote the documents' blocks with binary CIDs; file CARs are kept as stored
    assert.equal(r.stringCids, r.fileCars, "only file CARs keep string CIDs");
    assert.equal(r.after, 1);
    assert.equal(r.countAfter, ids.size + 1); // + "after", − "d8"
    assert.equal(r.fileAfter, 5000);
    assert.ok(r.filePushed, "the file CAR is on the remote");
    assert.equal(r.copyCount, ids.size + 1);
    assert.equal(r.fetchedBeforeRead, false, "a pull does not download file CARs");
    assert.equal(r.copyFile, 5000);
    assert.ok(r.fetchedOnRead);
    // a fresh page reads the compacted ledger cold
    const fresh = await openPage(context, harness);
    const c = await fresh.evaluate(async (name) => (await window.fp.fireproof(name).allDocs()).rows.length, NAME);
    assert.equal(c, ids.size + 1);
  },
};
