// Two pages of one origin on one ledger: no lost writes, no write rejected for contention, live
// notifications across tabs.
import assert from "node:assert/strict";
import { openPage, startServer } from "./util.mjs";

// One page's share of a round: 300 awaited puts while 300 unawaited ones are fired alongside.
// Resolves to the number of rejected puts (and the first error's message).
async function hammer([name, tag]) {
  const db = window.fp.fireproof(name);
  await db.ready();
  let errors = 0;
  let first = null;
  const fail = (e) => {
    errors++;
    first ??= `${e.code}: ${e.message}`;
  };
  const loose = [];
  const fire = (async () => {
    for (let i = 0; i < 300; i++) {
      loose.push(db.put({ _id: `${tag}-u${i}`, i, tag }).catch(fail));
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 0));
    }
  })();
  for (let i = 0; i < 300; i++) {
    await db.put({ _id: `${tag}-a${i}`, i, tag }).catch(fail);
  }
  await fire;
  await Promise.all(loose);
  return { errors, first };
}

async function countIn(page, name, prefix) {
  return page.evaluate(
    async ([name, prefix]) => (await window.fp.fireproof(name).allDocs()).rows.filter((r) => r.key.startsWith(prefix)).length,
    [name, prefix],
  );
}

/** Five rounds of two pages × (300 awaited + 300 unawaited puts) on `nameOf(round)`. */
async function contend(context, harness, nameOf) {
  const a = await openPage(context, harness);
  const b = await openPage(context, harness);
  for (let round = 0; round < 5; round++) {
    const name = nameOf(round);
    const [ra, rb] = await Promise.all([a.evaluate(hammer, [name, `r${round}a`]), b.evaluate(hammer, [name, `r${round}b`])]);
    assert.deepEqual([ra, rb], [{ errors: 0, first: null }, { errors: 0, first: null }], `round ${round}`);
    const fresh = await openPage(context, harness);
    for (const [who, page] of [["a", a], ["b", b], ["fresh", fresh]]) {
      // each page has caught up with the other's last commit (announced within a few ms)
      await page.waitForFunction(
        async ([name, prefix]) => (await window.fp.fireproof(name).allDocs()).rows.filter((r) => r.key.startsWith(prefix)).length === 1200,
        [name, `r${round}`],
        { timeout: 15_000, polling: 50 },
      ).catch(() => undefined);
      assert.equal(await countIn(page, name, `r${round}`), 1200, `round ${round}: documents visible in page ${who}`);
    }
    await fresh.close();
  }
}

/**
 * Opens ledger `name` in `page` as `window.db`, attached to the server at `url` as
 * `window.attached`, whose states go to `window.seen` (`lastError` as its code).
 */
const attachTo = (page, name, url) =>
  page.evaluate(
    async ([name, url]) => {
      window.db = window.fp.fireproof(name);
      window.attached = await window.db.attach(window.fp.toServer(url));
      window.seen = [];
      window.attached.onState((s) => window.seen.push({ ...s, lastError: s.lastError?.code ?? null }));
    },
    [name, url],
  );

export const tests = {
  async "two pages × (300 awaited + 300 unawaited puts) on new ledgers: no error, nothing lost"({ context, harness }) {
    await contend(context, harness, (round) => `contend-new-${round}`);
  },

  async "two pages × (300 awaited + 300 unawaited puts) on a ledger with data: no error, nothing lost"({ context, harness }) {
    const a = await openPage(context, harness);
    await a.evaluate(async () => {
      const db = window.fp.fireproof("contend-old");
      for (let k = 0; k < 4; k++) await db.bulk(Array.from({ length: 500 }, (_, i) => ({ _id: `old-${k}-${i}`, i, text: "already there" })));
    });
    await a.close();
    await contend(context, harness, () => "contend-old");
    const fresh = await openPage(context, harness);
    assert.equal(await countIn(fresh, "contend-old", ""), 2000 + 5 * 1200);
  },

  async "two pages writing concurrently lose nothing and see each other live"({ context, harness }) {
    const a = await openPage(context, harness);
    const b = await openPage(context, harness);
    await a.evaluate(async () => {
      window.db = window.fp.fireproof("tabs");
      window.heard = [];
      window.db.subscribe((docs) => window.heard.push(...docs.map((d) => ({ id: d._id, at: performance.now() + performance.timeOrigin }))), true);
      await window.db.ready();
    });
    await b.evaluate(async () => {
      window.db = window.fp.fireproof("tabs");
      await window.db.ready();
    });
    // a single write from b, timed until a's listener fires
    const sentAt = await b.evaluate(async () => {
      const t = performance.now() + performance.timeOrigin;
      await window.db.put({ _id: "ping" });
      return t;
    });
    await a.waitForFunction(() => window.heard.some((h) => h.id === "ping"), null, { timeout: 15_000 });
    const heardAt = await a.evaluate(() => window.heard.find((h) => h.id === "ping").at);
    // how soon is measured, not asserted (a loaded machine can stall a tab): printed for the log
    console.log(`    cross-tab: the other page's listener fired ${Math.round(heardAt - sentAt)} ms after the put`);
    // interleaved writes from both pages, not awaited one by one
    const writes = (tag) => async (tagName) => {
      const ps = [];
      for (let i = 0; i < 50; i++) {
        ps.push(window.db.put({ _id: `${tagName}-${i}`, i }));
        if (i % 5 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.all(ps);
    };
    await Promise.all([a.evaluate(writes(), "a"), b.evaluate(writes(), "b")]);
    await a.waitForFunction(() => window.heard.filter((h) => h.id.startsWith("b-")).length >= 50, null, { timeout: 15_000 });
    const countA = await a.evaluate(async () => (await window.db.allDocs()).rows.length);
    // b hears a's last commits through the cross-tab announcement (batched, at most one per
    // 16 ms): give it the promised 100 ms and more (polled in the page) before counting.
    const countB = await b.evaluate(async () => {
      const until = performance.now() + 10_000;
      let n = (await window.db.allDocs()).rows.length;
      while (n < 101 && performance.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
        n = (await window.db.allDocs()).rows.length;
      }
      return n;
    });
    assert.equal(countA, 101);
    assert.equal(countB, 101);
  },

  async "a tab whose timers are throttled (as a hidden tab's are) holds neither other tabs' writes nor their news of its own"({ context, harness }) {
    const a = await openPage(context, harness);
    const b = await openPage(context, harness);
    await a.evaluate(async () => {
      window.db = window.fp.fireproof("hidden-tab");
      window.heard = [];
      window.db.subscribe((docs) => window.heard.push(...docs.map((d) => d._id)), true);
      await window.db.ready();
    });
    // b's timers fire 10 s late from now on, as a hidden tab's can (Chrome runs them once a
    // second at most, once a minute under intensive throttling)
    await b.evaluate(async () => {
      window.db = window.fp.fireproof("hidden-tab");
      await window.db.ready();
      const late = window.setTimeout;
      window.timerFired = false;
      window.setTimeout = (fn, ms, ...args) => late(() => ((window.timerFired = true), fn(...args)), Math.max(ms ?? 0, 10_000));
      await window.db.put({ _id: "from-b" });
    });
    // a hears of b's write, and a's own write commits (it needs the lock b took), both before
    // any of b's throttled timers has fired
    await a.waitForFunction(() => window.heard.includes("from-b"), null, { timeout: 30_000 });
    await a.evaluate(() => window.db.put({ _id: "from-a" }));
    assert.equal(await b.evaluate(() => window.timerFired), false, "a waited for one of b's timers");
    assert.deepEqual(await a.evaluate(async () => (await window.db.allDocs()).rows.map((r) => r.key)), ["from-a", "from-b"]);
  },

  async "destroy in one tab: another tab's subscribers are told (of no documents) and its reads see the empty ledger"({ context, harness }) {
    const a = await openPage(context, harness);
    const b = await openPage(context, harness);
    await a.evaluate(async () => {
      window.db = window.fp.fireproof("doomed-heard");
      await window.db.bulk([{ _id: "a1" }, { _id: "a2" }]);
    });
    await b.evaluate(async () => {
      window.db = window.fp.fireproof("doomed-heard");
      await window.db.allDocs();
      window.heard = [];
      window.db.subscribe((docs) => window.heard.push(docs.length), true);
    });
    await a.evaluate(() => window.db.destroy());
    const r = await b.evaluate(async () => {
      const until = performance.now() + 10_000;
      while (window.heard.length === 0 && performance.now() < until) await new Promise((res) => setTimeout(res, 20));
      return { heard: window.heard, keys: (await window.db.allDocs()).rows.map((row) => row.key) };
    });
    assert.deepEqual(r, { heard: [0], keys: [] });
  },

  async "a tab that does not lead the sync shows the leading tab's state: phase, pendingUp, lastSyncedAt, lastError"({ context, harness }) {
    const server = await startServer();
    try {
      const a = await openPage(context, harness);
      const b = await openPage(context, harness);
      await attachTo(a, "relayed", server.url);
      await a.evaluate(() => window.attached.sync());
      await attachTo(b, "relayed", server.url); // a leads; b waits for the lead
      // b writes; a's loop pushes it; b's state follows (without b calling sync())
      const r = await b.evaluate(async () => {
        await window.db.put({ _id: "from-b" });
        const until = performance.now() + 10_000;
        const done = () => window.seen.some((s) => s.phase === "pushing") && window.attached.state().phase === "idle" && window.attached.state().lastSyncedAt;
        while (!done() && performance.now() < until) await new Promise((res) => setTimeout(res, 20));
        const s = window.attached.state();
        return { status: window.attached.status(), pendingUp: s.pendingUp, synced: s.lastSyncedAt instanceof Date, sawPush: window.seen.some((x) => x.phase === "pushing") };
      });
      assert.deepEqual(r, { status: r.status === "attached" ? "attached (never told)" : r.status, pendingUp: 0, synced: true, sawPush: true });
      assert.ok(["idle", "loaded", "syncing"].includes(r.status), r.status);
      // the server goes away: b hears a's NETWORK error
      await server.stop();
      await a.evaluate(() => window.db.put({ _id: "offline-a" }));
      const err = await b.evaluate(async () => {
        const until = performance.now() + 20_000;
        while (window.attached.state().lastError?.code !== "NETWORK" && performance.now() < until) await new Promise((res) => setTimeout(res, 50));
        return { code: window.attached.state().lastError?.code ?? null, status: window.attached.status(), isError: window.attached.state().lastError instanceof Error };
      });
      assert.deepEqual(err, { code: "NETWORK", status: "error", isError: true });
    } finally {
      await server.stop();
    }
  },

  async "a tab that does not lead writes: each of its commits is uploaded once"({ context, harness }) {
    const server = await startServer();
    try {
      const a = await openPage(context, harness);
      const b = await openPage(context, harness);
      const uploads = [];
      for (const page of [a, b]) page.on("request", (r) => r.method() === "POST" && r.url().includes("/cars/") && uploads.push(r.url().split("/cars/")[1].split("?")[0]));
      await attachTo(a, "uploaded-once", server.url);
      await a.evaluate(() => window.attached.sync());
      await attachTo(b, "uploaded-once", server.url); // a leads
      uploads.length = 0;
      for (let i = 0; i < 4; i++) {
        await b.evaluate((i) => window.db.put({ _id: `b${i}` }), i);
        // a pushes it (b's state follows a's: idle again with nothing pending)
        await b.evaluate(async () => {
          const until = performance.now() + 10_000;
          await new Promise((res) => setTimeout(res, 50));
          while ((window.attached.state().phase !== "idle" || window.attached.state().pendingUp > 0) && performance.now() < until) await new Promise((res) => setTimeout(res, 20));
        });
      }
      await a.evaluate(() => window.attached.sync());
      assert.equal(uploads.length, new Set(uploads).size, `a CAR sent twice: ${uploads.join(" ")}`);
      assert.equal(uploads.length, 4);
    } finally {
      await server.stop();
    }
  },

  async "destroy in one tab ends another tab's attachment of that ledger: nothing is pulled back"({ context, harness }) {
    const server = await startServer();
    try {
      const a = await openPage(context, harness);
      const b = await openPage(context, harness);
      await a.evaluate(() => window.fp.fireproof("doomed-synced").bulk([{ _id: "s1" }, { _id: "s2" }]));
      for (const page of [a, b]) {
        await attachTo(page, "doomed-synced", server.url);
        await page.evaluate(() => window.attached.sync());
      }
      await a.evaluate(() => window.db.destroy());
      const r = await b.evaluate(async () => {
        const until = performance.now() + 10_000;
        while (window.attached.status() !== "detached" && performance.now() < until) await new Promise((res) => setTimeout(res, 20));
        await new Promise((res) => setTimeout(res, 500));
        return { status: window.attached.status(), keys: (await window.db.allDocs()).rows.map((row) => row.key) };
      });
      assert.deepEqual(r, { status: "detached", keys: [] });
    } finally {
      await server.stop();
    }
  },

  async "destroy in one tab: another tab that has the ledger open goes on empty, and what it writes at once stays readable everywhere"({ context, harness }) {
    const a = await openPage(context, harness);
    const b = await openPage(context, harness);
    await a.evaluate(async () => {
      window.db = window.fp.fireproof("doomed-tabs");
      await window.db.bulk([{ _id: "a1" }, { _id: "a2" }]);
    });
    assert.deepEqual(await b.evaluate(async () => {
      window.db = window.fp.fireproof("doomed-tabs");
      return (await window.db.allDocs()).rows.map((r) => r.key);
    }), ["a1", "a2"]);
    await a.evaluate(() => window.db.destroy());
    // b writes at once (it may not have heard of the destroy yet), then again after a moment
    const b1 = await b.evaluate(async () => {
      await window.db.put({ _id: "b1" });
      return (await window.db.get("b1"))._id;
    });
    assert.equal(b1, "b1");
    const seen = await b.evaluate(async () => {
      await new Promise((r) => setTimeout(r, 200));
      await window.db.put({ _id: "b2" });
      return (await window.db.allDocs()).rows.map((r) => r.key);
    });
    assert.deepEqual(seen, ["b1", "b2"], "b went on with the destroyed ledger's new, empty state");
    const inA = await a.evaluate(async () => {
      const until = performance.now() + 10_000;
      let keys = [];
      while (performance.now() < until) {
        keys = (await window.db.allDocs()).rows.map((r) => r.key);
        if (keys.length === 2) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      return keys;
    });
    assert.deepEqual(inA, ["b1", "b2"], "a reads b's writes (same key)");
    const c = await openPage(context, harness);
    assert.deepEqual(await c.evaluate(async () => (await window.fp.fireproof("doomed-tabs").allDocs()).rows.map((r) => r.key)), ["b1", "b2"]);
  },

  async "destroy in one tab at the moment another tab writes: the ledger stays readable and writable everywhere (no CAR under a key the store no longer holds)"({ context, harness }) {
    const a = await openPage(context, harness);
    const b = await openPage(context, harness);
    for (let round = 0; round < 6; round++) {
      const name = `destroy-race-${round}`;
      await a.evaluate((name) => (window.db = window.fp.fireproof(name)), name);
      await b.evaluate(async (name) => {
        window.db = window.fp.fireproof(name);
        await window.db.put({ _id: "before" });
      }, name);
      // a writes in bursts while b destroys
      const writes = a.evaluate(async () => {
        const out = [];
        for (let i = 0; i < 6; i++) {
          const r = await Promise.allSettled(Array.from({ length: 5 }, (_, j) => window.db.put({ _id: `w${i}-${j}` })));
          out.push(...r.filter((x) => x.status === "rejected").map((x) => x.reason?.code));
          await new Promise((r) => setTimeout(r, 2));
        }
        return out;
      });
      await b.evaluate(() => window.db.destroy());
      const failed = await writes;
      assert.ok(failed.every((c) => c === "CLOSED"), `round ${round}: writes failed with ${failed}`);
      await new Promise((r) => setTimeout(r, 100));
      // a fresh page reads and writes the ledger, whatever survived the destroy
      const c = await openPage(context, harness);
      const fresh = await c.evaluate(async (name) => {
        const db = window.fp.fireproof(name);
        try {
          await db.allDocs();
          await db.put({ _id: "after" });
          return (await db.get("after"))._id;
        } catch (e) {
          return e.code ?? String(e);
        }
      }, name);
      await c.close();
      assert.equal(fresh, "after", `round ${round}: a fresh page got ${fresh}`);
    }
  },
};
