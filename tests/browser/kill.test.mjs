// The browser process killed (SIGKILL) while a page writes, compacts and syncs nothing: after a
// restart on the same profile, every write the page saw acknowledged is there, the ledger opens
// without error, and it keeps writing and compacting. A real Chromium with a real profile folder,
// killed at a random moment, several times over one ledger.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "./chromium.mjs";

/** Starts Chromium on profile `dir` with a DevTools port; resolves to { browser, child }. */
async function start(dir) {
  const bin = process.env.CHROMIUM ?? "/usr/bin/chromium";
  const child = spawn(bin, [...CHROMIUM_ARGS, `--user-data-dir=${dir}`, "--remote-debugging-port=0", "about:blank"], {
    stdio: ["ignore", "ignore", "pipe"],
    detached: true, // its own process group: the kill takes every Chromium process at once
  });
  const ws = await new Promise((ok, err) => {
    let out = "";
    const timer = setTimeout(() => err(new Error(`Chromium did not start: ${out}`)), 30_000);
    child.on("exit", (c) => err(new Error(`Chromium exited with ${c}: ${out}`)));
    child.stderr.on("data", (d) => {
      out += d;
      const m = out.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
  });
  child.removeAllListeners("exit");
  const browser = await chromium.connectOverCDP(ws);
  return { browser, child };
}

function kill(child) {
  return new Promise((ok) => {
    if (child.exitCode !== null || child.signalCode !== null) return ok();
    child.once("exit", () => ok());
    process.kill(-child.pid, "SIGKILL");
  });
}

async function harnessPage(browser, harness) {
  const ctx = browser.contexts()[0];
  const page = await ctx.newPage();
  await page.goto(harness);
  await page.waitForFunction(() => window.harnessReady === true);
  return page;
}

/**
 * In the page: writes forever to ledger "killed" — awaited puts, unawaited puts and bulks over
 * 300 ids (each write raises the id's version), a delete now and then, and compact() calls — and
 * prints "ack <id> <version>" (version -1: a delete) for each acknowledged write.
 */
function writeForever(round) {
  const db = window.fp.fireproof("killed");
  const pad = "p".repeat(300);
  let v = round * 1_000_000;
  const ack = (id, ver) => console.log(`ack ${id} ${ver}`);
  const one = async () => {
    const id = `d${Math.floor(Math.random() * 300)}`;
    const ver = ++v;
    if (ver % 29 === 0) {
      await db.del(id);
      ack(id, -ver);
    } else {
      await db.put({ _id: id, v: ver, pad });
      ack(id, ver);
    }
  };
  (async () => {
    for (let i = 0; ; i++) {
      if (i % 7 === 0) {
        const docs = Array.from({ length: 100 }, () => ({ _id: `d${Math.floor(Math.random() * 300)}`, v: ++v, pad }));
        const last = new Map(docs.map((d) => [d._id, d.v]));
        await db.bulk(docs);
        for (const [id, ver] of last) ack(id, ver);
      } else if (i % 5 === 0) {
        await Promise.all([one(), one(), one(), one()]);
      } else {
        await one();
      }
      if (i % 40 === 0) db.compact().catch((e) => console.log(`compact failed ${e.code} ${e.message}`));
    }
  })().catch((e) => console.log(`write failed ${e.code} ${e.message}`));
}

export const tests = {
  async "the browser killed mid-write and mid-compaction, four times: every acknowledged write survives"({ harness }) {
    const dir = mkdtempSync(join(tmpdir(), "fp-kill-"));
    const acked = new Map(); // id → highest acknowledged version (negative: deleted)
    const failures = [];
    const perRound = [];
    try {
      for (let round = 1; round <= 4; round++) {
        const { browser, child } = await start(dir);
        const page = await harnessPage(browser, harness);
        let acks = 0;
        page.on("console", (m) => {
          const [what, id, ver] = m.text().split(" ");
          if (what === "ack") {
            acks++;
            const v = Number(ver);
            if (Math.abs(v) > Math.abs(acked.get(id) ?? 0)) acked.set(id, v);
          } else if (what === "write" || what === "compact") failures.push(m.text());
        });
        await page.evaluate(writeForever, round);
        const until = Date.now() + 600 + Math.floor(Math.random() * 1600);
        while (Date.now() < until || acks < 50) await new Promise((r) => setTimeout(r, 20));
        await kill(child);
        await browser.close().catch(() => {});
        perRound.push(acks);
      }
      assert.deepEqual(failures, [], "no write or compaction failed before the kills");
      assert.ok(acked.size > 50, `only ${acked.size} ids acknowledged`);
      // A last start: everything acknowledged is there, and the ledger works on.
      const { browser, child } = await start(dir);
      try {
        const page = await harnessPage(browser, harness);
        const r = await page.evaluate(async () => {
          const db = window.fp.fireproof("killed");
          const all = await db.allDocs();
          const docs = Object.fromEntries(all.rows.map((row) => [row.key, row.value.v]));
          await db.put({ _id: "after", v: 1 });
          await db.compact();
          const after = await db.get("after");
          const again = await db.allDocs();
          return { docs, after: after.v, count: again.rows.length, before: all.rows.length };
        });
        const lost = [];
        for (const [id, v] of acked) {
          const have = r.docs[id];
          if (v > 0 && !(have >= v)) lost.push(`${id}: acknowledged v${v}, found ${have}`);
          if (v < 0 && have !== undefined && !(have > -v)) lost.push(`${id}: acknowledged delete at ${-v}, found v${have}`);
        }
        assert.deepEqual(lost, [], "acknowledged writes lost");
        assert.equal(r.after, 1);
        assert.equal(r.count, r.before + (r.docs.after === undefined ? 1 : 0));
        console.log(`    ${perRound.join(" + ")} writes acknowledged before the 4 kills; all there after the restart`);
      } finally {
        await kill(child);
        await browser.close().catch(() => {});
      }
    } finally {
      rmSync(dir, { recursive: true, force: true, maxRetries: 10 });
    }
  },
};
