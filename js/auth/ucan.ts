/**
 * UCAN 1.0 tokens as the server reads them (docs/auth.md §2–§3, server/src/ucan/): the envelope
 * `[signature, {"h": varsig, "ucan/<dlg|inv>@1.0.0": payload}]` in canonical DAG-CBOR, signed with
 * WebCrypto Ed25519 over the inner map, named by CIDv1 (dag-cbor, sha2-256) of the envelope bytes.
 * Byte-identical to what the Rust side makes for the same fields.
 */
import { toBase64Url } from "../connectors/connector.js";
import { type Cbor, encode, Link } from "./cbor.js";
import type { Signer } from "./did.js";

/** Ed25519 + SHA2-512 + DAG-CBOR varsig v1 header. */
const VARSIG = Uint8Array.of(0x34, 0x01, 0xed, 0x01, 0xed, 0x01, 0x13, 0x71);
const B32 = "abcdefghijklmnopqrstuvwxyz234567";

/** A signed token: its bytes and CID (`bafyrei…`). */
export interface Token {
  readonly bytes: Uint8Array;
  readonly cid: string;
}

export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

function random(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** Unix seconds now. */
export function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** `b` + base32 (RFC 4648, lower case, no padding): the CID's text form. */
export function cidText(cid: Uint8Array): string {
  let s = "b";
  let bits = 0;
  let acc = 0;
  for (const b of cid) {
    acc = (acc << 8) | b;
    bits += 8;
    for (; bits >= 5; bits -= 5) s += B32[(acc >> (bits - 5)) & 31];
  }
  return bits ? s + B32[(acc << (5 - bits)) & 31] : s;
}

function cidBytes(text: string): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let acc = 0;
  for (const c of text.slice(1)) {
    acc = ((acc << 5) | B32.indexOf(c)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 255);
    }
  }
  return Uint8Array.from(out);
}

async function seal(tag: "dlg" | "inv", payload: { readonly [key: string]: Cbor }, by: Signer): Promise<Token> {
  const inner = { h: VARSIG, [`ucan/${tag}@1.0.0`]: payload };
  const bytes = encode([await by.sign(encode(inner)), inner]);
  return { bytes, cid: cidText(Uint8Array.of(0x01, 0x71, 0x12, 0x20, ...(await sha256(bytes)))) };
}

/** A delegation by `by` to `aud` of `cmd` on `sub`, no policy, a fresh 16-byte nonce (unless given: tests). */
export function delegate(
  by: Signer,
  d: { readonly aud: string; readonly sub: string; readonly cmd: string; readonly exp: number; readonly meta?: { readonly [key: string]: Cbor }; readonly nonce?: Uint8Array },
): Promise<Token> {
  const payload: { [key: string]: Cbor } = { iss: by.did, aud: d.aud, sub: d.sub, cmd: d.cmd, pol: [], nonce: d.nonce ?? random(16), exp: d.exp };
  if (d.meta) payload.meta = d.meta;
  return seal("dlg", payload, by);
}

/** Lifetime of a request's invocation, seconds (the server accepts at most 360). */
const INVOCATION_TTL = 120;

/**
 * The `Authorization: Bearer` value for one request (docs/auth.md §7.2): an invocation by `by` of
 * `cmd` on `sub`, proven by `prf` (root first), bound to `method`, `path` and the body's hash.
 */
export async function invocation(
  by: Signer,
  at: { readonly sub: string; readonly cmd: string; readonly prf: readonly string[] },
  method: string,
  path: string,
  body: Uint8Array,
): Promise<string> {
  const args = { method, path, body: await sha256(body) };
  const payload = { iss: by.did, sub: at.sub, cmd: at.cmd, args, prf: at.prf.map((c) => new Link(cidBytes(c))), nonce: random(16), exp: now() + INVOCATION_TTL };
  return toBase64Url((await seal("inv", payload, by)).bytes);
}
