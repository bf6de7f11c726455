// Storage quota in real Chromium: the origin's quota lowered through the DevTools protocol
// (Storage.overrideQuotaForOrigin, before the page first stores anything), so IndexedDB itself
// refuses the writes: local writes, and a replica's pull.
import assert from "node:assert/strict";
import { openPage, startServer } from "./util.mjs";

export const tests = {
  async "a full origin: QUOTA, nothing acknowledged lost, reads work, writes resume when space returns"({ context, harness }) {
    const page = await openPage(context, harness);
    const cdp = await context.newCDPSession(page);
    const origin = new URL(harness).origin;
    const quota = (quotaSize) => cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize });
    await quota(3_000_000);
    await page.exposeFunction("raiseQuota", () => quota(1_000_000_000));
    const r = await page.evaluate(async () => {
      const db = window.fp.fireproof("full");
      const text = "x".repeat(2000);
      let acked = 0;
      let refused;
      for (let b = 0; b < 200 && !refused; b++) {
        try {
          await db.bulk(Array.from({ length: 20 }, (_, i) => ({ _id: `d${b * 20 + i}`, n: b * 20 + i, text })));
          acked += 20;
        } catch (e) {
          refused = { code: e.code, isError: e instanceof Error, message: e.message };
        }
      }
      let single;
      try {
        await db.put({ _id: "one-more", text });
      } catch (e) {
        single = e.code;
      }
      const rows = (await db.allDocs()).rows.length;
      let missing = 0;
      for (let i = 0; i < acked; i += 7) if ((await db.get(`d${i}`)).n !== i) missing++;
      const queried = (await db.query("n", { range: [0, 99] })).rows.length;
      await window.raiseQuota();
      await db.put({ _id: "after", ok: true });
      await db.compact();
      const after = await db.get("after");
      const rowsAfter = (await db.allDocs()).rows.length;
      await db.close();
      return { acked, refused, single, rows, missing, queried, after, rowsAfter };
    });
    assert.ok(r.acked >= 200, `some bulks fit before the quota (${r.acked})`);
    assert.equal(r.refused?.code, "QUOTA");
    assert.equal(r.refused.isError, true);
    assert.match(r.refused.message, /quota/);
    assert.equal(r.single, "QUOTA");
    assert.equal(r.rows, r.acked, "every acknowledged document is there, the refused ones are not");
    assert.equal(r.missing, 0);
    assert.equal(r.queried, 100);
    assert.deepEqual(r.after, { _id: "after", ok: true });
    assert.equal(r.rowsAfter, r.acked + 1);

    // a fresh page (quota back to normal) sees the same ledger
    const p2 = await openPage(context, harness);
    const again = await p2.evaluate(async () => {
      const db = window.fp.fireproof("full");
      return [(await db.allDocs()).rows.length, (await db.get("after")).ok];
    });
    assert.deepEqual(again, [r.acked + 1, true]);
  },

  async "a full origin on a replica that joins: the pull reports QUOTA, its own data stays, it catches up when space returns"({ context, harness }) {
    const server = await startServer();
    const other = await context.browser().newContext(); // another profile: its own storage
    try {
      const a = await openPage(other, harness); // the quota override below applies to this test's own context
      const invite = await a.evaluate(async (url) => {
        const db = window.fp.fireproof("big");
        const rnd = () => Math.random().toString(36).slice(2);
        for (let b = 0; b < 20; b++) await db.bulk(Array.from({ length: 50 }, (_, i) => ({ _id: `d${b * 50 + i}`, text: Array.from({ length: 60 }, rnd).join("") })));
        const at = await db.attach(window.fp.toServer(url));
        await at.sync();
        return at.invite();
      }, server.url);
      const b = await openPage(context, harness);
      const cdp = await context.newCDPSession(b);
      const origin = new URL(harness).origin;
      const quota = (quotaSize) => cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize });
      await quota(400_000);
      await b.evaluate(() => window.fp.fireproof("big").put({ _id: "mine", n: 1 }));
      const full = await b.evaluate(async ([url, invite]) => {
        const db = window.fp.fireproof("big");
        let attachErr = null;
        try {
          window.attached = await db.attach(window.fp.toServer(url, { invite }));
        } catch (e) {
          attachErr = e.code;
        }
        const syncErr = attachErr ?? (await window.attached.sync().then(() => null, (e) => e.code));
        return { attachErr, syncErr, last: window.attached?.state().lastError?.code ?? null, status: window.attached?.status(), mine: (await db.get("mine")).n };
      }, [server.url, invite]);
      await quota(1_000_000_000);
      const after = await b.evaluate(async ([url, invite]) => {
        const db = window.fp.fireproof("big");
        window.attached ??= await db.attach(window.fp.toServer(url, { invite }));
        await window.attached.sync();
        return { rows: (await db.allDocs()).rows.length, mine: (await db.get("mine")).n };
      }, [server.url, invite]);
      // the attach itself holds (the key fits); the pull is refused and says why
      assert.deepEqual(full, { attachErr: null, syncErr: "QUOTA", last: "QUOTA", status: "error", mine: 1 });
      assert.deepEqual(after, { rows: 1001, mine: 1 });
    } finally {
      await other.close();
      await server.stop();
    }
  },
};
