// Sync through a faulty network: a proxy in front of the real server answers some requests 503,
// drops some connections before or after the server saw the request, cuts some answers in the
// middle, and drops the real-time sockets, while two profiles write and sync. Once the faults
// stop, both converge on every acknowledged write, with one head and no error left.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { openPage, startServer } from "./util.mjs";

/** A proxy to `target` (an http URL) that injects faults while `faults` is on. */
async function faultyProxy(target) {
  const t = new URL(target);
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const state = { faults: false, injected: {}, sockets: new Set() };
  const note = (k) => (state.injected[k] = (state.injected[k] ?? 0) + 1);
  const cors = { "access-control-allow-origin": "*", "content-type": "text/plain" };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const roll = state.faults && req.method !== "OPTIONS" ? rnd() : 1;
      if (roll < 0.08) {
        note("503");
        res.writeHead(503, cors);
        return res.end("store unavailable");
      }
      if (roll < 0.16) {
        note("dropped before the server");
        return req.socket.destroy();
      }
      const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
        if (roll < 0.24) {
          note("dropped after the server");
          ur.resume();
          return req.socket.destroy();
        }
        res.writeHead(ur.statusCode, ur.headers);
        if (roll < 0.32) {
          // half of the answer, then the connection goes
          const got = [];
          ur.on("data", (c) => got.push(c));
          ur.on("end", () => {
            const all = Buffer.concat(got);
            if (all.length < 2) return res.end(all);
            note("cut");
            res.write(all.subarray(0, all.length >> 1), () => req.socket.destroy());
          });
          return;
        }
        ur.pipe(res);
      });
      up.on("error", () => req.socket.destroy());
      up.end(body);
    });
  });
  // the real-time socket: piped through, dropped when faults start
  server.on("upgrade", (req, socket, head) => {
    const up = net.connect(Number(t.port), t.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(lines.join("\r\n") + "\r\n\r\n");
      up.write(head);
      socket.pipe(up).pipe(socket);
    });
    const pair = { socket, up };
    state.sockets.add(pair);
    const end = () => {
      state.sockets.delete(pair);
      socket.destroy();
      up.destroy();
    };
    up.on("error", end).on("close", end);
    socket.on("error", end).on("close", end);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    state,
    setFaults(on) {
      state.faults = on;
      if (on) for (const { socket } of [...state.sockets]) (note("socket dropped"), socket.destroy());
    },
    close: () =>
      new Promise((ok) => {
        for (const { socket, up } of [...state.sockets]) (socket.destroy(), up.destroy());
        server.closeAllConnections();
        server.close(ok);
      }),
  };
}

/** In the page: `n` awaited puts (ids `${prefix}-i`), with a sync() every 5 that may fail. */
function writeAndSync([prefix, n]) {
  return (async () => {
    const db = window.fp.fireproof("faulty");
    const codes = [];
    for (let i = 0; i < n; i++) {
      await db.put({ _id: `${prefix}-${String(i).padStart(2, "0")}`, i });
      if (i % 5 === 4) await window.attached.sync().catch((e) => codes.push(e.code ?? `uncoded: ${e}`));
    }
    return codes;
  })();
}

/** In the page: sync() until it succeeds (at most 20 tries); returns the failures seen. */
function settle() {
  return (async () => {
    const codes = [];
    for (let i = 0; i < 20; i++) {
      try {
        await window.attached.sync();
        return codes;
      } catch (e) {
        codes.push(e.code ?? `uncoded: ${e}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new Error(`sync() never succeeded: ${codes.join()}`);
  })();
}

const state = (page) =>
  page.evaluate(async () => {
    const db = window.fp.fireproof("faulty");
    const s = window.attached.state();
    return { ids: (await db.allDocs()).rows.map((r) => r.key), head: (await db.info()).clock.map(String), lastError: s.lastError, pendingUp: s.pendingUp };
  });

export const tests = {
  async "a faulty network (503s, dropped connections, cut answers, dropped sockets): two writers converge, nothing lost"({ context, harness }) {
    const server = await startServer();
    const proxy = await faultyProxy(server.url);
    const other = await context.browser().newContext();
    try {
      const a = await openPage(context, harness);
      const invite = await a.evaluate(async (url) => {
        const db = window.fp.fireproof("faulty");
        await db.bulk(Array.from({ length: 20 }, (_, i) => ({ _id: `base-${String(i).padStart(2, "0")}`, i })));
        window.attached = await db.attach(window.fp.toServer(url));
        await window.attached.sync();
        return window.attached.invite();
      }, proxy.url);
      const b = await openPage(other, harness);
      await b.evaluate(
        async ([url, invite]) => {
          window.attached = await window.fp.fireproof("faulty").attach(window.fp.toServer(url, { invite }));
          await window.attached.sync();
        },
        [proxy.url, invite],
      );
      proxy.setFaults(true);
      const [codesA, codesB] = await Promise.all([a.evaluate(writeAndSync, ["a", 30]), b.evaluate(writeAndSync, ["b", 30])]);
      proxy.setFaults(false);
      const failed = [...codesA, ...codesB];
      for (const c of failed) assert.equal(c, "NETWORK", `sync() failed with ${c}`);
      // the faults stop: a few rounds of sync() on both settle everything
      await a.evaluate(settle);
      await b.evaluate(settle);
      await a.evaluate(settle);
      const [sa, sb] = [await state(a), await state(b)];
      const want = [
        ...Array.from({ length: 30 }, (_, i) => `a-${String(i).padStart(2, "0")}`),
        ...Array.from({ length: 30 }, (_, i) => `b-${String(i).padStart(2, "0")}`),
        ...Array.from({ length: 20 }, (_, i) => `base-${String(i).padStart(2, "0")}`),
      ];
      assert.deepEqual(sa.ids, want);
      assert.deepEqual(sb.ids, want);
      assert.deepEqual(sa.head, sb.head);
      assert.deepEqual([sa.lastError, sb.lastError, sa.pendingUp, sb.pendingUp], [null, null, 0, 0]);
      const injected = Object.values(proxy.state.injected).reduce((x, y) => x + y, 0);
      assert.ok(injected >= 10, `only ${injected} faults injected`);
      console.log(`    faults injected: ${JSON.stringify(proxy.state.injected)}; sync() calls that failed meanwhile: ${failed.length}`);
    } finally {
      await other.close();
      await proxy.close();
      await server.stop();
    }
  },
};
