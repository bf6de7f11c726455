// Authorization from the browser against the real ferroproof-server started WITHOUT --open
// (docs/auth.md §7 and "Client"): device keys, the ledger key and its root delegation, invocations
// on every request, invites to one-time keys (write and read-only, spent once), members, revoke,
// what a refused device sees (FORBIDDEN in its state, its local data and writes intact), and a revoked
// device's live socket closed by the server (1008).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { openPage, startServer } from "./util.mjs";

async function attach(page, name, url, invite) {
  return page.evaluate(
    async ([name, url, invite]) => {
      const db = window.fp.fireproof(name);
      const a = await db.attach(window.fp.toServer(url, invite ? { invite } : {}));
      window.attached = a;
      const err = await a.sync().then(() => null, (e) => e.code);
      return { device: a.device, err, status: a.status(), code: a.state().lastError?.code ?? null };
    },
    [name, url, invite],
  );
}

const ids = (page, name) => page.evaluate(async (name) => (await window.fp.fireproof(name).allDocs()).rows.map((r) => r.key).sort(), name);
const put = (page, name, id) => page.evaluate(([name, id]) => window.fp.fireproof(name).put({ _id: id }), [name, id]);
const sync = (page) => page.evaluate(() => window.attached.sync().then(() => null, (e) => e.code));
const invite = (page, opts) => page.evaluate((opts) => window.attached.invite(opts), opts);

export const tests = {
  async "a secured server: create, invite a writer and a reader, members, revoke"({ context, harness }) {
    const server = await startServer({ open: false });
    const browser = context.browser();
    const writerCtx = await browser.newContext();
    const readerCtx = await browser.newContext();
    const thiefCtx = await browser.newContext();
    try {
      const admin = await openPage(context, harness);
      await put(admin, "doc", "a1");
      const ra = await attach(admin, "doc", server.url);
      assert.match(ra.device, /^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]{44}$/);
      assert.equal(ra.err, null);
      // the device key is one per profile: a second tab, a reload, another ledger: the same DID
      const same = await admin.evaluate(async (url) => (await window.fp.fireproof("other").attach(window.fp.toServer(url))).device, server.url);
      assert.equal(same, ra.device);

      // a write invite joins a second profile; edits flow both ways
      const wInvite = await invite(admin, { write: true, expiresIn: 3600 });
      assert.match(wInvite, /^fp1\./);
      const writer = await openPage(writerCtx, harness);
      const rw = await attach(writer, "doc", server.url, wInvite);
      assert.equal(rw.err, null);
      assert.notEqual(rw.device, ra.device);
      assert.deepEqual(await ids(writer, "doc"), ["a1"]);
      await put(writer, "doc", "w1");
      assert.equal(await sync(writer), null);
      assert.equal(await sync(admin), null);
      assert.deepEqual(await ids(admin, "doc"), ["a1", "w1"]);
      // live: the writer's WebSocket (authorized by ?auth=) brings the admin's put without a sync() call
      const seen = writer.evaluate(
        () =>
          new Promise((resolve) => {
            const db = window.fp.fireproof("doc");
            const stop = db.subscribe(async () => {
              if ((await db.allDocs()).rows.some((r) => r.key === "live")) {
                stop();
                resolve(true);
              }
            });
          }),
      );
      await put(admin, "doc", "live");
      assert.equal(await Promise.race([seen, new Promise((r) => setTimeout(() => r(false), 8000))]), true, "the writer saw the admin's put live");

      // the same invite again, from another profile: refused, nothing changes there
      const thief = await openPage(thiefCtx, harness);
      await put(thief, "doc", "t1");
      const stolen = await thief.evaluate(async ([url, inv]) => {
        try {
          await window.fp.fireproof("doc").attach(window.fp.toServer(url, { invite: inv }));
          return null;
        } catch (e) {
          return e.code;
        }
      }, [server.url, wInvite]);
      assert.equal(stolen, "INVITE_SPENT");
      assert.deepEqual(await ids(thief, "doc"), ["t1"]);

      // a read-only invite: pulls, but its push is FORBIDDEN; its local writes still work
      const rInvite = await invite(admin, { write: false });
      const reader = await openPage(readerCtx, harness);
      const rr = await attach(reader, "doc", server.url, rInvite);
      assert.equal(rr.err, null);
      assert.deepEqual(await ids(reader, "doc"), ["a1", "live", "w1"]);
      await put(reader, "doc", "r1");
      const refused = await reader.evaluate(async () => {
        const err = await window.attached.sync().then(() => null, (e) => e.code);
        return { err, status: window.attached.status(), code: window.attached.state().lastError?.code, pendingUp: window.attached.state().pendingUp };
      });
      assert.deepEqual({ ...refused, pendingUp: refused.pendingUp > 0 }, { err: "FORBIDDEN", status: "error", code: "FORBIDDEN", pendingUp: true });
      assert.deepEqual(await ids(reader, "doc"), ["a1", "live", "r1", "w1"]);
      // a reader cannot administer
      assert.equal(await reader.evaluate(() => window.attached.members().then(() => null, (e) => e.code)), "FORBIDDEN");

      // members: the three devices with their rights
      const members = await admin.evaluate(() => window.attached.members());
      const byDid = Object.fromEntries(members.map((m) => [m.did, m.can]));
      assert.deepEqual(byDid, { [ra.device]: "admin", [rw.device]: "write", [rr.device]: "read" });
      assert.ok(members.every((m) => typeof m.expires === "number" && m.expires > Date.now() / 1000));
      // an answer that is not the server's (a proxy's HTML page with 200): NETWORK, not a bare SyntaxError
      const proxied = await admin.evaluate(async () => {
        const real = window.fetch;
        window.fetch = (url, init) => (String(url).includes("/members") ? Promise.resolve(new Response("<html>login</html>", { status: 200 })) : real(url, init));
        try {
          return await window.attached.members().then(() => "resolved", (e) => `${e.code} ${e instanceof Error}`);
        } finally {
          window.fetch = real;
        }
      });
      assert.equal(proxied, "NETWORK true");

      // revoke the writer: its next sync is FORBIDDEN, its data intact and still writable
      await admin.evaluate((did) => window.attached.revoke(did), rw.device);
      const after = await writer.evaluate(async () => {
        const db = window.fp.fireproof("doc");
        await db.put({ _id: "w2" });
        const err = await window.attached.sync().then(() => null, (e) => e.code);
        return { err, status: window.attached.status(), code: window.attached.state().lastError?.code, ids: (await db.allDocs()).rows.map((r) => r.key).sort() };
      });
      assert.deepEqual(after, { err: "FORBIDDEN", status: "error", code: "FORBIDDEN", ids: ["a1", "live", "w1", "w2"] });
      const left = (await admin.evaluate(() => window.attached.members())).map((m) => m.did).sort();
      assert.deepEqual(left, [ra.device, rr.device].sort());

      // the reader is granted write with a new invite: its earlier local write is pushed
      const upgrade = await invite(admin, { expiresIn: 600 });
      const up = await reader.evaluate(async ([url, inv]) => {
        await window.attached.detach();
        window.attached = await window.fp.fireproof("doc").attach(window.fp.toServer(url, { invite: inv }));
        const err = await window.attached.sync().then(() => null, (e) => e.code);
        return { err, pendingUp: window.attached.state().pendingUp };
      }, [server.url, upgrade]);
      assert.deepEqual(up, { err: null, pendingUp: 0 });
      assert.equal(await sync(admin), null);
      assert.deepEqual(await ids(admin, "doc"), ["a1", "live", "r1", "w1"]);

      // a reload re-attaches with the remembered chain, no invite needed
      await admin.reload();
      await admin.waitForFunction(() => window.harnessReady === true);
      await put(admin, "doc", "a2");
      const again = await attach(admin, "doc", server.url);
      assert.deepEqual({ err: again.err, device: again.device }, { err: null, device: ra.device });
    } finally {
      await writerCtx.close();
      await readerCtx.close();
      await thiefCtx.close();
      await server.stop();
    }
  },

  async "a reader that merges two writers' concurrent heads pushes nothing and reports no error"({ context, harness }) {
    const server = await startServer({ open: false });
    const browser = context.browser();
    const writerCtx = await browser.newContext();
    const readerCtx = await browser.newContext();
    try {
      const admin = await openPage(context, harness);
      await put(admin, "crowd", "a0");
      assert.equal((await attach(admin, "crowd", server.url)).err, null);
      const writer = await openPage(writerCtx, harness);
      assert.equal((await attach(writer, "crowd", server.url, await invite(admin, { write: true }))).err, null);
      const reader = await openPage(readerCtx, harness);
      assert.equal((await attach(reader, "crowd", server.url, await invite(admin, { write: false }))).err, null);
      // concurrent writes: the writer is detached while both write, then pushes after the admin
      await writer.evaluate(() => window.attached.detach());
      await put(writer, "crowd", "w1");
      await put(admin, "crowd", "a1");
      assert.equal(await sync(admin), null);
      const rejoined = await writer.evaluate(async (url) => {
        window.attached = await window.fp.fireproof("crowd").attach(window.fp.toServer(url));
        return window.attached.sync().then(() => null, (e) => e.code);
      }, server.url);
      assert.equal(rejoined, null);
      // the reader merges the two heads itself: the merge is held back, so it has nothing to push
      assert.equal(await sync(reader), null);
      const state = await reader.evaluate(() => {
        const s = window.attached.state();
        return { pendingUp: s.pendingUp, code: s.lastError?.code ?? null, status: window.attached.status() };
      });
      assert.equal(state.pendingUp, 0);
      assert.equal(state.code, null);
      assert.notEqual(state.status, "error");
      assert.deepEqual(await ids(reader, "crowd"), ["a0", "a1", "w1"]);
      assert.equal(await sync(admin), null);
      const head = (p) => p.evaluate(async () => (await window.fp.fireproof("crowd").info()).clock.map(String));
      assert.deepEqual(await head(reader), await head(admin));
    } finally {
      await writerCtx.close();
      await readerCtx.close();
      await server.stop();
    }
  },

  async "a revoked device's live connection stops: no more changes reach it, it reports FORBIDDEN, its data stays"({ context, harness }) {
    const server = await startServer({ open: false });
    const deviceCtx = await context.browser().newContext();
    // B's pages record their WebSockets' opens and close codes (1008 = the server's policy close, §7.7)
    await deviceCtx.addInitScript(() => {
      const Native = window.WebSocket;
      window.sockets = { opens: 0, closes: [] };
      window.WebSocket = class extends Native {
        constructor(...args) {
          super(...args);
          this.addEventListener("open", () => window.sockets.opens++);
          this.addEventListener("close", (e) => window.sockets.closes.push(e.code));
        }
      };
    });
    try {
      const admin = await openPage(context, harness);
      await put(admin, "live", "a1");
      assert.equal((await attach(admin, "live", server.url)).err, null);
      const b = await openPage(deviceCtx, harness);
      const rb = await attach(b, "live", server.url, await invite(admin, { write: true }));
      assert.equal(rb.err, null);
      assert.deepEqual(await ids(b, "live"), ["a1"]);
      await b.waitForFunction(() => window.sockets.opens > 0, null, { timeout: 10000 });

      // B receives the admin's change over its socket, without calling sync()
      const arrives = (id, ms) =>
        b.evaluate(
          ([id, ms]) =>
            new Promise((resolve) => {
              const db = window.fp.fireproof("live");
              const check = async () => (await db.allDocs()).rows.some((r) => r.key === id) && (stop(), clearTimeout(timer), resolve(true));
              const stop = db.subscribe(check);
              const timer = setTimeout(() => (stop(), resolve(false)), ms);
              void check();
            }),
          [id, ms],
        );
      const seen = arrives("before", 10000);
      await put(admin, "live", "before");
      assert.equal(await seen, true, "B saw the admin's put live before the revoke");
      assert.deepEqual(await b.evaluate(() => window.sockets.closes), [], "B's socket stayed open");

      // revoked: the server closes B's socket at the next announcement (1008), and nothing more reaches B
      await admin.evaluate((did) => window.attached.revoke(did), rb.device);
      const missed = arrives("after", 8000);
      await put(admin, "live", "after");
      assert.equal(await sync(admin), null);
      await b.waitForFunction(() => window.sockets.closes.includes(1008), null, { timeout: 10000 });
      assert.equal(await missed, false, "the admin's put after the revoke did not reach B");
      // B's own loop (polling while the socket is refused) reports the refusal; so does an explicit sync
      await b.waitForFunction(() => ["UNAUTHORIZED", "FORBIDDEN"].includes(window.attached.state().lastError?.code), null, { timeout: 15000 });
      const after = await b.evaluate(async () => {
        const err = await window.attached.sync().then(() => null, (e) => e.code);
        const db = window.fp.fireproof("live");
        await db.put({ _id: "b1" }); // local writes go on
        return { err, status: window.attached.status(), code: window.attached.state().lastError?.code, opens: window.sockets.opens, ids: (await db.allDocs()).rows.map((r) => r.key).sort() };
      });
      assert.deepEqual(after, { err: "FORBIDDEN", status: "error", code: "FORBIDDEN", opens: 1, ids: ["a1", "b1", "before"] });
      assert.deepEqual(await ids(admin, "live"), ["a1", "after", "before"]);
    } finally {
      await deviceCtx.close();
      await server.stop();
    }
  },

  async "the UCAN spec's delegation fixture is made byte for byte by the browser's encoder and WebCrypto"({ context, harness }) {
    const fixture = JSON.parse(await readFile("server/tests/fixtures/ucan-1.0.0/delegation.json", "utf8"));
    const page = await openPage(context, harness);
    const res = await page.evaluate(async (fixture) => {
      const { importSeed } = await import("/pkg/auth/did.js");
      const { delegate } = await import("/pkg/auth/ucan.js");
      const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
      const [valid] = fixture.valid;
      const p = valid.envelope.payload;
      const bob = await importSeed(b64(fixture.principals.bob).slice(2)); // varint(0x1300) ‖ seed
      const t = await delegate(bob, { aud: p.aud, sub: p.sub, cmd: p.cmd, exp: p.exp, nonce: b64(p.nonce) });
      return { iss: bob.did === p.iss, same: btoa(String.fromCharCode(...t.bytes)) === valid.token, cid: t.cid };
    }, fixture);
    assert.deepEqual(res, { iss: true, same: true, cid: fixture.valid[0].cid });
  },

  async "one device key per profile, also when two tabs ask at once; it survives destroying a ledger"({ context, harness }) {
    const [one, two] = await Promise.all([openPage(context, harness), openPage(context, harness)]);
    const did = (page) => page.evaluate(async () => (await (await import("/pkg/auth/device.js")).device()).did);
    const [a, b] = await Promise.all([did(one), did(two)]);
    assert.match(a, /^did:key:z6Mk/);
    assert.equal(a, b);
    const after = await one.evaluate(async () => {
      const db = window.fp.fireproof("gone");
      await db.put({ _id: "x" });
      await db.destroy();
      const rows = await new Promise((resolve, reject) => {
        const r = indexedDB.open("ferroproof-device");
        r.onsuccess = () => r.result.transaction("keys").objectStore("keys").getAll().onsuccess = (e) => resolve(e.target.result);
        r.onerror = () => reject(r.error);
      });
      return { count: rows.length, extractable: rows[0].key.extractable, type: rows[0].key.algorithm.name };
    });
    assert.deepEqual(after, { count: 1, extractable: false, type: "Ed25519" });
    await two.reload();
    await two.waitForFunction(() => window.harnessReady === true);
    assert.equal(await did(two), a);
  },

  async "the ledger id is the ledger key's DID, made by one signed request (no refused one in the console); a request without a token is 401"({ context, harness }) {
    const server = await startServer({ open: false });
    try {
      const page = await openPage(context, harness);
      const refused = [];
      page.on("console", (m) => m.type() === "error" && refused.push(m.text()));
      await attach(page, "canon", server.url);
      assert.deepEqual(refused, [], "creating the ledger and syncing logged no failed request");
      const res = await page.evaluate(async (url) => {
        const ledger = (await window.fp.fireproof("canon").attach(window.fp.toServer(url))).name.split(":").slice(-3).join(":");
        const plain = await fetch(`${url}/v1/ledgers/${ledger}/heads/`);
        return { ledger, status: plain.status };
      }, server.url);
      assert.match(res.ledger, /^did:key:z6Mk/);
      assert.equal(res.status, 401);
    } finally {
      await server.stop();
    }
  },

  async "an --open server: v1 invites, no tokens, members and revoke are UNSUPPORTED"({ context, harness }) {
    const server = await startServer();
    try {
      const page = await openPage(context, harness);
      const r = await attach(page, "open", server.url);
      assert.equal(r.err, null);
      const res = await page.evaluate(async () => {
        const inv = await window.attached.invite({ write: false });
        const json = JSON.parse(atob(inv.slice(4).replace(/-/g, "+").replace(/_/g, "/")));
        return {
          v: json.v,
          members: await window.attached.members().then(() => null, (e) => e.code),
          revoke: await window.attached.revoke("did:key:z6MkmT9j6fVZqzXV8u2wVVSu49gYSRYGSQnduWXF6foAJrqz").then(() => null, (e) => e.code),
        };
      });
      assert.deepEqual(res, { v: 1, members: "UNSUPPORTED", revoke: "UNSUPPORTED" });
    } finally {
      await server.stop();
    }
  },
};
