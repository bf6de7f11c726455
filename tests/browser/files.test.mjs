// Files in real Chromium (docs/format.md §16): a 100 MB file round-trips in 1 MiB chunks with the
// engine's memory bounded; reads never touch file bytes; replaced and deleted files go with
// compaction; with sync, file CARs reach the server encrypted and another profile fetches them
// only when file() asks.
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openPage, startServer } from "./util.mjs";

const MiB = 1 << 20;

/** In the page: chunk `i` of a deterministic test file (xorshift seeded by `i`). */
const CHUNK_FN = `(i, size) => {
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  let x = (i + 1) * 2654435761 >>> 0 || 1;
  for (let o = 0; o + 4 <= size; o += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    v.setUint32(o, x);
  }
  return out;
}`;

/** File CAR names in the page's IndexedDB for `name` (records holding raw blocks). */
const FILE_CARS_FN = `(name) => new Promise((resolve, reject) => {
  const open = indexedDB.open("ferroproof." + name);
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    // raw-codec CIDs (bytes 01 55 …) in the binary cid index
    const r = db.transaction("cars").objectStore("cars").index("cid").getAllKeys(IDBKeyRange.bound(Uint8Array.of(1, 0x55), Uint8Array.of(1, 0x56), false, true));
    r.onsuccess = () => { db.close(); resolve([...new Set(r.result)]); };
    r.onerror = () => reject(r.error);
  };
})`;

async function fileCars(page, name) {
  return page.evaluate(`(${FILE_CARS_FN})(${JSON.stringify(name)})`);
}

export const tests = {
  async "a 100 MB file round-trips in 1 MiB chunks; the engine's memory stays a few chunks"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async (chunkFn) => {
      const chunk = eval(chunkFn);
      const MiB = 1 << 20;
      const n = 100;
      const size = n * MiB - 1234; // the last chunk is short
      const parts = [];
      for (let i = 0; i < n; i++) parts.push(new Blob([chunk(i, Math.min(MiB, size - i * MiB))]));
      const big = new File(parts, "big.bin", { type: "application/octet-stream", lastModified: 1700000000000 });
      // the engine's memory (its export's name is minified: scripts/minify-wasm-names.mjs)
      const exports = await (await import("/pkg/wasm/ferroproof.js")).default();
      const memory = Object.values(exports).find((v) => v instanceof WebAssembly.Memory);
      const db = window.fp.fireproof("bigfile");
      await db.put({ _id: "warm", n: 1 });
      const before = memory.buffer.byteLength;
      const t0 = performance.now();
      await db.put({ _id: "big", title: "a big one", _files: { "data.bin": big } });
      const putMs = performance.now() - t0;
      const afterPut = memory.buffer.byteLength;
      const doc = await db.get("big");
      const meta = doc._files["data.bin"];
      const t1 = performance.now();
      const f = await meta.file();
      const readMs = performance.now() - t1;
      const afterRead = memory.buffer.byteLength;
      let same = f.size === size;
      for (let i = 0; same && i < n; i++) {
        const got = new Uint8Array(await f.slice(i * MiB, (i + 1) * MiB).arrayBuffer());
        const want = chunk(i, Math.min(MiB, size - i * MiB));
        same = got.length === want.length && got.every((b, j) => b === want[j]);
      }
      const keys = Object.keys(meta).sort();
      return {
        same, name: f.name, type: f.type, lastModified: f.lastModified, size: meta.size, cid: meta.cid, car: meta.car,
        metaName: meta.name, keys, grewPut: afterPut - before, grewRead: afterRead - afterPut, putMs, readMs, before,
      };
    }, CHUNK_FN);
    console.log(`    100 MB file: put ${r.putMs.toFixed(0)} ms, file() ${r.readMs.toFixed(0)} ms; wasm memory ${(r.before / MiB).toFixed(1)} MiB, +${(r.grewPut / MiB).toFixed(1)} MiB writing, +${(r.grewRead / MiB).toFixed(1)} MiB reading`);
    assert.ok(r.same, "the bytes read back equal the bytes put");
    assert.deepEqual([r.name, r.type, r.lastModified, r.size, r.metaName], ["big.bin", "application/octet-stream", 1700000000000, 100 * MiB - 1234, "big.bin"]);
    assert.match(r.cid, /^bafkrei[a-z2-7]{52}$/);
    assert.match(r.car, /^bafkrei[a-z2-7]{52}$/);
    assert.deepEqual(r.keys, ["car", "cid", "file", "lastModified", "name", "size", "type"], "the key and the CAR list stay hidden");
    // the engine never held the file: its memory grew by a few chunks at most
    assert.ok(r.grewPut <= 8 * MiB, `wasm memory grew ${r.grewPut} bytes writing`);
    assert.ok(r.grewRead <= 8 * MiB, `wasm memory grew ${r.grewRead} bytes reading`);
    assert.equal((await fileCars(page, "bigfile")).length, 100, "one CAR per 1 MiB chunk");
  },

  async "get, allDocs, query and changes never read file bytes; file() reports what is missing"({ context, harness }) {
    const page = await openPage(context, harness);
    await page.evaluate(async () => {
      const db = window.fp.fireproof("manyfiles");
      const files = {};
      for (let i = 0; i < 20; i++) files[`f${i}.bin`] = new File([new Uint8Array(200_000).fill(i)], `f${i}.bin`, { type: "application/x-test" });
      await db.bulk([{ _id: "with", kind: "x", _files: files }, { _id: "without", kind: "x" }]);
      const d = await db.get("with");
      if ((await d._files["f3.bin"].file()).size !== 200_000) throw new Error("file not readable");
    });
    const cars = await fileCars(page, "manyfiles");
    assert.equal(cars.length, 20);
    // take every file's bytes away: everything but file() must still work, in a fresh page
    await page.evaluate(
      (cars) =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open("ferroproof.manyfiles");
          open.onsuccess = () => {
            const tx = open.result.transaction("cars", "readwrite");
            for (const c of cars) tx.objectStore("cars").delete(c);
            tx.oncomplete = () => (open.result.close(), resolve());
            tx.onerror = () => reject(tx.error);
          };
        }),
      cars,
    );
    // a cold open and first get of each document, each in its own fresh page (printed, not asserted)
    const cold = [];
    for (const id of ["with", "without", "with", "without"]) {
      const p = await openPage(context, harness);
      cold.push(await p.evaluate(async (id) => {
        const t0 = performance.now();
        await window.fp.fireproof("manyfiles").get(id);
        return performance.now() - t0;
      }, id));
      await p.close();
    }
    const fresh = await openPage(context, harness);
    const r = await fresh.evaluate(async () => {
      const db = window.fp.fireproof("manyfiles");
      const withDoc = await db.get("with");
      const all = await db.allDocs();
      const q = await db.query("kind", { key: "x" });
      const mapped = await db.query((doc, emit) => emit(Object.keys(doc._files ?? {}).length));
      const ch = await db.changes();
      const err = await withDoc._files["f0.bin"].file().then(() => null, (e) => ({ code: e.code, isError: e instanceof Error }));
      return {
        n: Object.keys(withDoc._files).length,
        meta: { size: withDoc._files["f7.bin"].size, type: withDoc._files["f7.bin"].type, name: withDoc._files["f7.bin"].name },
        all: all.rows.length, q: q.rows.map((x) => x.id), mapped: mapped.rows.map((x) => [x.id, x.key]),
        ch: ch.rows.length, viaQuery: typeof q.docs[0]._files?.["f1.bin"]?.file, err,
      };
    });
    const ms = (a) => a.map((x) => x.toFixed(1)).join(", ");
    console.log(`    fresh page, open + first get: document with 20 files ${ms([cold[0], cold[2]])} ms; without files ${ms([cold[1], cold[3]])} ms`);
    assert.equal(r.n, 20);
    assert.deepEqual(r.meta, { size: 200_000, type: "application/x-test", name: "f7.bin" });
    assert.equal(r.all, 2);
    assert.deepEqual(r.q, ["with", "without"].sort());
    assert.deepEqual(r.mapped, [["without", 0], ["with", 20]]);
    assert.equal(r.ch, 2);
    assert.equal(r.viaQuery, "function");
    assert.deepEqual(r.err, { code: "MISSING_BLOCK", isError: true });
  },

  async "a replaced file's and a deleted document's bytes go with compaction; re-put copies nothing"({ context, harness }) {
    const page = await openPage(context, harness);
    const steps = [];
    const step = async (label, fn) => {
      await page.evaluate(fn);
      steps.push([label, (await fileCars(page, "churn")).length]);
    };
    await step("put", async () => {
      const db = window.fp.fireproof("churn");
      await db.put({ _id: "a", _files: { "x.txt": new File(["first version"], "x.txt", { type: "text/plain" }) } });
    });
    await step("re-put", async () => {
      const db = window.fp.fireproof("churn");
      const d = await db.get("a");
      await db.put({ ...d, edited: true });
      await db.compact();
      const again = await db.get("a");
      const t = await (await again._files["x.txt"].file()).text();
      if (t !== "first version" || again.edited !== true) throw new Error(`re-put lost the file: ${t}`);
    });
    await step("replaced", async () => {
      const db = window.fp.fireproof("churn");
      const d = await db.get("a");
      await db.put({ ...d, _files: { "x.txt": new File(["second version"], "x.txt", { type: "text/plain" }) } });
      await db.compact();
      const t = await (await (await db.get("a"))._files["x.txt"].file()).text();
      if (t !== "second version") throw new Error(`replaced file reads ${t}`);
    });
    await step("deleted", async () => {
      const db = window.fp.fireproof("churn");
      await db.del("a");
      await db.compact();
    });
    assert.deepEqual(steps, [["put", 1], ["re-put", 1], ["replaced", 1], ["deleted", 0]]);
    // a document read from one ledger and put into another: its file's bytes are copied there
    const copied = await page.evaluate(async () => {
      const from = window.fp.fireproof("copy-from");
      await from.put({ _id: "d", _files: { "c.txt": new File(["copied bytes"], "c.txt", { type: "text/plain" }) }, odd: { a: 42 } });
      await window.fp.fireproof("copy-to").put(await from.get("d"));
      await from.destroy();
      const d = await window.fp.fireproof("copy-to").get("d");
      return { text: await (await d._files["c.txt"].file()).text(), odd: d.odd };
    });
    assert.deepEqual(copied, { text: "copied bytes", odd: { a: 42 } });
    // entries that are not files are kept as they are
    const plain = await page.evaluate(async () => {
      const db = window.fp.fireproof("plainentries");
      await db.put({ _id: "p", _files: { n: 42, s: "text", z: null, o: { x: 1 } } });
      return (await db.get("p"))._files;
    });
    assert.deepEqual(plain, { n: 42, s: "text", z: null, o: { x: 1 } });
  },

  async "with sync, file CARs reach the server encrypted and another profile fetches them on file()"({ context, harness }) {
    const server = await startServer();
    const other = await context.browser().newContext();
    try {
      const a = await openPage(context, harness);
      const marker = "FILE-PLAINTEXT-MARKER-7c1e";
      const invite = await a.evaluate(
        async ([url, marker]) => {
          const db = window.fp.fireproof("sharedfiles");
          const text = (marker + " ").repeat(120_000); // ~3.3 MB: four chunks
          await db.put({ _id: "doc", _files: { "notes.txt": new File([text], "notes.txt", { type: "text/plain" }) } });
          const att = await db.attach(window.fp.toServer(url));
          await att.sync();
          return att.invite();
        },
        [server.url, marker],
      );
      // what the server stores: the file's CARs, and nowhere the file's text
      const seen = [];
      const walk = async (dir) => {
        for (const e of await readdir(dir, { withFileTypes: true })) {
          const p = join(dir, e.name);
          if (e.isDirectory()) await walk(p);
          else seen.push(await readFile(p));
        }
      };
      await walk(server.store);
      assert.ok(!seen.some((b) => b.includes(Buffer.from("FILE-PLAINTEXT-MARKER"))), "the server never sees the file's bytes");
      assert.ok(seen.filter((b) => b.length > 1_000_000).length >= 3, "the file CARs are on the server");
      const b = await openPage(other, harness);
      const r = await b.evaluate(
        async ([url, invite, fileCarsFn]) => {
          const db = window.fp.fireproof("sharedfiles");
          const att = await db.attach(window.fp.toServer(url, { invite }));
          await att.sync();
          const doc = await db.get("doc");
          const fileCars = eval(fileCarsFn);
          const before = (await fileCars("sharedfiles")).length;
          const text = await (await doc._files["notes.txt"].file()).text();
          const after = (await fileCars("sharedfiles")).length;
          await att.detach();
          const offline = await (await db.get("doc"))._files["notes.txt"].file().then((f) => f.size); // stored here now
          return { before, after, len: text.length, head: text.slice(0, 30), offline };
        },
        [server.url, invite, FILE_CARS_FN],
      );
      assert.equal(r.before, 0, "a pull downloads no file bytes");
      // a third profile, after a file CAR was damaged on the server: file() reports it, nothing else breaks
      const big = [];
      const find = async (dir) => {
        for (const e of await readdir(dir, { withFileTypes: true })) {
          const p = join(dir, e.name);
          if (e.isDirectory()) await find(p);
          else if ((await readFile(p)).length > 1_000_000) big.push(p);
        }
      };
      await find(server.store);
      for (const p of big) {
        const bytes = await readFile(p);
        bytes[bytes.length >> 1] ^= 1;
        await writeFile(p, bytes);
      }
      const third = await context.browser().newContext();
      try {
        const c = await openPage(third, harness);
        const t = await c.evaluate(
          async ([url, invite]) => {
            const db = window.fp.fireproof("sharedfiles");
            const att = await db.attach(window.fp.toServer(url, { invite }));
            await att.sync();
            const doc = await db.get("doc");
            const err = await doc._files["notes.txt"].file().then(() => null, (e) => e.code);
            await db.put({ _id: "after", ok: true });
            return { err, docs: (await db.allDocs()).rows.length };
          },
          [server.url, invite],
        );
        assert.deepEqual(t, { err: "CORRUPT", docs: 2 });
      } finally {
        await third.close();
      }
      assert.equal(r.after, 4);
      assert.equal(r.len, (marker.length + 1) * 120_000);
      assert.equal(r.head, `${marker} ${marker}`.slice(0, 30));
      assert.equal(r.offline, r.len);
    } finally {
      await other.close();
      await server.stop();
    }
  },
};
