/**
 * `toServer(url, { invite })`: attaches to `ferroproof-server` (docs/server.md). The invite is
 * checked here; the connector itself and the auth client (`server-remote.ts`) load on the first
 * attach, so a page that never syncs does not download them.
 */
import { DatabaseError } from "../errors.js";
import { type Attachable, type AttachContext, type OpenedRemote, decodeInvite } from "./connector.js";

export interface ToServerOpts {
  /** An invite from `attached.invite()`: joins that remote ledger with its key. */
  readonly invite?: string;
  /** Poll interval while the real-time socket is down, ms (default 3000). */
  readonly pollMs?: number;
  /**
   * How long one request may take, answer included, ms (default 30,000): a server that stops
   * answering fails the sync with `NETWORK` (retried) instead of holding it.
   */
  readonly timeoutMs?: number;
}

/**
 * Attaches to a `ferroproof-server` at `url` (absolute, or relative to the page). Without an invite, the first attach creates a new
 * remote ledger and later attaches (also after a reload) reuse it; with an invite, joins the
 * ledger it names, taking its key.
 */
export function toServer(url: string, options?: ToServerOpts | null): Attachable {
  if (typeof url !== "string") throw new DatabaseError("INVALID_ARG", "invalid argument: toServer takes the server's URL as a string");
  const opts = options ?? {};
  for (const k of ["pollMs", "timeoutMs"] as const) {
    const v = opts[k];
    if (v !== undefined && !(typeof v === "number" && v > 0)) throw new DatabaseError("INVALID_ARG", `invalid argument: ${k} must be a positive number of milliseconds`);
  }
  // A page-relative URL is resolved against the page (the server on the page's origin); what is
  // not an http(s) URL after that is refused here rather than failing every sync as NETWORK.
  let abs: URL | undefined;
  try {
    abs = url.trim() ? new URL(url, (globalThis as { location?: { href?: string } }).location?.href) : undefined;
  } catch {
    abs = undefined;
  }
  if (abs?.protocol !== "http:" && abs?.protocol !== "https:") {
    throw new DatabaseError("INVALID_ARG", `invalid argument: toServer takes the server's http(s) URL, not ${JSON.stringify(url)}`);
  }
  const base = (/^[a-z][a-z\d+.-]*:/i.test(url) ? url : abs.href).replace(/\/+$/, "");
  const invite = opts.invite === undefined ? undefined : decodeInvite(opts.invite);
  if (invite && !(invite.auth ? /^did:key:z6Mk\w+$/ : /^[a-z2-7]{26}$/).test(invite.ledger)) {
    throw new DatabaseError("INVALID_ARG", "invalid argument: not a sync server invite");
  }
  return {
    name: `server:${base}`,
    configHash: () => `server:${base}`,
    joins: invite && { remote: `server:${base}:${invite.ledger}`, key: invite.key },
    async open(ctx: AttachContext): Promise<OpenedRemote> {
      const m = await import("./server-remote.js").catch((e: unknown) => {
        throw new DatabaseError("NETWORK", `sync server connector download failed: ${e instanceof Error ? e.message : String(e)}`);
      });
      return m.openServer(base, invite, opts, ctx);
    },
  };
}
