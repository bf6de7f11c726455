/**
 * The connector for `ferroproof-server` (docs/server.md), loaded by `toServer`'s first attach (a
 * page that never syncs does not load it, nor the auth client): HTTP for objects, a WebSocket for
 * real-time notices (reconnected with backoff; polling while it is down), and the remote's side
 * of invites (docs/sync.md §7). The ledger key travels only inside invites.
 *
 * A server without `--open` (docs/auth.md §7) names a new ledger by the DID of the key that signed
 * its creation; from then on every request carries a fresh UCAN invocation by this device's key,
 * proven by the chain remembered beside the ledger (`attach:auth:<ledger DID>`).
 */
import { DatabaseError } from "../errors.js";
import { withLock } from "../shared.js";
import { device } from "../auth/device.js";
import { exportSeed, importSeed, newKey, type Signer } from "../auth/did.js";
import { delegate, invocation, now } from "../auth/ucan.js";
import { type AttachContext, type Connector, type Invite, type Member, type OpenedRemote, encodeInvite } from "./connector.js";
import type { ToServerOpts } from "./server.js";

/** How long a new ledger's root delegation to its creating device lasts: 10 years, in seconds. */
const ROOT_LIFETIME = 10 * 365 * 24 * 3600;

/** What this device holds on a ledger of a server with authorization (remembered as JSON). */
interface Access {
  /** The delegations proving it, root first (CIDs). */
  readonly prf: readonly string[];
  /** The command delegated to this device (`/ledger`, `/ledger/write`, `/ledger/read`). */
  readonly cmd: string;
  /** When the chain ends (Unix seconds). */
  readonly exp: number;
  /** The DID of the invite key it was redeemed through ("" for the creator). */
  readonly via: string;
}

/** How long a request to the server may take, answer included (`toServer`'s `timeoutMs`). */
const TIMEOUT_MS = 30_000;

/** Signs the invocation of one request. */
type Authorize = (method: string, url: string, body: Uint8Array) => Promise<string>;

function authorizer(by: Signer, sub: string, at: { readonly cmd: string; readonly prf: readonly string[] }): Authorize {
  return (method, url, body) => invocation(by, { sub, ...at }, method, new URL(url).pathname, body);
}

function httpError(status: number, what: string, text: string): DatabaseError {
  // 404: the server does not know this ledger (deleted, or its store was reset): not transient
  const code = status === 401 ? "UNAUTHORIZED" : status === 403 ? "FORBIDDEN" : status === 404 ? "ENOENT" : "NETWORK";
  return new DatabaseError(code, `sync server: ${what}: ${status} ${text.slice(0, 200)}`);
}

/**
 * Sends a request, signed with `auth`: the token goes in the query (`auth=`), so a `GET`, and a
 * `POST` of bytes without headers, stay simple cross-origin requests, which the browser sends
 * without a CORS preflight: one round trip per object instead of two (every object has its own
 * URL, so no preflight would ever be reused).
 */
async function request(url: string, init: RequestInit, what: string, auth?: Authorize, timeoutMs = TIMEOUT_MS): Promise<Response> {
  let res: Response;
  try {
    if (auth) {
      const body = init.body instanceof Uint8Array ? init.body : new TextEncoder().encode(typeof init.body === "string" ? init.body : "");
      url += `${url.includes("?") ? "&" : "?"}auth=${await auth(init.method ?? "GET", url, body)}`;
    }
    // a server that stopped answering fails the request (NETWORK) instead of holding the sync
    res = await fetch(url, { ...init, signal: init.signal ?? deadline(timeoutMs) });
  } catch (e) {
    throw new DatabaseError("NETWORK", `sync server unreachable (${what}): ${e instanceof Error ? e.message : String(e)}`);
  }
  return res;
}

async function ok(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw httpError(res.status, what, await res.text().catch(() => ""));
  return res;
}

/** An answer's JSON; `NETWORK` when its body cannot be read or parsed (cut off, timed out, a proxy's page). */
async function json<T>(res: Response, what: string): Promise<T> {
  try {
    return (await res.json()) as T;
  } catch (e) {
    throw new DatabaseError("NETWORK", `sync server: ${what}: unreadable answer (${e instanceof Error ? e.message : String(e)})`);
  }
}

/**
 * A signal aborted after `ms`, or with `also`. Where the browser lacks `AbortSignal.any` and
 * `AbortSignal.timeout` (Safari before 17.4, Chrome before 116, which the package supports), a
 * controller and a timer do it; the listener on `also` goes with the timer.
 */
function deadline(ms: number, also?: AbortSignal): AbortSignal {
  if (typeof AbortSignal.any === "function" && typeof AbortSignal.timeout === "function") {
    return also ? AbortSignal.any([also, AbortSignal.timeout(ms)]) : AbortSignal.timeout(ms);
  }
  const c = new AbortController();
  const abort = () => c.abort(also?.aborted ? also.reason : new DOMException("signal timed out", "TimeoutError"));
  if (also?.aborted) abort();
  also?.addEventListener("abort", abort);
  setTimeout(() => (abort(), also?.removeEventListener("abort", abort)), ms);
  return c.signal;
}

type ServerConnector = Omit<Connector, "get" | "list"> & { close(): void; get(key: string): Promise<Uint8Array | null>; list(prefix: string): Promise<string[]> };

/**
 * The HTTP + WebSocket connector for one ledger on one server. Each request (its answer
 * included) fails after `timeoutMs`, and `close()` (detach) aborts those in flight.
 */
function serverConnector(base: string, ledger: string, opts: ToServerOpts, auth?: Authorize): ServerConnector {
  const root = `${base}/v1/ledgers/${ledger}/`;
  const pollMs = opts.pollMs ?? 3000;
  const closed = new AbortController();
  const closers = new Set<() => void>([() => closed.abort()]);
  const call = (url: string, init: RequestInit, what: string) =>
    request(url, { ...init, signal: deadline(opts.timeoutMs ?? TIMEOUT_MS, closed.signal) }, what, auth);
  let many = true; // the server answers `POST …/get`
  const get = async (key: string): Promise<Uint8Array | null> => {
    const res = await call(root + key, {}, `get ${key}`);
    if (res.status === 404) return null;
    return new Uint8Array(await (await ok(res, `get ${key}`)).arrayBuffer());
  };
  return {
    async put(key, bytes) {
      // POST (the server's create-only write, as PUT) with no headers: no CORS preflight
      await ok(await call(root + key, { method: "POST", body: bytes as Uint8Array<ArrayBuffer> }, `put ${key}`), `put ${key}`);
    },
    get,
    async getMany(keys) {
      // up to 64 objects per request (docs/server.md); a request per object from a server without
      // the route (405), and for each object an answer left for later (a short answer throws)
      const out: (Uint8Array | null)[] = [];
      for (let i = 0; i < keys.length; i += 64) {
        const part = keys.slice(i, i + 64);
        const res = many && (await call(`${root}get`, { method: "POST", body: part.join("\n") }, "get many"));
        if (!res || res.status === 405) {
          many = false;
          out.push(...(await Promise.all(part.map(get))));
          continue;
        }
        const b = new Uint8Array(await (await ok(res, "get many")).arrayBuffer());
        const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
        let at = 0;
        for (const k of part) {
          const n = view.getUint32(at);
          at += 4;
          out.push(n === 0xffffffff ? null : n === 0xfffffffe ? await get(k) : b.subarray(at, (at += n)));
        }
      }
      return out;
    },
    async list(prefix) {
      const out: string[] = [];
      let after = "";
      for (;;) {
        const q = after ? `?after=${encodeURIComponent(after)}` : "";
        const res = await ok(await call(root + prefix + q, {}, `list ${prefix}`), `list ${prefix}`);
        const page = await json<{ names: string[]; next?: string }>(res, `list ${prefix}`);
        out.push(...page.names.map((n) => prefix + n));
        if (!page.next) return out;
        after = page.next;
      }
    },
    async delete(key) {
      const res = await call(root + key, { method: "DELETE" }, `delete ${key}`);
      if (res.status !== 404) await ok(res, `delete ${key}`);
    },
    watch(_prefix, onChange) {
      let socket: WebSocket | null = null;
      let stopped = false;
      let attempt = 0;
      let poll: ReturnType<typeof setInterval> | null = null;
      const startPolling = () => {
        poll ??= setInterval(() => onChange(), pollMs);
      };
      const stopPolling = () => {
        if (poll) clearInterval(poll);
        poll = null;
      };
      const retry = () => {
        startPolling();
        setTimeout(connect, Math.min(30_000, 500 * 2 ** attempt++) * (0.5 + Math.random() / 2));
      };
      const connect = async () => {
        if (stopped) return;
        const url = `${root}watch`;
        try {
          const q = auth ? `?auth=${await auth("GET", url, new Uint8Array())}` : "";
          if (stopped) return;
          socket = new WebSocket(url.replace(/^http/, "ws") + q);
        } catch {
          retry();
          return;
        }
        socket.onopen = () => {
          attempt = 0;
          stopPolling();
          onChange(); // catch up on what was missed while down
        };
        socket.onmessage = (ev) => {
          const msg = JSON.parse(String(ev.data)) as { type?: string; kind?: string; name?: unknown };
          if (msg.type === "put" && msg.kind === "heads") onChange(typeof msg.name === "string" ? `heads/${msg.name}` : undefined);
        };
        socket.onclose = () => {
          socket = null;
          if (!stopped) retry();
        };
      };
      void connect();
      const close = () => {
        stopped = true;
        stopPolling();
        socket?.close();
        closers.delete(close);
      };
      closers.add(close);
      return close;
    },
    close() {
      for (const c of [...closers]) c();
    },
  };
}

/**
 * Creates a remote ledger with one signed POST: a ledger key is made (non-extractable, used only
 * to sign the root delegation to this device, then dropped) and the root delegation sent with the
 * device's invocation. A server with authorization names the ledger by that key's DID; an
 * `--open` one ignores both and answers with an id of its own (docs/auth.md §8.2). Where
 * WebCrypto has no Ed25519 the POST goes unsigned, which only an `--open` server accepts.
 */
async function createLedger(base: string, ms: number | undefined): Promise<{ ledger: string; access?: Access }> {
  const url = `${base}/v1/ledgers`;
  let signed: { did: string; access: Access; body: Uint8Array<ArrayBuffer>; auth: Authorize } | undefined;
  try {
    const dev = await device();
    const ledgerKey = (await newKey(false)).signer;
    const exp = now() + ROOT_LIFETIME;
    const rootDlg = await delegate(ledgerKey, { aud: dev.did, sub: ledgerKey.did, cmd: "/ledger", exp });
    const access: Access = { prf: [rootDlg.cid], cmd: "/ledger", exp, via: "" };
    signed = { did: ledgerKey.did, access, body: rootDlg.bytes as Uint8Array<ArrayBuffer>, auth: authorizer(dev, ledgerKey.did, access) };
  } catch {
    // no Ed25519 in this browser
  }
  const res = await ok(await request(url, { method: "POST", body: signed?.body }, "create ledger", signed?.auth, ms), "create ledger");
  const { ledger } = await json<{ ledger: unknown }>(res, "create ledger");
  if (typeof ledger !== "string") throw new DatabaseError("NETWORK", "sync server: create ledger: no ledger id in the answer");
  return ledger === signed?.did ? { ledger, access: signed.access } : { ledger };
}

/** Registers delegation `d` (its issuer `by` invokes with its own chain `at`): docs/auth.md §7.4. */
async function register(base: string, ledger: string, d: { bytes: Uint8Array; cid: string }, by: Signer, at: { cmd: string; prf: readonly string[] }, ms: number | undefined): Promise<void> {
  const url = `${base}/v1/ledgers/${ledger}/ucans/${d.cid}`;
  const res = await request(url, { method: "PUT", body: d.bytes as Uint8Array<ArrayBuffer> }, "register delegation", authorizer(by, ledger, at), ms);
  if (res.status === 409) throw new DatabaseError("INVITE_SPENT", "sync server: this invite was already redeemed");
  await ok(res, "register delegation");
}

/** Redeems a v2 invite: the one-time key delegates its command on to this device (§7.5). */
async function redeem(base: string, inv: Invite & { auth: NonNullable<Invite["auth"]> }, ms: number | undefined): Promise<Access> {
  const { seed, prf, cmd, exp } = inv.auth;
  const once = await importSeed(seed);
  const dev = await device();
  const d = await delegate(once, { aud: dev.did, sub: inv.ledger, cmd, exp });
  await register(base, inv.ledger, d, once, { cmd, prf }, ms);
  return { prf: [...prf, d.cid], cmd, exp, via: once.did };
}

function parseAccess(text: string | undefined): Access | undefined {
  return text ? (JSON.parse(text) as Access) : undefined;
}

/**
 * Rejects with `DECRYPT` unless `key` opens one of the first head records of the remote ledger
 * (up to 3 tried, so one damaged record does not refuse a good invite); an empty ledger passes.
 */
async function keyOpens(c: ServerConnector, key: Uint8Array): Promise<void> {
  const names = (await c.list("heads/")).slice(0, 3);
  if (names.length === 0) return;
  const k = await crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, "AES-GCM", false, ["decrypt"]);
  for (const n of names) {
    const b = await c.get(n);
    const opened = b && (await crypto.subtle.decrypt({ name: "AES-GCM", iv: b.slice(5, 17), additionalData: b.slice(0, 5) }, k, b.slice(17)).then(() => true, () => false));
    if (opened) return;
  }
  throw new DatabaseError("DECRYPT", "invite: its key does not open this remote ledger's records (a damaged or mixed-up invite link); nothing was changed here");
}

/** Opens the remote ledger for `toServer(base, opts)` (`invite`: the decoded, checked invite). */
export async function openServer(base: string, invite: Invite | undefined, opts: ToServerOpts, ctx: AttachContext): Promise<OpenedRemote> {
  const memo = `attach:server:${base}`;
  const accessKey = (l: string) => `attach:auth:${l}`;
  let ledger = await ctx.load(memo);
  let access: Access | undefined;
  if (invite?.auth) {
    // redeem before anything changes here: a refused invite leaves the local ledger as it was
    access = parseAccess(await ctx.load(accessKey(invite.ledger)));
    if (access?.via !== (await importSeed(invite.auth.seed)).did) {
      access = await redeem(base, invite as Invite & { auth: NonNullable<Invite["auth"]> }, opts.timeoutMs);
      await ctx.save(accessKey(invite.ledger), JSON.stringify(access));
    }
  }
  if (invite && ledger !== invite.ledger) {
    // a mixed-up or edited link must not re-key this ledger and push under a key nobody else has
    const probe = serverConnector(base, invite.ledger, opts, access && authorizer(await device(), invite.ledger, access));
    try {
      await keyOpens(probe, invite.key);
    } finally {
      probe.close();
    }
    await ctx.adoptKey(invite.key);
    ledger = invite.ledger;
    await ctx.save(memo, ledger);
  }
  if (!ledger) {
    // one tab creates: another tab attaching at the same time finds the id it remembered
    [ledger, access] = await withLock(`ferroproof-attach:${ctx.ledgerName}:${base}`, async () => {
      const known = await ctx.load(memo);
      if (known) return [known, access] as const;
      const made = await createLedger(base, opts.timeoutMs);
      if (made.access) await ctx.save(accessKey(made.ledger), JSON.stringify(made.access));
      await ctx.save(memo, made.ledger);
      return [made.ledger, made.access] as const;
    });
  }
  const remote = ledger;
  const secured = remote.startsWith("did:key:");
  if (secured) {
    access ??= parseAccess(await ctx.load(accessKey(remote)));
    if (access) await ctx.save(accessKey(remote), JSON.stringify(access)); // (again: a re-key must not lose it)
    else throw new DatabaseError("UNAUTHORIZED", `sync server: this profile holds no access to ${remote}`);
  }
  const dev = secured ? await device() : undefined;
  const auth = dev && access ? authorizer(dev, remote, access) : undefined;
  const connector = serverConnector(base, remote, opts, auth);
  const ledgerUrl = `${base}/v1/ledgers/${remote}`;
  const unsupported = () => new DatabaseError("UNSUPPORTED", "this sync server runs without authorization (--open)");
  return {
    id: `server:${base}:${remote}`,
    connector,
    device: dev?.did ?? (await device().then((d) => d.did, () => "")),
    async invite(key, o) {
      if (!dev || !access) return encodeInvite({ url: base, ledger: remote, key });
      const cmd = o.write === false ? "/ledger/read" : "/ledger/write";
      const exp = o.expiresIn === undefined ? access.exp : Math.min(access.exp, now() + o.expiresIn);
      const { pair, signer: once } = await newKey(true);
      const d = await delegate(dev, { aud: once.did, sub: remote, cmd, exp, meta: { invite: true } });
      await register(base, remote, d, dev, { cmd, prf: access.prf }, opts.timeoutMs);
      const seed = await exportSeed(pair.privateKey);
      return encodeInvite({ url: base, ledger: remote, key, auth: { seed, prf: [...access.prf, d.cid], cmd, exp } });
    },
    async members(): Promise<Member[]> {
      if (!auth) throw unsupported();
      const res = await ok(await request(`${ledgerUrl}/members`, {}, "members", auth, opts.timeoutMs), "members");
      return (await json<Member[]>(res, "members")).map(({ did, can, expires }) => ({ did, can, expires }));
    },
    async revoke(did: string): Promise<void> {
      if (!auth) throw unsupported();
      const body = JSON.stringify({ did });
      await ok(await request(`${ledgerUrl}/revoke`, { method: "POST", body, headers: { "content-type": "application/json" } }, "revoke", auth, opts.timeoutMs), "revoke");
    },
    close: () => connector.close(),
  };
}
