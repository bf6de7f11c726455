/**
 * Principals as `did:key` (docs/auth.md §1): `did:key:z` + base58btc(0xed 0x01 ‖ Ed25519 public
 * key), and a `Signer` over a WebCrypto Ed25519 key.
 */

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** Base58btc (Bitcoin alphabet). */
export function base58(bytes: Uint8Array): string {
  const digits: number[] = [];
  for (const b of bytes) {
    let carry = b;
    for (let i = 0; i < digits.length; i++) {
      carry += digits[i] << 8;
      digits[i] = carry % 58;
      carry = (carry / 58) | 0;
    }
    for (; carry; carry = (carry / 58) | 0) digits.push(carry % 58);
  }
  let s = "";
  for (let i = 0; i < bytes.length && bytes[i] === 0; i++) s += "1";
  for (let i = digits.length - 1; i >= 0; i--) s += B58[digits[i]];
  return s;
}

/** The `did:key` of a 32-byte Ed25519 public key. */
export function didOf(publicKey: Uint8Array): string {
  return "did:key:z" + base58(Uint8Array.of(0xed, 0x01, ...publicKey));
}

/** A principal that can sign: its DID and Ed25519 signatures by its key. */
export interface Signer {
  readonly did: string;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** A `Signer` over a WebCrypto Ed25519 private key and its raw public key. */
export function signer(key: CryptoKey, publicKey: Uint8Array): Signer {
  return {
    did: didOf(publicKey),
    sign: async (data) => new Uint8Array(await crypto.subtle.sign("Ed25519", key, data as Uint8Array<ArrayBuffer>)),
  };
}

/** A fresh Ed25519 key pair; only `extractable` ones can leave WebCrypto (one-time invite keys). */
export async function newKey(extractable = false): Promise<{ pair: CryptoKeyPair; signer: Signer }> {
  const pair = (await crypto.subtle.generateKey("Ed25519", extractable, ["sign", "verify"])) as CryptoKeyPair;
  const pub = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { pair, signer: signer(pair.privateKey, pub) };
}

/** PKCS#8 header of an Ed25519 private key: the 32-byte seed follows it. */
const PKCS8_ED25519 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/** The 32-byte seed (RFC 8032 private key) of an extractable key. */
export async function exportSeed(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey("pkcs8", key)).slice(-32);
}

/** A `Signer` from a 32-byte seed (imported as PKCS#8; the public key comes from its JWK). */
export async function importSeed(seed: Uint8Array): Promise<Signer> {
  const key = await crypto.subtle.importKey("pkcs8", Uint8Array.from([...PKCS8_ED25519, ...seed]), "Ed25519", true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const x = atob((jwk.x ?? "").replace(/-/g, "+").replace(/_/g, "/"));
  return signer(key, Uint8Array.from(x, (c) => c.charCodeAt(0)));
}
