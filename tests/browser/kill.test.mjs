// The browser process killed (SIGKILL) while a page writes and compacts (and, in the second test,
// pushes to a server): after a restart on the same profile, every write the page saw acknowledged
// is there (and, attached, reaches another profile), the ledger opens without error, and it keeps
// writing and compacting. A real Chromium with a real profile folder, killed at a random moment,
// several times over one ledger.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "./chromium.mjs";
import { startServer } from "./util.mjs";

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
 * In the page: writes forever to ledger `name` (attached to `url` when given) — puts one at a
 * time and four at once, and bulks of 100, over 300 ids (each write raises the id's version), a
 * delete now and then (announced to Node first through `window.deleting`), and compact() calls
 * not awaited — and prints "ack <id> <version>" (a negative version: a delete) once each write
 * resolves.
 */
async function writeForever([round, name, url]) {
  const db = window.fp.fireproof(name);
  if (url) window.attached = await db.attach(window.fp.toServer(url));
  const pad = "p".repeat(300);
  let v = round * 1_000_000;
  const ack = (id, ver) => console.log(`ack ${id} ${ver}`);
  const one = async () => {
    const id = `d${Math.floor(Math.random() * 300)}`;
    const ver = ++v;
    if (ver % 29 === 0) {
      // Node records the delete before it is issued: it can commit with its acknowledgement cut
      // off, and a console message can still be on its way when the browser is killed
      await window.deleting(id, ver);
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

/**
 * Four rounds of: start Chromium on one profile, write (attached to `url` when given), kill it at
 * a random moment. Then starts it once more and calls `check(page, acked, perRound, deletes)` — a
 * page on that profile, the highest acknowledged version of each id, the acks of each round, the
 * highest version of a delete issued for each id — before the last kill.
 */
async function killRounds({ harness, name, url }, check) {
  const dir = mkdtempSync(join(tmpdir(), "fp-kill-"));
  const acked = new Map(); // id → highest acknowledged version (negative: deleted)
  const deletes = new Map(); // id → highest version of a delete issued (acknowledged or not)
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
      await page.exposeFunction("deleting", (id, ver) => void deletes.set(id, Math.max(deletes.get(id) ?? 0, ver)));
      await page.evaluate(writeForever, [round, name, url]);
      const until = Date.now() + 600 + Math.floor(Math.random() * 1600);
      while (Date.now() < until || acks < 50) await new Promise((r) => setTimeout(r, 20));
      await kill(child);
      await browser.close().catch(() => {});
      perRound.push(acks);
    }
    assert.deepEqual(failures, [], "no write or compaction failed before the kills");
    assert.ok(acked.size > 50, `only ${acked.size} ids acknowledged`);
    const { browser, child } = await start(dir);
    try {
      await check(await harnessPage(browser, harness), acked, perRound, deletes);
    } finally {
      await kill(child);
      await browser.close().catch(() => {});
    }
  } finally {
    rmSync(dir, { recursive: true, force: true, maxRetries: 10 });
  }
}

/**
 * The acknowledged writes missing from `docs` (id → version). A document missing after an
 * acknowledged put is lost unless a later delete of it was issued (`deletes`: it may have
 * committed with its acknowledgement cut off by the kill).
 */
function lostWrites(acked, docs, deletes) {
  const lost = [];
  for (const [id, v] of acked) {
    const have = docs[id];
    if (v > 0 && have === undefined && (deletes.get(id) ?? 0) > v) continue;
    if (v > 0 && !(have >= v)) lost.push(`${id}: acknowledged v${v}, found ${have}`);
    if (v < 0 && have !== undefined && !(have > -v)) lost.push(`${id}: acknowledged delete at ${-v}, found v${have}`);
  }
  return lost;
}

const versions = (page, name) =>
  page.evaluate(async (name) => Object.fromEntries((await window.fp.fireproof(name).allDocs()).rows.map((r) => [r.key, r.value.v])), name);

export const tests = {
  async "the browser killed mid-write and mid-compaction, four times: every acknowledged write survives"({ harness }) {
    await killRounds({ harness, name: "killed" }, async (page, acked, perRound, deletes) => {
      const docs = await versions(page, "killed");
      const lost = lostWrites(acked, docs, deletes);
      assert.deepEqual(lost, [], `acknowledged writes lost: ${lost.slice(0, 20).join(", ")}`);
      const r = await page.evaluate(async () => {
        const db = window.fp.fireproof("killed");
        const before = (await db.allDocs()).rows.length;
        await db.put({ _id: "after", v: 1 });
        await db.compact();
        return { after: (await db.get("after")).v, before, count: (await db.allDocs()).rows.length };
      });
      assert.equal(r.after, 1);
      assert.equal(r.count, r.before + (docs.after === undefined ? 1 : 0));
      console.log(`    ${perRound.join(" + ")} writes acknowledged before the 4 kills; all there after the restart`);
    });
  },

  async "the browser killed while attached and pushing, four times: after a restart every acknowledged write reaches another profile"({ context, harness }) {
    const server = await startServer();
    try {
      await killRounds({ harness, name: "killsync", url: server.url }, async (page, acked, perRound, deletes) => {
        // the restarted profile re-attaches to the remote it remembers and finishes pushing
        const mine = await page.evaluate(async (url) => {
          const db = window.fp.fireproof("killsync");
          const a = await db.attach(window.fp.toServer(url));
          await a.sync();
          const state = a.state();
          return { invite: await a.invite(), pendingUp: state.pendingUp, lastError: state.lastError, head: (await db.info()).clock.map(String) };
        }, server.url);
        assert.equal(mine.lastError, null);
        assert.equal(mine.pendingUp, 0);
        const lostHere = lostWrites(acked, await versions(page, "killsync"), deletes);
        assert.deepEqual(lostHere, [], `acknowledged writes lost locally: ${lostHere.slice(0, 20).join(", ")}`);
        // another profile joins through the invite: it gets every acknowledged write
        const other = await context.newPage();
        await other.goto(harness);
        await other.waitForFunction(() => window.harnessReady === true);
        const theirs = await other.evaluate(
          async ([url, invite]) => {
            const db = window.fp.fireproof("joined");
            const a = await db.attach(window.fp.toServer(url, { invite }));
            await a.sync();
            return { lastError: a.state().lastError, head: (await db.info()).clock.map(String) };
          },
          [server.url, mine.invite],
        );
        assert.equal(theirs.lastError, null);
        assert.deepEqual(theirs.head, mine.head);
        const lostThere = lostWrites(acked, await versions(other, "joined"), deletes);
        assert.deepEqual(lostThere, [], `acknowledged writes missing on the other profile: ${lostThere.slice(0, 20).join(", ")}`);
        console.log(`    ${perRound.join(" + ")} writes acknowledged while attached before the 4 kills; all reach another profile`);
      });
    } finally {
      await server.stop();
    }
  },
};
