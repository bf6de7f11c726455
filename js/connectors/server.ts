/**
 * `toServer(url, { invite })`: the connector for `ferroproof-server` (docs/server.md) — HTTP for
 * objects, a WebSocket for real-time notices (reconnected with backoff; polling while it is down)
 * — and the invite format (docs/sync.md §8). The ledger key travels only inside invites.
 */
import { DatabaseError } from "../errors.js";
import { type Attachable, type AttachContext, type Connector, type OpenedRemote, decodeInvite, encodeInvite } from "./connector.js";

export interface ToServerOpts {
  /** An invite from `attached.invite()`: joins that remote ledger with its key. */
  readonly invite?: string;
  /** Poll interval while the real-time socket is down, ms (default 3000). */
  readonly pollMs?: number;
}

function httpError(status: number, what: string, text: string): DatabaseError {
  const code = status === 401 ? "UNAUTHORIZED" : status === 403 ? "FORBIDDEN" : "NETWORK";
  return new DatabaseError(code, `sync server: ${what}: ${status} ${text.slice(0, 200)}`);
}

async function request(url: string, init: RequestInit, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new DatabaseError("NETWORK", `sync server unreachable (${what}): ${e instanceof Error ? e.message : String(e)}`);
  }
  return res;
}

/** The HTTP + WebSocket connector for one ledger on one server. */
function serverConnector(base: string, ledger: string, pollMs: number): Connector & { close(): void } {
  const root = `${base}/v1/ledgers/${ledger}/`;
  const closers = new Set<() => void>();
  return {
    async put(key, bytes) {
      const res = await request(root + key, { method: "PUT", body: bytes as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/octet-stream" } }, `put ${key}`);
      if (!res.ok) throw httpError(res.status, `put ${key}`, await res.text());
    },
    async get(key) {
      const res = await request(root + key, {}, `get ${key}`);
      if (res.status === 404) return null;
      if (!res.ok) throw httpError(res.status, `get ${key}`, await res.text());
      return new Uint8Array(await res.arrayBuffer());
    },
    async list(prefix) {
      const out: string[] = [];
      let after = "";
      for (;;) {
        const q = after ? `?after=${encodeURIComponent(after)}` : "";
        const res = await request(root + prefix + q, {}, `list ${prefix}`);
        if (!res.ok) throw httpError(res.status, `list ${prefix}`, await res.text());
        const page = (await res.json()) as { names: string[]; next?: string };
        out.push(...page.names.map((n) => prefix + n));
        if (!page.next) return out;
        after = page.next;
      }
    },
    async delete(key) {
      const res = await request(root + key, { method: "DELETE" }, `delete ${key}`);
      if (!res.ok && res.status !== 404) throw httpError(res.status, `delete ${key}`, await res.text());
    },
    watch(_prefix, onChange) {
      let socket: WebSocket | null = null;
      let stopped = false;
      let attempt = 0;
      let poll: ReturnType<typeof setInterval> | null = null;
      const startPolling = () => {
        poll ??= setInterval(onChange, pollMs);
      };
      const stopPolling = () => {
        if (poll) clearInterval(poll);
        poll = null;
      };
      const connect = () => {
        if (stopped) return;
        try {
          socket = new WebSocket(`${root.replace(/^http/, "ws")}watch`);
        } catch {
          startPolling();
          return;
        }
        socket.onopen = () => {
          attempt = 0;
          stopPolling();
          onChange(); // catch up on what was missed while down
        };
        socket.onmessage = (ev) => {
          const msg = JSON.parse(String(ev.data)) as { type?: string; kind?: string };
          if (msg.type === "put" && msg.kind === "heads") onChange();
        };
        socket.onclose = () => {
          socket = null;
          if (stopped) return;
          startPolling();
          setTimeout(connect, Math.min(30_000, 500 * 2 ** attempt++) * (0.5 + Math.random() / 2));
        };
      };
      connect();
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

async function createLedger(base: string): Promise<string> {
  const res = await request(`${base}/v1/ledgers`, { method: "POST" }, "create ledger");
  if (!res.ok) throw httpError(res.status, "create ledger", await res.text());
  return ((await res.json()) as { ledger: string }).ledger;
}

/**
 * Attaches to a `ferroproof-server` at `url`. Without an invite, the first attach creates a new
 * remote ledger and later attaches (also after a reload) reuse it; with an invite, joins the
 * ledger it names, taking its key.
 */
export function toServer(url: string, opts: ToServerOpts = {}): Attachable {
  const base = url.replace(/\/+$/, "");
  const invite = opts.invite === undefined ? undefined : decodeInvite(opts.invite);
  if (invite && !/^[a-z2-7]{26}$/.test(invite.ledger)) throw new DatabaseError("INVALID_ARG", "invalid argument: not a sync server invite");
  return {
    name: `server:${base}`,
    configHash: () => `server:${base}`,
    async open(ctx: AttachContext): Promise<OpenedRemote> {
      const memo = `attach:server:${base}`;
      let ledger = await ctx.load(memo);
      if (invite && ledger !== invite.ledger) {
        await ctx.adoptKey(invite.key);
        ledger = invite.ledger;
        await ctx.save(memo, ledger);
      }
      if (!ledger) {
        ledger = await createLedger(base);
        await ctx.save(memo, ledger);
      }
      const connector = serverConnector(base, ledger, opts.pollMs ?? 3000);
      const id = `server:${base}:${ledger}`;
      const remote = ledger;
      return {
        id,
        connector,
        invite: (key) => encodeInvite({ url: base, ledger: remote, key }),
        close: () => connector.close(),
      };
    },
  };
}
