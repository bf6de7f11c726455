// Automatic compaction in real Chromium: the footprint after 10k documents (printed), writes from
// another tab during a compaction, and how long compaction holds up the page and a write.
import assert from "node:assert/strict";
import { openPage } from "./util.mjs";

export const tests = {
  async "10k documents in 10 bulks + a field index: footprint printed, everything readable"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const text = "x".repeat(120);
      const db = window.fp.fireproof("footprint");
      let n = 0;
      for (let k = 0; k < 10; k++) {
        const docs = [];
        for (let i = 0; i < 1000; i++, n++) docs.push({ _id: `doc-${(n * 7919) % 10007}-${n}`, n, group: n % 10, text });
        await db.bulk(docs);
        await db.query("group", { key: 0, limit: 1 });
      }
      await db.close(); // waits for the background compaction and the index save
      const usage = (await navigator.storage.estimate()).usage;
      // the engine's own footprint: the sealed CAR records (the estimate adds IndexedDB's overhead)
      const idb = await new Promise((ok, err) => {
        const r = indexedDB.open("ferroproof.footprint");
        r.onsuccess = () => ok(r.result);
        r.onerror = () => err(r.error);
      });
      const cars = await new Promise((ok, err) => {
        const r = idb.transaction("cars").objectStore("cars").getAll();
        r.onsuccess = () => ok(r.result);
        r.onerror = () => err(r.error);
      });
      idb.close();
      const carBytes = cars.reduce((n, c) => n + c.b.byteLength, 0);
      const again = window.fp.fireproof("footprint");
      const all = await again.allDocs();
      const g3 = await again.query("group", { key: 3 });
      return { usage, carBytes, cars: cars.length, count: all.rows.length, g3: g3.rows.length };
    });
    console.log(
      `    footprint after 10k docs in 10 bulks + 1 field index: ${(r.usage / 1e6).toFixed(2)} MB (navigator.storage.estimate), CARs ${(r.carBytes / 1e6).toFixed(2)} MB in ${r.cars}`,
    );
    assert.equal(r.count, 10000);
    assert.equal(r.g3, 1000);
  },

  async "a write from another tab during a compaction is kept (how long writes wait meanwhile is printed, not asserted)"({ context, harness }) {
    const a = await openPage(context, harness);
    const b = await openPage(context, harness);
    await a.evaluate(async () => {
      window.db = window.fp.fireproof("compact-tabs");
      const text = "y".repeat(150);
      for (let k = 0; k < 5; k++) {
        await window.db.bulk(Array.from({ length: 1000 }, (_, i) => ({ _id: `d${(i * 7919 + k) % 5003}-${k}`, k, text })));
      }
    });
    await b.evaluate(async () => {
      window.db = window.fp.fireproof("compact-tabs");
      await window.db.ready();
    });
    // a compacts while b writes 100 documents and a itself writes 100, awaited one by one
    const writesB = b.evaluate(async () => {
      for (let i = 0; i < 100; i++) await window.db.put({ _id: `b-${i}`, i });
    });
    const timing = await a.evaluate(async () => {
      let maxGap = 0;
      let last = performance.now();
      let ticking = true;
      const tick = () => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
        if (ticking) setTimeout(tick, 0);
      };
      setTimeout(tick, 0);
      const t0 = performance.now();
      const compacting = window.db.compact().then(() => performance.now() - t0);
      let maxPut = 0;
      for (let i = 0; i < 100; i++) {
        const s = performance.now();
        await window.db.put({ _id: `a-${i}`, i });
        maxPut = Math.max(maxPut, performance.now() - s);
      }
      const compactMs = await compacting;
      ticking = false;
      return { maxGap, maxPut, compactMs };
    });
    await writesB;
    console.log(
      `    compaction of 5k docs: ${timing.compactMs.toFixed(0)} ms in all; longest main-thread gap ${timing.maxGap.toFixed(1)} ms; slowest put meanwhile ${timing.maxPut.toFixed(1)} ms`,
    );
    const fresh = await openPage(context, harness);
    const ids = await fresh.evaluate(async () => (await window.fp.fireproof("compact-tabs").allDocs()).rows.map((r) => r.key));
    assert.equal(ids.filter((id) => id.startsWith("a-")).length, 100);
    assert.equal(ids.filter((id) => id.startsWith("b-")).length, 100);
    assert.equal(ids.length, 5200);
  },

  async "reads in another tab while this one writes and compacts never fail"({ context, harness }) {
    const a = await openPage(context, harness);
    const b = await openPage(context, harness);
    await a.evaluate(async () => {
      const db = window.fp.fireproof("stale-reads");
      const docs = [];
      for (let i = 0; i < 2000; i++) docs.push({ _id: `d${String(i).padStart(5, "0")}`, i, text: "y".repeat(100) });
      await db.bulk(docs);
    });
    // b reads continuously (its snapshot goes stale whenever a commits and compacts)
    const reading = b.evaluate(async () => {
      const db = window.fp.fireproof("stale-reads");
      const errors = [];
      let reads = 0;
      const end = Date.now() + 6000;
      while (Date.now() < end) {
        const i = Math.floor(Math.random() * 2000);
        try {
          await db.get(`d${String(i).padStart(5, "0")}`);
          if (reads % 10 === 0) await db.allDocs({ limit: 50 });
          reads++;
        } catch (e) {
          errors.push(`${e.code}: ${e.message}`);
        }
      }
      return { reads, errors: errors.slice(0, 3), count: errors.length };
    });
    await a.evaluate(async () => {
      const db = window.fp.fireproof("stale-reads");
      const end = Date.now() + 5000;
      for (let round = 0; Date.now() < end; round++) {
        const docs = [];
        for (let i = 0; i < 2000; i += 3) docs.push({ _id: `d${String(i).padStart(5, "0")}`, i, round, text: "z".repeat(100) });
        await db.bulk(docs);
        await db.compact();
      }
    });
    const r = await reading;
    assert.ok(r.reads > 50, `b read ${r.reads} times`);
    assert.deepEqual({ count: r.count, errors: r.errors }, { count: 0, errors: [] });
  },

  async "automatic compaction waits for a pause in this tab's writes, or runs at once past the hard cap"({ context, harness }) {
    const page = await openPage(context, harness);
    const r = await page.evaluate(async () => {
      const records = async (name) => {
        const idb = await new Promise((ok, err) => {
          const r = indexedDB.open(`ferroproof.${name}`);
          r.onsuccess = () => ok(r.result);
          r.onerror = () => err(r.error);
        });
        const n = await new Promise((ok) => (idb.transaction("cars").objectStore("cars").count().onsuccess = (e) => ok(e.target.result)));
        idb.close();
        return n;
      };
      const pause = (ms) => new Promise((r) => setTimeout(r, ms));
      // due (garbage past 1.5 × live + 256 KiB) but under the hard cap: not during the burst
      const db = window.fp.fireproof("quiet");
      // the longest gap between two of the burst's writes: a stalled machine may make a pause
      let last = performance.now();
      let maxGap = 0;
      for (let i = 0; i < 400; i++) {
        await db.put({ _id: `d${i % 40}`, i, text: "q".repeat(300) });
        maxGap = Math.max(maxGap, performance.now() - last);
        last = performance.now();
      }
      const inBurst = await records("quiet");
      // the pause (250 ms), an idle callback (≤ 1 s), then the compaction itself
      let afterPause = await records("quiet");
      for (const until = performance.now() + 20000; afterPause > 10 && performance.now() < until; ) {
        await pause(100);
        afterPause = await records("quiet");
      }
      // past the hard cap (2 × live + 8 MiB): compacted while the writes go on
      const big = window.fp.fireproof("burst");
      const text = "b".repeat(20000);
      for (let i = 0; i < 700; i++) await big.put({ _id: `d${i % 4}`, i, text });
      const burst = await records("burst");
      const all = await big.allDocs();
      return { inBurst, maxGap, afterPause, burst, rows: all.rows.map((r) => r.value.i), quietRows: (await db.allDocs()).rows.length };
    });
    // no compaction during the burst, unless the writes themselves paused for the quiet period
    assert.ok(r.inBurst >= 400 || r.maxGap >= 250, `no compaction during a burst under the cap (${r.inBurst} records, longest gap ${r.maxGap} ms)`);
    assert.ok(r.afterPause <= 10, `compacted after the pause (${r.afterPause} records)`);
    assert.ok(r.burst < 600, `compacted during a burst past the cap (${r.burst} records after 700 puts)`);
    assert.deepEqual(r.rows, [696, 697, 698, 699]);
    assert.equal(r.quietRows, 40);
  },

  async "destroy while a due compaction waits for the pause: no warning, nothing left"({ context, harness }) {
    const page = await openPage(context, harness);
    const warnings = [];
    page.on("console", (m) => ["warning", "error"].includes(m.type()) && warnings.push(m.text()));
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("doomed-due");
      // due (as in the test above) and waiting for the pause in this tab's writes
      for (let i = 0; i < 400; i++) await db.put({ _id: `d${i % 40}`, i, text: "q".repeat(300) });
      await db.destroy();
      await new Promise((r) => setTimeout(r, 1500)); // past the pause and an idle callback
      return (await window.fp.fireproof("doomed-due").allDocs()).rows.length;
    });
    assert.equal(r, 0);
    assert.deepEqual(warnings, []);
  },
};
