/**
 * A minimal canonical DAG-CBOR encoder for UCAN tokens (docs/auth.md §2): the shapes the tokens
 * use only — null, booleans, integers of magnitude below 2^32 (timestamps until 2106), text,
 * bytes, CID links, lists, maps. Canonical as the server requires: map keys sorted by length, then
 * bytewise; shortest integer and length heads.
 */

/** A CID link (tag 42): the binary CID, without the multibase prefix. */
export class Link {
  constructor(readonly cid: Uint8Array) {}
}

export type Cbor = null | boolean | number | string | Uint8Array | Link | readonly Cbor[] | { readonly [key: string]: Cbor };

const utf8 = new TextEncoder();

/** The canonical DAG-CBOR bytes of `value`. */
export function encode(value: Cbor): Uint8Array {
  const out: number[] = [];
  const head = (major: number, n: number): void => {
    const m = major << 5;
    if (n < 24) out.push(m | n);
    else if (n < 0x100) out.push(m | 24, n);
    else if (n < 0x10000) out.push(m | 25, n >> 8, n & 255);
    else if (n < 0x100000000) out.push(m | 26, n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255);
    else throw new TypeError("cbor: integers past 2^32 are not used by these tokens");
  };
  const bytes = (major: number, b: Uint8Array): void => {
    head(major, b.length);
    for (const x of b) out.push(x);
  };
  const put = (v: Cbor): void => {
    if (v === null) out.push(0xf6);
    else if (v === true) out.push(0xf5);
    else if (v === false) out.push(0xf4);
    else if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) throw new TypeError("cbor: only integers");
      if (v >= 0) head(0, v);
      else head(1, -1 - v);
    } else if (typeof v === "string") bytes(3, utf8.encode(v));
    else if (v instanceof Uint8Array) bytes(2, v);
    else if (v instanceof Link) {
      head(6, 42);
      bytes(2, Uint8Array.of(0, ...v.cid));
    } else if (Array.isArray(v)) {
      head(4, v.length);
      for (const x of v as readonly Cbor[]) put(x);
    } else {
      const entries = Object.entries(v as { readonly [key: string]: Cbor })
        .map(([k, x]) => [utf8.encode(k), x] as const)
        .sort(([a], [b]) => a.length - b.length || compare(a, b));
      head(5, entries.length);
      for (const [k, x] of entries) {
        bytes(3, k);
        put(x);
      }
    }
  };
  put(value);
  return Uint8Array.from(out);
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}
