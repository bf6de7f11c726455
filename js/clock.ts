/** Clock links: CID strings from the engine wrapped in CID-like objects. */
import { DatabaseError } from "./errors.js";
import type { ClockHead, ClockLink } from "./types.js";

class Link implements ClockLink {
  readonly "/": string;
  constructor(cid: string) {
    this["/"] = cid;
  }
  toString(): string {
    return this["/"];
  }
  toJSON(): { "/": string } {
    return { "/": this["/"] };
  }
}

/** One event link. */
export function toLink(cid: string): ClockLink {
  return new Link(cid);
}

/** A fresh clock array (never shared with later results). */
export function toClock(cids: readonly string[]): ClockHead {
  return cids.map((c) => new Link(c));
}

/**
 * Accepts a clock as returned (links), as strings or as dag-json `{"/": cid}` objects; absent
 * (`undefined`, `null`) is `[]`, the start, unless `required` (`rollback`, where a missing
 * argument must not mean "empty the ledger").
 */
export function clockToJson(since: unknown, required = false): string {
  if ((since === undefined || since === null) && !required) return "[]";
  if (!Array.isArray(since)) throw new DatabaseError("INVALID_ARG", "invalid argument: a clock is an array of event links");
  return JSON.stringify(
    since.map((l: unknown) => {
      if (typeof l === "string") return l;
      if (typeof l === "object" && l !== null) {
        const slash = (l as { "/"?: unknown })["/"];
        if (typeof slash === "string") return slash;
      }
      return String(l);
    }),
  );
}
