// Sync through the real ferroproof-server (a child process with a folder store) and through an
// app's own connector: invites, live updates both ways, the durable outbox across reloads, the
// server going away, tampered objects on the server.
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openPage, startServer } from "./util.mjs";

async function attach(page, name, url, invite) {
  return page.evaluate(
    async ([name, url, invite]) => {
      const db = window.fp.fireproof(name);
      const a = await db.attach(window.fp.toServer(url, invite ? { invite } : {}));
      await a.sync();
      window.attached = a;
      return { invite: await a.invite(), status: a.status(), state: a.state() };
    },
    [name, url, invite],
  );
}

const ids = (page, name) => page.evaluate(async (name) => (await window.fp.fireproof(name).allDocs()).rows.map((r) => r.key).sort(), name);

export const tests = {
  async "an invite joins another profile; edits flow live both ways"({ context, harness }) {
    const server = await startServer();
    const other = await context.browser().newContext(); // another browser profile: its own storage
    try {
      const a = await openPage(context, harness);
      await a.evaluate(async () => {
        const db = window.fp.fireproof("shared");
        await db.bulk([{ _id: "a1", n: 1 }, { _id: "a2", n: 2 }]);
      });
      const ra = await attach(a, "shared", server.url);
      assert.match(ra.invite, /^fp1\./);
      assert.equal(ra.state.pendingUp, 0);
      assert.equal(ra.state.lastError, null);
      assert.ok(["idle", "loaded", "syncing"].includes(ra.status), ra.status); // the background loop may be running
      await a.waitForFunction(() => ["idle", "loaded"].includes(window.attached.status()));
      const b = await openPage(other, harness);
      await attach(b, "shared", server.url, ra.invite);
      assert.deepEqual(await ids(b, "shared"), ["a1", "a2"]);
      // live: a put on one side reaches the other's subscribers without any call
      const waitFor = (page, id) =>
        page.evaluate(
          (id) =>
            new Promise((resolve) => {
              const db = window.fp.fireproof("shared");
              const t0 = performance.now();
              const stop = db.subscribe(async () => {
                if ((await db.allDocs()).rows.some((r) => r.key === id)) {
                  stop();
                  resolve(performance.now() - t0);
                }
              });
            }),
          id,
        );
      const seenByB = waitFor(b, "from-a");
      await a.evaluate(() => window.fp.fireproof("shared").put({ _id: "from-a", v: 1 }));
      const ms = await seenByB;
      assert.ok(ms < 5000, `b saw a's put after ${ms} ms`);
      const seenByA = waitFor(a, "from-b");
      await b.evaluate(() => window.fp.fireproof("shared").put({ _id: "from-b", v: 2 }));
      await seenByA;
      // both converge on one head and the same documents
      await a.evaluate(() => window.attached.sync());
      await b.evaluate(() => window.attached.sync());
      await a.evaluate(() => window.attached.sync());
      const head = (p) => p.evaluate(async () => (await window.fp.fireproof("shared").info()).clock.map(String));
      assert.deepEqual(await head(a), await head(b));
      assert.deepEqual(await ids(a, "shared"), ["a1", "a2", "from-a", "from-b"]);
      assert.deepEqual(await ids(b, "shared"), ["a1", "a2", "from-a", "from-b"]);
      // what the server stores: no document text, id or field name, and not the key
      const key = await a.evaluate(async () => {
        await window.fp.fireproof("shared").put({ _id: "zebra-secret-id", secretFieldName: "plaintext-value-xyzzy" });
        await window.attached.sync();
        return Array.from(await (await window.fp.fireproof("shared").shared.core).exportKey());
      });
      const files = [];
      const walk = async (dir) => {
        for (const e of await readdir(dir, { withFileTypes: true })) {
          if (e.isDirectory()) await walk(join(dir, e.name));
          else files.push(await readFile(join(dir, e.name)));
        }
      };
      await walk(server.store);
      const all = Buffer.concat(files);
      assert.ok(files.length >= 4 && all.length > 1000, "the server holds the ledger's objects");
      for (const needle of ["zebra-secret-id", "secretFieldName", "plaintext-value-xyzzy", "from-a", '"n":']) {
        assert.equal(all.includes(Buffer.from(needle)), false, `the server's store contains ${needle}`);
      }
      const keyBytes = Buffer.from(key);
      for (const form of [keyBytes, Buffer.from(keyBytes.toString("base64")), Buffer.from(keyBytes.toString("base64url")), Buffer.from(keyBytes.toString("hex"))]) {
        assert.equal(all.includes(form), false, "the key is not on the server");
      }
    } finally {
      await other.close();
      await server.stop();
    }
  },

  async "a later write survives its old value merged into a busier profile (merges compare write seqs)"({ context, harness }) {
    const server = await startServer();
    const other = await context.browser().newContext();
    try {
      const a = await openPage(context, harness);
      const { invite } = await attach(a, "later", server.url);
      const b = await openPage(other, harness);
      await attach(b, "later", server.url, invite);
      const run = (page, fn, arg) => page.evaluate(fn, arg);
      await run(a, async () => {
        await window.fp.fireproof("later").put({ _id: "x", v: 1 });
        await window.attached.sync();
        await window.attached.detach(); // so that a does not fast-forward to b's merge below
      });
      // b's seq runs ahead while detached; then it merges x = 1 in (at a seq above a's next
      // write), and that merge is pushed with the write that builds on it
      await run(b, async () => {
        await window.attached.detach();
        const db = window.fp.fireproof("later");
        for (let i = 0; i < 10; i++) await db.put({ _id: `b${i}` });
      });
      await attach(b, "later", server.url);
      await run(b, async () => {
        await window.fp.fireproof("later").put({ _id: "b-after-merge" });
        await window.attached.sync();
      });
      await run(a, async () => {
        await window.fp.fireproof("later").put({ _id: "x", v: 2 }); // a's later write of x
      });
      await attach(a, "later", server.url); // a's head and b's merge now merge
      const x = (page) => run(page, async () => {
        await window.attached.sync();
        return (await window.fp.fireproof("later").get("x")).v;
      });
      assert.equal(await x(b), 2);
      assert.equal(await x(a), 2, "the later write was not undone on its own profile");
    } finally {
      await other.close();
      await server.stop();
    }
  },

  async "commits made while detached are pushed after a reload re-attaches to the same remote"({ context, harness }) {
    const server = await startServer();
    const other = await context.browser().newContext();
    try {
      const a = await openPage(context, harness);
      const { invite } = await attach(a, "outbox", server.url);
      await a.evaluate(async () => {
        await window.attached.detach();
        const db = window.fp.fireproof("outbox");
        await db.put({ _id: "offline-1" });
        await db.put({ _id: "offline-2" });
        await db.close();
      });
      await a.reload();
      await a.waitForFunction(() => window.harnessReady === true);
      const again = await attach(a, "outbox", server.url); // no invite: the remembered remote
      assert.equal(again.invite.split(".")[1].length > 0, true);
      assert.equal(again.state.pendingUp, 0, "the outbox was pushed");
      const b = await openPage(other, harness);
      await attach(b, "outbox", server.url, invite);
      assert.deepEqual(await ids(b, "outbox"), ["offline-1", "offline-2"]);
    } finally {
      await other.close();
      await server.stop();
    }
  },

  async "the real-time notice of a head record this tab pushed starts no pull; another profile's still does"({ context, harness }) {
    const server = await startServer();
    const other = await context.browser().newContext();
    try {
      const a = await openPage(context, harness);
      const { invite } = await attach(a, "own-notice", server.url);
      // the background loop's first pull and the socket's catch-up pull happen first
      await a.evaluate(async () => {
        await new Promise((r) => setTimeout(r, 1500));
        while (window.attached.state().phase !== "idle") await new Promise((r) => setTimeout(r, 20));
      });
      const lists = [];
      a.on("request", (r) => {
        if (new URL(r.url()).pathname.endsWith("/heads/")) lists.push(r.url());
      });
      // five writes, each pushed by the background loop (its record announced on the socket)
      const pushes = await a.evaluate(async () => {
        const db = window.fp.fireproof("own-notice");
        let pushes = 0;
        window.attached.onState((s) => s.phase === "pushing" && pushes++);
        for (let i = 0; i < 5; i++) {
          const before = pushes;
          await db.put({ _id: `own-${i}` });
          const t0 = performance.now();
          const busy = () => pushes === before || window.attached.state().pendingUp > 0 || window.attached.state().phase !== "idle";
          while (performance.now() - t0 < 5000 && busy()) await new Promise((r) => setTimeout(r, 20));
        }
        await new Promise((r) => setTimeout(r, 1000)); // the notices of the last pushes arrive
        return pushes;
      });
      assert.ok(pushes >= 5, `${pushes} pushes`);
      assert.deepEqual(lists, [], "no pull (list of heads) after this tab's own pushes");
      // a write of another profile is still pulled in real time
      const b = await openPage(other, harness);
      await attach(b, "own-notice", server.url, invite);
      await b.evaluate(() => window.fp.fireproof("own-notice").put({ _id: "theirs" }));
      await b.evaluate(() => window.attached.sync());
      await a.waitForFunction(async () => (await window.fp.fireproof("own-notice").get("theirs").catch(() => null)) !== null, null, { timeout: 10_000 });
      assert.ok(lists.length >= 1, "another profile's record was pulled");
    } finally {
      await other.close();
      await server.stop();
    }
  },

  async "a replica catching up fetches many CARs per request; a server without that route gets one per CAR"({ context, harness }) {
    const server = await startServer();
    const contexts = [];
    try {
      const a = await openPage(context, harness);
      const { invite } = await attach(a, "catchup", server.url);
      await a.evaluate(async () => {
        const db = window.fp.fireproof("catchup");
        for (let i = 0; i < 120; i++) await db.put({ _id: `d${String(i).padStart(3, "0")}`, i });
        await window.attached.sync();
      });
      const want = Array.from({ length: 120 }, (_, i) => `d${String(i).padStart(3, "0")}`);
      let cars = 0; // CARs the replica fetches (counted with the older server, one GET each)
      for (const older of [true, false]) {
        const ctx = await context.browser().newContext();
        contexts.push(ctx);
        const seen = { batched: 0, single: 0 };
        // an older server: `POST …/get` is not routed (405), as axum answers a known path's other method
        if (older) await ctx.route(/\/get$/, (route) => route.fulfill({ status: 405, body: "method not allowed" }));
        ctx.on("request", (r) => {
          if (r.method() === "POST" && r.url().endsWith("/get")) seen.batched++;
          if (r.method() === "GET" && /\/cars\/b[a-z2-7]{58}(\?|$)/.test(r.url())) seen.single++;
        });
        const b = await openPage(ctx, harness);
        await attach(b, "catchup", server.url, invite);
        assert.deepEqual(await ids(b, "catchup"), want);
        if (older) {
          assert.equal(seen.batched, 1, "asked once, then not again");
          assert.ok(seen.single >= 20, `${seen.single} single GETs`);
          cars = seen.single;
        } else {
          assert.equal(seen.single, 0);
          assert.ok(seen.batched >= 1 && seen.batched <= cars / 4, `${seen.batched} batched requests for ${cars} CARs`);
        }
      }
    } finally {
      for (const c of contexts) await c.close();
      await server.stop();
    }
  },

  async "server down: NETWORK in the state, local writes go on, pushed once it is back"({ context, harness }) {
    let server = await startServer();
    const other = await context.browser().newContext();
    try {
      const a = await openPage(context, harness);
      const { invite } = await attach(a, "down", server.url);
      await server.stop();
      const down = await a.evaluate(async () => {
        const db = window.fp.fireproof("down");
        await db.put({ _id: "while-down" });
        const err = await window.attached.sync().then(() => null, (e) => e.code);
        return { err, status: window.attached.status(), code: window.attached.state().lastError?.code, doc: (await db.get("while-down"))._id };
      });
      assert.deepEqual(down, { err: "NETWORK", status: "error", code: "NETWORK", doc: "while-down" });
      // the outbox is counted as writes land, not only when the loop (backing off) tries again
      const counted = await a.evaluate(async () => {
        const db = window.fp.fireproof("down");
        const seen = [];
        const told = [];
        window.attached.onState((s) => told.push(s.pendingUp));
        for (const id of ["down-2", "down-3"]) {
          await db.put({ _id: id });
          await new Promise((r) => setTimeout(r, 150));
          seen.push(window.attached.state().pendingUp);
        }
        return { seen, told: told.includes(3) };
      });
      assert.deepEqual(counted, { seen: [2, 3], told: true });
      server = await startServer({ store: server.store, port: server.port }); // same store, same address
      await a.evaluate(() => window.attached.sync());
      assert.deepEqual(await a.evaluate(() => [window.attached.status() !== "error", window.attached.state().pendingUp]), [true, 0]);
      const b = await openPage(other, harness);
      await attach(b, "down", server.url, invite);
      assert.deepEqual(await ids(b, "down"), ["down-2", "down-3", "while-down"]);
    } finally {
      await other.close();
      await server.stop();
    }
  },

  async "a short outage during a stream of writes backs the loop off once per failed cycle, not once per write"({ context, harness }) {
    let server = await startServer();
    try {
      const a = await openPage(context, harness);
      await attach(a, "outage", server.url);
      // writes every 15 ms while the server is down for about a second
      const writing = a.evaluate(async () => {
        const db = window.fp.fireproof("outage");
        for (let i = 0; i < 80; i++) {
          await db.put({ _id: `w${i}` });
          await new Promise((r) => setTimeout(r, 15));
        }
      });
      await new Promise((r) => setTimeout(r, 200));
      await server.stop();
      await new Promise((r) => setTimeout(r, 1000));
      server = await startServer({ store: server.store, port: server.port });
      await writing;
      // no sync() call: the background loop alone gets the outbox out
      const ms = await a.evaluate(async () => {
        const t0 = performance.now();
        while (window.attached.state().pendingUp > 0 || window.attached.state().phase !== "idle") {
          if (performance.now() - t0 > 20_000) return Infinity;
          await new Promise((r) => setTimeout(r, 50));
        }
        return performance.now() - t0;
      });
      assert.ok(ms < 8000, `the outbox took ${ms} ms to go out after the server came back`);
    } finally {
      await server.stop();
    }
  },

  async "detach() while a push runs ends in \"detached\" without a failure in the state"({ context, harness }) {
    const server = await startServer();
    try {
      const a = await openPage(context, harness);
      await attach(a, "detach-mid", server.url);
      const r = await a.evaluate(async () => {
        const db = window.fp.fireproof("detach-mid");
        const seen = [];
        window.attached.onState((s) => seen.push(s.lastError?.code ?? null));
        await db.bulk(Array.from({ length: 200 }, (_, i) => ({ _id: `b${i}`, pad: "y".repeat(300) })));
        await new Promise((r) => setTimeout(r, 5));
        await window.attached.detach();
        const s = window.attached.state();
        return { status: window.attached.status(), phase: s.phase, lastError: s.lastError?.code ?? null, told: seen.filter((c) => c !== null) };
      });
      assert.deepEqual(r, { status: "detached", phase: "detached", lastError: null, told: [] });
    } finally {
      await server.stop();
    }
  },

  async "first attach with the server down: attach resolves, reports NETWORK, and reaches the server by itself once it is up (two tabs, one remote ledger)"({ context, harness }) {
    const probe = await startServer();
    const port = probe.port;
    await probe.stop(); // nothing listens on this port now
    const url = `http://127.0.0.1:${port}`;
    const other = await context.browser().newContext();
    let server;
    try {
      const tabs = [await openPage(context, harness), await openPage(context, harness)];
      const down = await Promise.all(
        tabs.map((t, i) =>
          t.evaluate(
            async ([url, i]) => {
              const db = window.fp.fireproof("first-down");
              const a = await db.attach(window.fp.toServer(url));
              window.attached = a;
              await db.put({ _id: `offline-${i}` });
              const sync = await a.sync().then(() => null, (e) => e.code);
              const invite = await a.invite().then(() => null, (e) => e.code);
              return { status: a.status(), phase: a.state().phase, code: a.state().lastError?.code, sync, invite };
            },
            [url, i],
          ),
        ),
      );
      for (const d of down) assert.deepEqual(d, { status: "error", phase: "offline", code: "NETWORK", sync: "NETWORK", invite: "NETWORK" });
      server = await startServer({ port });
      // no call from the app: the attachments retry with backoff
      for (const t of tabs) await t.waitForFunction(() => window.attached.status() !== "error", null, { timeout: 20_000 });
      for (const t of tabs) await t.evaluate(() => window.attached.sync());
      const names = await Promise.all(tabs.map((t) => t.evaluate(() => window.attached.name)));
      assert.equal(names[0], names[1], "both tabs attached the same remote ledger");
      const invite = await tabs[0].evaluate(() => window.attached.invite());
      const b = await openPage(other, harness);
      await attach(b, "first-down", server.url, invite);
      assert.deepEqual(await ids(b, "first-down"), ["offline-0", "offline-1"]);
    } finally {
      await other.close();
      await server?.stop();
    }
  },

  async "a server that stops answering: requests time out with NETWORK, detach does not wait for them, sync goes on once it answers"({ context, harness }) {
    const server = await startServer();
    try {
      const a = await openPage(context, harness);
      await a.evaluate(async (url) => {
        const db = window.fp.fireproof("frozen");
        window.attached = await db.attach(window.fp.toServer(url, { timeoutMs: 1000 }));
        await window.attached.sync();
      }, server.url);
      server.pause(); // the socket stays open and nothing answers
      try {
        const frozen = await a.evaluate(async () => {
          const db = window.fp.fireproof("frozen");
          await db.put({ _id: "while-frozen" });
          const t0 = performance.now();
          const err = await window.attached.sync().then(() => null, (e) => e.code);
          const syncMs = performance.now() - t0;
          const state = { err, syncMs, status: window.attached.status(), code: window.attached.state().lastError?.code };
          // a pull or push in flight does not hold the detach
          void window.attached.sync().catch(() => undefined);
          const t1 = performance.now();
          await window.attached.detach();
          return { ...state, detachMs: performance.now() - t1, doc: (await db.get("while-frozen"))._id };
        });
        assert.equal(frozen.err, "NETWORK");
        assert.equal(frozen.status, "error");
        assert.equal(frozen.code, "NETWORK");
        assert.equal(frozen.doc, "while-frozen");
        assert.ok(frozen.syncMs < 10_000, `sync() failed after ${frozen.syncMs} ms`);
        assert.ok(frozen.detachMs < 5_000, `detach() took ${frozen.detachMs} ms`);
        // creating a remote ledger on the frozen server is bounded by timeoutMs too (was 30 s)
        const created = await a.evaluate(async (url) => {
          const t0 = performance.now();
          const att = await window.fp.fireproof("frozen-new").attach(window.fp.toServer(url, { timeoutMs: 1000 }));
          const err = await att.sync().then(() => null, (e) => e.code);
          const ms = performance.now() - t0;
          await att.detach();
          return { err, ms };
        }, server.url);
        assert.equal(created.err, "NETWORK");
        assert.ok(created.ms < 10_000, `attach + sync() failed after ${created.ms} ms`);
      } finally {
        server.resume();
      }
      const after = await a.evaluate(async (url) => {
        const db = window.fp.fireproof("frozen");
        const att = await db.attach(window.fp.toServer(url, { timeoutMs: 1000 }));
        await att.sync();
        return att.state().pendingUp;
      }, server.url);
      assert.equal(after, 0);
    } finally {
      await server.stop();
    }
  },

  async "a server whose store was reset: ENOENT in the state (not offline), local data kept"({ context, harness }) {
    let server = await startServer();
    try {
      const a = await openPage(context, harness);
      await a.evaluate(async () => window.fp.fireproof("reset").put({ _id: "kept", n: 1 }));
      await attach(a, "reset", server.url);
      await server.stop();
      server = await startServer({ port: server.port }); // same address, an empty store
      const r = await a.evaluate(async () => {
        const db = window.fp.fireproof("reset");
        await db.put({ _id: "after", n: 2 });
        const err = await window.attached.sync().then(() => null, (e) => ({ code: e.code, isError: e instanceof Error }));
        return { err, status: window.attached.status(), code: window.attached.state().lastError?.code, docs: (await db.allDocs()).rows.map((x) => x.key) };
      });
      assert.deepEqual(r, { err: { code: "ENOENT", isError: true }, status: "error", code: "ENOENT", docs: ["after", "kept"] });
    } finally {
      await server.stop();
    }
  },

  async "a tampered head record on the server is reported and skipped; local data untouched"({ context, harness }) {
    const server = await startServer();
    const other = await context.browser().newContext();
    try {
      const a = await openPage(context, harness);
      const { invite } = await attach(a, "tamper", server.url);
      const b = await openPage(other, harness);
      await attach(b, "tamper", server.url, invite);
      await b.evaluate(async () => {
        await window.attached.detach(); // b is away while a pushes and the store is tampered with
        await window.fp.fireproof("tamper").put({ _id: "b-local" });
      });
      await a.evaluate(async () => {
        await window.fp.fireproof("tamper").put({ _id: "a-new" });
        await window.attached.sync();
      });
      const [ledger] = await readdir(join(server.store, "ledgers"));
      const dir = join(server.store, "ledgers", ledger, "heads");
      for (const f of await readdir(dir)) {
        const bytes = await readFile(join(dir, f));
        bytes[bytes.length - 3] ^= 1;
        await writeFile(join(dir, f), bytes);
      }
      const res = await b.evaluate(async (url) => {
        window.attached = await window.fp.fireproof("tamper").attach(window.fp.toServer(url));
        const err = await window.attached.sync().then(() => null, (e) => e.code);
        const db = window.fp.fireproof("tamper");
        await db.put({ _id: "b-after" });
        return { err, code: window.attached.state().lastError?.code, ids: (await db.allDocs()).rows.map((r) => r.key).sort() };
      }, server.url);
      assert.equal(res.err, "CORRUPT");
      assert.equal(res.code, "CORRUPT");
      assert.deepEqual(res.ids, ["b-after", "b-local"], "nothing lost, nothing half-merged, still writable");
    } finally {
      await other.close();
      await server.stop();
    }
  },

  async "four profiles write at once while attached: two rounds of sync() on all converge, and no merge is pushed"({ context, harness }) {
    const server = await startServer();
    const profiles = [context];
    for (let i = 1; i < 4; i++) profiles.push(await context.browser().newContext());
    try {
      const pages = [];
      for (const p of profiles) pages.push(await openPage(p, harness));
      const { invite } = await attach(pages[0], "crowd", server.url);
      for (const p of pages.slice(1)) await attach(p, "crowd", server.url, invite);
      // every profile writes 20 documents (and the same one) while the background loops push and pull
      await Promise.all(
        pages.map((p, k) =>
          p.evaluate(async (k) => {
            const db = window.fp.fireproof("crowd");
            for (let i = 0; i < 20; i++) {
              await db.put({ _id: `p${k}-${i}`, k, i });
              if (i % 5 === 0) await db.put({ _id: "shared", by: k, i });
            }
          }, k),
        ),
      );
      const round = () => Promise.all(pages.map((p) => p.evaluate(() => window.attached.sync())));
      const [ledger] = await readdir(join(server.store, "ledgers"));
      const count = async () => (await readdir(join(server.store, "ledgers", ledger, "cars"))).length;
      // each sync() pushes every local write; the next round's pulls then see them all, and every
      // replica computes the same merge from the same heads (docs/sync.md §4), uploading nothing
      await round();
      const pushed = await count();
      await round();
      assert.equal(await count(), pushed, "merges are held back: the second round uploads no CAR");
      const look = (p) =>
        p.evaluate(async () => {
          const db = window.fp.fireproof("crowd");
          const info = await db.info();
          const rows = (await db.allDocs()).rows;
          return { head: info.clock.map(String), n: rows.length, pending: window.attached.state().pendingUp };
        });
      const seen = await Promise.all(pages.map(look));
      for (const s of seen) {
        assert.deepEqual(s.head, seen[0].head, "one head on every replica");
        assert.equal(s.n, 81, "every write on every replica");
        assert.equal(s.pending, 0, "nothing left to push (a held merge is not pending)");
      }
      await round();
      assert.equal(await count(), pushed, "nor does a third");
      assert.deepEqual((await Promise.all(pages.map(look))).map((s) => s.head), seen.map((s) => s.head));
      // a write on top of the held merge pushes it: a new profile loads everything
      await pages[2].evaluate(async () => {
        await window.fp.fireproof("crowd").put({ _id: "after" });
        await window.attached.sync();
      });
      const late = await openPage(await context.browser().newContext().then((c) => (profiles.push(c), c)), harness);
      await attach(late, "crowd", server.url, invite);
      assert.equal((await ids(late, "crowd")).length, 82);
    } finally {
      for (const p of profiles.slice(1)) await p.close();
      await server.stop();
    }
  },

  async "two tabs of a profile: a merge the syncing tab made is pushed when the other tab writes on it"({ context, harness }) {
    const server = await startServer();
    const other = await context.browser().newContext();
    const third = await context.browser().newContext();
    try {
      const a1 = await openPage(context, harness); // the profile's first tab: attaches and leads the sync
      const a2 = await openPage(context, harness); // its second tab, same IndexedDB
      const b = await openPage(other, harness);
      const { invite } = await attach(a1, "tabs-sync", server.url);
      await attach(b, "tabs-sync", server.url, invite);
      await a2.evaluate(async () => {
        window.db = window.fp.fireproof("tabs-sync");
        await window.db.put({ _id: "a2-first" });
      });
      await b.evaluate(async () => {
        await window.fp.fireproof("tabs-sync").put({ _id: "b-first" });
        await window.attached.sync();
      });
      // the first tab merges b's write with the profile's own: the merge is held back, not pushed
      await a1.evaluate(() => window.attached.sync());
      await b.evaluate(() => window.attached.sync());
      const head = (p) => p.evaluate(async () => (await window.fp.fireproof("tabs-sync").info()).clock.map(String));
      assert.deepEqual(await head(b), await head(a1), "b computed the same merge from the records");
      // the second tab writes on top of that merge (seen through IndexedDB); the next push carries both
      await a2.waitForFunction(async () => (await window.db.allDocs()).rows.some((r) => r.key === "b-first"), null, { timeout: 15_000 });
      await a2.evaluate(() => window.db.put({ _id: "a2-after-merge" }));
      await a1.evaluate(() => window.attached.sync());
      const c = await openPage(third, harness);
      await attach(c, "tabs-sync", server.url, invite);
      await b.evaluate(() => window.attached.sync());
      const want = ["a2-after-merge", "a2-first", "b-first"];
      assert.deepEqual(await ids(c, "tabs-sync"), want, "a new profile loads the write and the merge under it");
      assert.deepEqual(await ids(b, "tabs-sync"), want);
      assert.deepEqual(await head(c), await head(b));
      assert.deepEqual(await head(a2), await head(b));
    } finally {
      await other.close();
      await third.close();
      await server.stop();
    }
  },

  async "an attachment detached while it waits for the sync lead does not hold the lead from a later one"({ context, harness }) {
    const server = await startServer();
    try {
      const a = await openPage(context, harness);
      const b = await openPage(context, harness);
      // a leads the ledger's sync with this remote
      await a.evaluate(async (url) => {
        window.db = window.fp.fireproof("lead");
        await (await window.db.attach(window.fp.toServer(url))).sync();
      }, server.url);
      // b attaches (its request for the lead waits behind a's) and detaches again
      await b.evaluate(async (url) => {
        window.db = window.fp.fireproof("lead");
        await (await window.db.attach(window.fp.toServer(url))).detach();
      }, server.url);
      await a.close(); // a's lead is released: b's dropped request must not keep it
      const invite = await b.evaluate(async (url) => {
        window.att = await window.db.attach(window.fp.toServer(url));
        return window.att.invite();
      }, server.url);
      // another profile writes: only a leading tab pulls it into b's profile in the background
      const other = await context.browser().newContext();
      try {
        const c = await openPage(other, harness);
        await c.evaluate(
          async ([url, invite]) => {
            const db = window.fp.fireproof("lead-other");
            const att = await db.attach(window.fp.toServer(url, { invite }));
            await db.put({ _id: "from-c" });
            await att.sync();
          },
          [server.url, invite],
        );
        const seen = await b.evaluate(async () => {
          const until = performance.now() + 20_000;
          while (performance.now() < until) {
            if ((await window.db.allDocs()).rows.some((r) => r.key === "from-c")) return true;
            await new Promise((r) => setTimeout(r, 100));
          }
          return false;
        });
        assert.equal(seen, true, "no tab leads: another profile's write never arrived");
      } finally {
        await other.close();
      }
    } finally {
      await server.stop();
    }
  },

  async "a ledger with data attached for the first time compacts once and compact() resolves (no idle loop on the replaced local build)"({ context, harness }) {
    const page = await openPage(context, harness);
    const res = await page.evaluate(async () => {
      let idle = 0;
      const ric = window.requestIdleCallback;
      window.requestIdleCallback = (fn, opts) => (idle++, ric(fn, opts));
      const db = window.fp.fireproof("attach-compact");
      // over the first compaction's threshold: due when the full build takes over
      await db.bulk(Array.from({ length: 500 }, (_, i) => ({ _id: `d${i}`, pad: "x".repeat(500) })));
      const a = await db.attach(window.fp.toConnector(window.memoryStore()));
      await a.sync();
      await new Promise((r) => setTimeout(r, 500));
      idle = 0;
      await new Promise((r) => setTimeout(r, 1000));
      const idleCalls = idle;
      const compacted = await Promise.race([db.compact().then(() => "resolved"), new Promise((r) => setTimeout(() => r("pending after 10 s"), 10_000))]);
      const n = (await db.allDocs()).rows.length;
      await a.detach();
      return { idleCalls, compacted, n };
    });
    assert.ok(res.idleCalls < 5, `${res.idleCalls} idle callbacks in a second with nothing to do`);
    assert.deepEqual({ compacted: res.compacted, n: res.n }, { compacted: "resolved", n: 500 });
  },

  async "toConnector: two ledgers converge through an app's own store"({ context, harness }) {
    const page = await openPage(context, harness);
    const res = await page.evaluate(async () => {
      const store = window.memoryStore();
      const objects = store.objects;
      const one = window.fp.fireproof("conn-one");
      const two = window.fp.fireproof("conn-two");
      await one.put({ _id: "x", from: "one" });
      const a1 = await one.attach(window.fp.toConnector(store));
      await a1.sync();
      const a2 = await two.attach(window.fp.toConnector(store, { invite: await a1.invite() }));
      await two.put({ _id: "y", from: "two" });
      await a2.sync();
      await a1.sync();
      const same = (await one.attach(window.fp.toConnector(store))) === a1;
      const keys = [...objects.keys()];
      return {
        one: (await one.allDocs()).rows.map((r) => r.key),
        two: (await two.allDocs()).rows.map((r) => r.key),
        same,
        kinds: [...new Set(keys.map((k) => k.split("/")[0]))].sort(),
      };
    });
    assert.deepEqual(res, { one: ["x", "y"], two: ["x", "y"], same: true, kinds: ["cars", "heads"] });
  },

  async "toConnector: plain (not async) methods work, get may answer an ArrayBuffer; methods that throw fail with a code and the engine goes on; a short getMany fails too"({ context, harness }) {
    const page = await openPage(context, harness);
    const res = await page.evaluate(async () => {
      const fp = window.fp;
      const code = (f) => {
        try {
          f();
          return "accepted";
        } catch (e) {
          return e.code;
        }
      };
      const bad = [code(() => fp.toConnector(null)), code(() => fp.toConnector({ get() {} }))];
      const objects = new Map();
      const plain = {
        put(k, b) {
          if (!objects.has(k)) objects.set(k, b.slice());
        },
        // an ArrayBuffer (as fetch's arrayBuffer() gives), not a Uint8Array
        get: (k) => objects.get(k)?.buffer.slice(0) ?? null,
        list: (p) => [...objects.keys()].filter((k) => k.startsWith(p)),
        delete(k) {
          objects.delete(k);
        },
      };
      const down = () => {
        throw new Error("down");
      };
      const throwing = { put: down, get: down, list: down, delete: down, watch: down };
      const broken = fp.fireproof("conn-throwing");
      await broken.put({ _id: "z" });
      const ab = await broken.attach(fp.toConnector(throwing));
      const syncErr = await ab.sync().then(
        () => "resolved",
        (e) => e.code,
      );
      const one = fp.fireproof("conn-plain-one");
      const two = fp.fireproof("conn-plain-two");
      await one.put({ _id: "x" });
      const a1 = await one.attach(fp.toConnector(plain));
      await a1.sync();
      const a2 = await two.attach(fp.toConnector(plain, { invite: await a1.invite() }));
      await two.put({ _id: "y" });
      await a2.sync();
      await a1.sync();
      await broken.put({ _id: "z2" });
      await ab.detach();
      // a getMany that answers fewer objects than asked: a coded failure, not a silent gap
      const short = { ...plain, getMany: async () => [] };
      const a3 = await fp.fireproof("conn-short").attach(fp.toConnector(short, { invite: await a1.invite() }));
      const shortErr = await a3.sync().then(
        () => "resolved",
        (e) => e.code,
      );
      await a3.detach();
      return {
        bad,
        syncErr,
        shortErr,
        lastError: ab.state().lastError?.code,
        one: (await one.allDocs()).rows.map((r) => r.key),
        two: (await two.allDocs()).rows.map((r) => r.key),
        broken: (await broken.allDocs()).rows.map((r) => r.key),
      };
    });
    assert.deepEqual(res, {
      bad: ["INVALID_ARG", "INVALID_ARG"],
      syncErr: "NETWORK",
      shortErr: "NETWORK",
      lastError: "NETWORK",
      one: ["x", "y"],
      two: ["x", "y"],
      broken: ["z", "z2"],
    });
  },

  async "an attachment lasts as long as its ledger: it outlives the handle that attached, ends with the last one, and an attach racing that close ends too"({ context, harness }) {
    const page = await openPage(context, harness);
    const res = await page.evaluate(async () => {
      const fp = window.fp;
      const memory = () => {
        const objects = new Map();
        const s = {
          calls: 0,
          async put(k, b) {
            s.calls++;
            if (!objects.has(k)) objects.set(k, b.slice());
          },
          async get(k) {
            s.calls++;
            return objects.get(k) ?? null;
          },
          async list(p) {
            s.calls++;
            return [...objects.keys()].filter((k) => k.startsWith(p));
          },
          async delete(k) {
            s.calls++;
            objects.delete(k);
          },
        };
        return s;
      };
      const out = (p) => p.then((v) => v, (e) => `rejected ${e.code}`);
      const store = memory();
      const first = fp.fireproof("att-life");
      const second = fp.fireproof("att-life");
      const a = await first.attach(fp.toConnector(store, { id: "life" }));
      await a.sync();
      const invite = await a.invite();
      await first.close();
      const afterFirst = a.status();
      await second.put({ _id: "p1" });
      const synced = await out(a.sync().then(() => "ok"));
      await second.close();
      const afterLast = a.status();
      const reader = fp.fireproof("att-life-reader");
      const r = await reader.attach(fp.toConnector(store, { id: "life", invite }));
      await r.sync();
      const read = (await reader.allDocs()).rows.map((row) => row.key);
      await r.detach();
      // attach() still opening when the last handle closes
      const racing = memory();
      const third = fp.fireproof("att-race");
      await third.ready();
      const attaching = third.attach(fp.toConnector(racing, { id: "race" }));
      await third.close();
      const raced = await attaching.then((x) => x.status(), (e) => `rejected ${e.code}`);
      const n = racing.calls;
      await new Promise((res) => setTimeout(res, 1500));
      return { afterFirst, synced, afterLast, read, raced, later: racing.calls - n };
    });
    assert.deepEqual(
      { afterFirst: ["idle", "syncing"].includes(res.afterFirst) ? "running" : res.afterFirst, synced: res.synced, afterLast: res.afterLast, read: res.read },
      { afterFirst: "running", synced: "ok", afterLast: "detached", read: ["p1"] },
    );
    assert.ok(["detached", "rejected CLOSED"].includes(res.raced), `an attach racing the close: ${res.raced}`);
    assert.equal(res.later, 0, "no connector calls after the ledger closed");
  },

  async "attach() right after a detach() that was not awaited gets a new, working attachment"({ context, harness }) {
    const page = await openPage(context, harness);
    const res = await page.evaluate(async () => {
      const fp = window.fp;
      const store = window.memoryStore();
      const db = fp.fireproof("re-attach");
      const a = await db.attach(fp.toConnector(store, { id: "re" }));
      await a.sync();
      void a.detach();
      const b = await db.attach(fp.toConnector(store, { id: "re" }));
      await db.put({ _id: "after" });
      const synced = await b.sync().then(() => "ok", (e) => `rejected ${e.code}`);
      return { same: a === b, a: a.status(), synced, b: ["detached", "error"].includes(b.status()) ? b.status() : "live" };
    });
    assert.deepEqual(res, { same: false, a: "detached", synced: "ok", b: "live" });
  },

  async "a damaged head record or CAR on the remote is reported on every pull but holds neither this replica's pushes nor its loop"({ context, harness }) {
    const page = await openPage(context, harness);
    for (const area of ["heads/", "cars/"]) {
      const res = await page.evaluate(async (area) => {
        const fp = window.fp;
        const store = window.memoryStore({ watch: true });
        const { objects, announce } = store;
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        const damaged = () => [...objects.keys()].filter((k) => k.startsWith(area));
        const A = fp.fireproof(`skip-a-${area}`);
        await A.put({ _id: "a0" });
        const a = await A.attach(fp.toConnector(store, { id: "skip" }));
        await a.sync();
        const invite = await a.invite();
        const before = new Set(damaged());
        // B pushes a record, goes away, and its record is damaged on the remote
        const B = fp.fireproof(`skip-b-${area}`);
        const b = await B.attach(fp.toConnector(store, { id: "skip", invite }));
        await B.put({ _id: "b0" });
        await b.sync();
        await b.detach();
        for (const k of damaged()) if (!before.has(k)) objects.get(k)[40] ^= 1;
        // A writes: sync() reports the damaged record, and pushes A's write all the same
        await A.put({ _id: "a1" });
        const first = await a.sync().then(() => "ok", (e) => e.code);
        const state = { status: a.status(), code: a.state().lastError?.code };
        // changes announced: each pull in the background reports it again; a write made meanwhile
        // still goes up at once (the loop does not back off for it)
        announce();
        await sleep(300);
        announce();
        await sleep(300);
        await A.put({ _id: "a2" });
        const t0 = performance.now();
        while (a.state().pendingUp > 0 && performance.now() - t0 < 1500) await sleep(20);
        const pendingUp = a.state().pendingUp;
        // a third replica sees A's writes (and the damaged record too)
        const C = fp.fireproof(`skip-c-${area}`);
        const c = await C.attach(fp.toConnector(store, { id: "skip", invite }));
        const third = await c.sync().then(() => "ok", (e) => e.code);
        return { first, state, pendingUp, third, c: (await C.allDocs()).rows.map((r) => r.key) };
      }, area);
      assert.deepEqual(res, {
        first: "CORRUPT",
        state: { status: "error", code: "CORRUPT" },
        pendingUp: 0,
        third: "CORRUPT",
        // (a damaged CAR only B's head needs: the other records merge all the same)
        c: ["a0", "a1", "a2"],
      }, area);
    }
  },

  async "without AbortSignal.any and AbortSignal.timeout (Safari before 17.4, Chrome before 116) the server connector syncs"({ context, harness }) {
    const server = await startServer();
    try {
      const page = await openPage(context, harness);
      const res = await page.evaluate(async (url) => {
        delete AbortSignal.any;
        delete AbortSignal.timeout;
        const fp = window.fp;
        const one = fp.fireproof("old-browser-1");
        await one.put({ _id: "x" });
        const a = await one.attach(fp.toServer(url));
        await a.sync();
        const two = fp.fireproof("old-browser-2");
        const b = await two.attach(fp.toServer(url, { invite: await a.invite() }));
        await b.sync();
        return { docs: (await two.allDocs()).rows.map((r) => r.key), status: b.status(), gone: typeof AbortSignal.any };
      }, server.url);
      assert.deepEqual({ docs: res.docs, gone: res.gone }, { docs: ["x"], gone: "undefined" });
      assert.notEqual(res.status, "error");
    } finally {
      await server.stop();
    }
  },

  async "toConnector: a connector whose calls never settle holds neither detach() nor the ledger, and sync() calls waiting on it reject with CLOSED"({ context, harness }) {
    const page = await openPage(context, harness);
    const res = await page.evaluate(async () => {
      const fp = window.fp;
      const never = () => new Promise(() => undefined);
      const hung = { put: never, get: never, list: never, delete: never };
      const db = fp.fireproof("conn-hung");
      await db.put({ _id: "h1" });
      const a = await db.attach(fp.toConnector(hung, { id: "hung" }));
      // one sync() in the connector's hung call, one queued behind it: both settle on detach
      const settled = [a.sync(), a.sync()].map((p) => p.then(() => "resolved", (e) => e.code));
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      await a.detach();
      const detachMs = performance.now() - t0;
      const syncs = await Promise.race([Promise.all(settled), new Promise((r) => setTimeout(() => r("pending"), 3000))]);
      await db.put({ _id: "h2" });
      // working storage attached afterwards gets everything
      const store = window.memoryStore();
      const b = await db.attach(fp.toConnector(store, { id: "working" }));
      await b.sync();
      const other = fp.fireproof("conn-hung-other");
      const c = await other.attach(fp.toConnector(store, { id: "working", invite: await b.invite() }));
      await c.sync();
      return { detachMs, syncs, status: a.status(), docs: (await other.allDocs()).rows.map((r) => r.key) };
    });
    assert.ok(res.detachMs < 5000, `detach() took ${res.detachMs} ms`);
    assert.deepEqual({ syncs: res.syncs, status: res.status, docs: res.docs }, { syncs: ["CLOSED", "CLOSED"], status: "detached", docs: ["h1", "h2"] });
  },

  async "an invite to another remote ledger on the server this ledger is attached to joins it in the same page (as after a reload)"({ context, harness }) {
    const server = await startServer();
    const other = await context.browser().newContext();
    try {
      const a = await openPage(context, harness);
      await a.evaluate(() => window.fp.fireproof("team").put({ _id: "a1" }));
      const { invite } = await attach(a, "team", server.url);
      const aLedger = await a.evaluate(() => window.attached.name);
      const b = await openPage(other, harness);
      await b.evaluate(() => window.fp.fireproof("team").put({ _id: "b1" }));
      await attach(b, "team", server.url); // B's own remote ledger
      const r = await b.evaluate(
        async ([url, invite]) => {
          const db = window.fp.fireproof("team");
          const own = window.attached;
          const joined = await db.attach(window.fp.toServer(url, { invite }));
          await joined.sync();
          const again = await db.attach(window.fp.toServer(url, { invite }));
          window.attached = joined;
          return { replaced: joined !== own, ownStatus: own.status(), name: joined.name, again: again === joined, ids: (await db.allDocs()).rows.map((x) => x.key) };
        },
        [server.url, invite],
      );
      assert.deepEqual(r, { replaced: true, ownStatus: "detached", name: aLedger, again: true, ids: ["a1", "b1"] });
      await a.evaluate(() => window.attached.sync());
      assert.deepEqual(await ids(a, "team"), ["a1", "b1"]);
    } finally {
      await other.close();
      await server.stop();
    }
  },

  async "an invite whose key does not open the remote ledger is refused with DECRYPT before anything changes here; bad toServer options are INVALID_ARG"({ context, harness }) {
    const server = await startServer();
    const other = await context.browser().newContext();
    try {
      const a = await openPage(context, harness);
      await a.evaluate(() => window.fp.fireproof("keyed").put({ _id: "a1" }));
      const { invite } = await attach(a, "keyed", server.url);
      // the same ledger, another key (a link edited or mixed up with another ledger's)
      const json = JSON.parse(Buffer.from(invite.slice(4), "base64url").toString());
      const wrong = "fp1." + Buffer.from(JSON.stringify({ ...json, k: Buffer.alloc(32, 7).toString("base64url") })).toString("base64url");
      const b = await openPage(other, harness);
      const r = await b.evaluate(
        async ([url, wrong, invite]) => {
          const db = window.fp.fireproof("keyed");
          await db.put({ _id: "b1" });
          const refused = await db.attach(window.fp.toServer(url, { invite: wrong })).then(() => null, (e) => e.code);
          const still = (await db.get("b1"))._id;
          const options = [];
          for (const o of [{ timeoutMs: -1 }, { pollMs: "x" }, { timeoutMs: 0 }]) options.push(await Promise.resolve().then(() => window.fp.toServer(url, o)).then(() => null, (e) => e.code));
          const a = await db.attach(window.fp.toServer(url, { invite }));
          await a.sync();
          return { refused, still, options, ids: (await db.allDocs()).rows.map((x) => x.key) };
        },
        [server.url, wrong, invite],
      );
      assert.deepEqual(r, { refused: "DECRYPT", still: "b1", options: ["INVALID_ARG", "INVALID_ARG", "INVALID_ARG"], ids: ["a1", "b1"] });
      await a.evaluate(() => window.attached.sync());
      assert.deepEqual(await ids(a, "keyed"), ["a1", "b1"]);
    } finally {
      await other.close();
      await server.stop();
    }
  },

  async "a profile that already has data joins: re-keyed, and both sides hold the union"({ context, harness }) {
    const server = await startServer();
    const other = await context.browser().newContext();
    try {
      const a = await openPage(context, harness);
      await a.evaluate(() => window.fp.fireproof("union").put({ _id: "from-a" }));
      const { invite } = await attach(a, "union", server.url);
      const b = await openPage(other, harness);
      await b.evaluate(async () => {
        const db = window.fp.fireproof("union");
        await db.bulk([{ _id: "from-b1" }, { _id: "from-b2" }]);
        await db.query("_id"); // an index too
      });
      await attach(b, "union", server.url, invite);
      await a.evaluate(() => window.attached.sync());
      const want = ["from-a", "from-b1", "from-b2"];
      assert.deepEqual(await ids(b, "union"), want);
      assert.deepEqual(await ids(a, "union"), want);
      // b's data survives a reload under the new key
      await b.reload();
      await b.waitForFunction(() => window.harnessReady === true);
      assert.deepEqual(await ids(b, "union"), want);
    } finally {
      await other.close();
      await server.stop();
    }
  },
};
