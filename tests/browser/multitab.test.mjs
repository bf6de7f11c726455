// Two pages of one origin on one ledger: no lost writes, live notifications across tabs.
import assert from "node:assert/strict";
import { openPage } from "./util.mjs";

export const tests = {
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
    await a.waitForFunction(() => window.heard.some((h) => h.id === "ping"), null, { timeout: 5000 });
    const heardAt = await a.evaluate(() => window.heard.find((h) => h.id === "ping").at);
    assert.ok(heardAt - sentAt < 100, `listener fired after ${heardAt - sentAt} ms`);
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
    await a.waitForFunction(() => window.heard.filter((h) => h.id.startsWith("b-")).length >= 50, null, { timeout: 5000 });
    const countA = await a.evaluate(async () => (await window.db.allDocs()).rows.length);
    const countB = await b.evaluate(async () => {
      return (await window.db.allDocs()).rows.length;
    });
    assert.equal(countA, 101);
    assert.equal(countB, 101);
  },
};
