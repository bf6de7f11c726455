// The two engine builds (README "Two engine builds"): a page that does not sync loads only the
// local one; attaching switches a ledger to the full one without losing a write, an index or a
// subscriber; a ledger that synced before, or attaches in the same tick, loads only the full one;
// a failed download of the full build is a coded error that leaves the local ledger working.
import assert from "node:assert/strict";
import { openPage, startServer } from "./util.mjs";

/** Which engine builds this page has loaded so far (module or glue), and whether the sync modules (attachment, server connector, auth client). */
const loaded = (page) =>
  page.evaluate(() => {
    const urls = performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname);
    return {
      local: urls.includes("/pkg/wasm/ferroproof_bg.wasm") || urls.includes("/pkg/wasm/ferroproof.js"),
      full: urls.includes("/pkg/wasm-sync/ferroproof_bg.wasm"),
      syncModule: urls.includes("/pkg/sync.js") && urls.includes("/pkg/connectors/server-remote.js") && urls.includes("/pkg/auth/ucan.js"),
      anySyncCode: urls.some((u) => u === "/pkg/sync.js" || u === "/pkg/connectors/server-remote.js" || u.startsWith("/pkg/auth/")),
    };
  });

export const tests = {
  async "a page that does not sync loads the local build; attaching mid-burst switches builds and loses nothing"({ context, harness }) {
    const server = await startServer();
    const fresh = await context.browser().newContext(); // no cache, no storage
    const other = await context.browser().newContext();
    try {
      const page = await openPage(fresh, harness);
      const before = await page.evaluate(async () => {
        const db = window.fp.fireproof("builds");
        window.seen = 0;
        db.subscribe((docs) => (window.seen += docs.length), true);
        const docs = Array.from({ length: 200 }, (_, i) => ({ _id: `d${String(i).padStart(3, "0")}`, n: i, even: i % 2 === 0 }));
        await db.bulk(docs.slice(0, 100));
        const q = await db.query("even", { key: true });
        return { rows: q.rows.length };
      });
      assert.equal(before.rows, 50);
      assert.deepEqual(await loaded(page), { local: true, full: false, syncModule: false, anySyncCode: false });

      const r = await page.evaluate(async (url) => {
        const db = window.fp.fireproof("builds");
        // writes and a query in flight while the ledger switches builds
        const writes = [];
        for (let i = 100; i < 200; i++) writes.push(db.put({ _id: `d${String(i).padStart(3, "0")}`, n: i, even: i % 2 === 0 }));
        const query = db.query("even", { key: true });
        const attached = await db.attach(window.fp.toServer(url));
        const settled = await Promise.allSettled([...writes, query]);
        await attached.sync();
        const after = await db.put({ _id: "after", n: -1, even: true });
        await new Promise((res) => setTimeout(res, 100)); // subscribers run after the commit
        window.attached = attached;
        return {
          rejected: settled.filter((s) => s.status === "rejected").map((s) => String(s.reason)),
          inFlightRows: settled[100].value.rows.length,
          evenRows: (await db.query("even", { key: true })).rows.length,
          count: (await db.allDocs()).rows.length,
          after: after.id,
          seen: window.seen,
          invite: await attached.invite(),
          lastError: attached.state().lastError,
        };
      }, server.url);
      assert.deepEqual(r.rejected, []);
      assert.ok(r.inFlightRows >= 50, `in-flight query: ${r.inFlightRows} rows`);
      assert.equal(r.evenRows, 101);
      assert.equal(r.count, 201);
      assert.equal(r.seen, 201, "the subscriber saw every write, before and after the switch");
      assert.equal(r.lastError, null);
      assert.deepEqual(await loaded(page), { local: true, full: true, syncModule: true, anySyncCode: true });

      // another profile joins with the invite: it gets everything written across the switch
      const b = await openPage(other, harness);
      const joined = await b.evaluate(async ([url, invite]) => {
        const db = window.fp.fireproof("builds-b");
        const a = await db.attach(window.fp.toServer(url, { invite }));
        await a.sync();
        return (await db.allDocs()).rows.length;
      }, [server.url, r.invite]);
      assert.equal(joined, 201);
      assert.deepEqual(await loaded(b), { local: false, full: true, syncModule: true, anySyncCode: true }, "attach in the same tick: only the full build");

      // the next open of a ledger that syncs loads the full build at once, and only it
      await page.evaluate(() => window.attached.detach());
      const again = await openPage(fresh, harness);
      assert.equal(await again.evaluate(async () => (await window.fp.fireproof("builds").allDocs()).rows.length), 201);
      assert.deepEqual(await loaded(again), { local: false, full: true, syncModule: false, anySyncCode: false });
      // another ledger of the same profile that never synced still loads the local build
      assert.equal(await again.evaluate(async () => (await window.fp.fireproof("plain").put({ _id: "x" })).id), "x");
      assert.deepEqual(await loaded(again), { local: true, full: true, syncModule: false, anySyncCode: false });
    } finally {
      await fresh.close();
      await other.close();
      await server.stop();
    }
  },

  async "a tab on the local build writes, another tab on the full build syncs: its writes reach the remote"({ context, harness }) {
    const server = await startServer();
    const fresh = await context.browser().newContext();
    const other = await context.browser().newContext();
    try {
      const local = await openPage(fresh, harness);
      await local.evaluate(() => window.fp.fireproof("two-tabs").put({ _id: "first" }));
      const syncing = await openPage(fresh, harness);
      const invite = await syncing.evaluate(async (url) => {
        const a = await window.fp.fireproof("two-tabs").attach(window.fp.toServer(url));
        await a.sync();
        window.attached = a;
        return a.invite();
      }, server.url);
      // the first tab stays on the local build and keeps writing
      await local.evaluate(async () => {
        const db = window.fp.fireproof("two-tabs");
        for (let i = 0; i < 20; i++) await db.put({ _id: `local-${i}`, i });
      });
      assert.deepEqual(await loaded(local), { local: true, full: false, syncModule: false, anySyncCode: false });
      await syncing.waitForFunction(async () => {
        await window.attached.sync();
        return window.attached.state().pendingUp === 0 && (await window.fp.fireproof("two-tabs").allDocs()).rows.length === 21;
      }, null, { timeout: 20_000, polling: 250 });
      const b = await openPage(other, harness);
      const ids = await b.evaluate(async ([url, invite]) => {
        const db = window.fp.fireproof("two-tabs-b");
        const a = await db.attach(window.fp.toServer(url, { invite }));
        await a.sync();
        return (await db.allDocs()).rows.map((r) => r.key);
      }, [server.url, invite]);
      assert.equal(ids.length, 21);
      assert.ok(ids.includes("local-19") && ids.includes("first"));
    } finally {
      await fresh.close();
      await other.close();
      await server.stop();
    }
  },

  async "the full build failing to download: attach rejects with NETWORK, the ledger keeps working, a retry attaches"({ context, harness }) {
    const server = await startServer();
    const fresh = await context.browser().newContext();
    try {
      const page = await openPage(fresh, harness);
      await page.route("**/pkg/wasm-sync/ferroproof_bg.wasm", (route) => route.abort());
      const r = await page.evaluate(async (url) => {
        const db = window.fp.fireproof("builds-fail");
        await db.put({ _id: "a", n: 1 });
        let code;
        try {
          await db.attach(window.fp.toServer(url));
        } catch (e) {
          code = e instanceof Error ? e.code : String(e);
        }
        await db.put({ _id: "b", n: 2 });
        return { code, ids: (await db.allDocs()).rows.map((x) => x.key), b: (await db.get("b")).n };
      }, server.url);
      assert.equal(r.code, "NETWORK");
      assert.deepEqual(r.ids, ["a", "b"]);
      assert.equal(r.b, 2);
      // reloaded (the full build still failing): the ledger opens as before, on the local build
      const reloaded = async () => {
        await page.reload();
        await page.waitForFunction(() => window.harnessReady === true);
        return page.evaluate(async () => {
          try {
            return (await window.fp.fireproof("builds-fail").allDocs()).rows.map((x) => x.key);
          } catch (e) {
            return e instanceof Error ? e.code : String(e);
          }
        });
      };
      assert.deepEqual(await reloaded(), ["a", "b"], "after a failed attach");

      await page.unroute("**/pkg/wasm-sync/ferroproof_bg.wasm");
      const ok = await page.evaluate(async (url) => {
        const db = window.fp.fireproof("builds-fail");
        const a = await db.attach(window.fp.toServer(url));
        await db.put({ _id: "c", n: 3 });
        await a.sync();
        return { count: (await db.allDocs()).rows.length, pendingUp: a.state().pendingUp, lastError: a.state().lastError };
      }, server.url);
      assert.deepEqual(ok, { count: 3, pendingUp: 0, lastError: null });
      // a profile that syncs this ledger (its next open loads the full build) whose full build
      // cannot be downloaded now: the ledger still opens, on the local build
      await page.route("**/pkg/wasm-sync/ferroproof_bg.wasm", (route) => route.abort());
      assert.deepEqual(await reloaded(), ["a", "b", "c"], "marked as syncing, full build unavailable");
    } finally {
      await fresh.close();
      await server.stop();
    }
  },
};
