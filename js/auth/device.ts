/**
 * This browser profile's device key (docs/auth.md "Client"): a non-extractable WebCrypto Ed25519
 * key, created on first need and kept as a `CryptoKey` in its own IndexedDB database
 * `ferroproof-device` (so destroying a ledger keeps the identity). Created once per profile even
 * with several tabs: the get-or-create runs under the Web Lock `ferroproof-device`, and the record
 * is written with `add`, so a tab without Web Locks that loses a race reads the winner's key.
 */
import { newKey, type Signer, signer } from "./did.js";

const DB = "ferroproof-device";
const STORE = "keys";
const ID = "device";

interface Stored {
  readonly key: CryptoKey;
  readonly pub: Uint8Array;
}

let current: Promise<Signer> | undefined;

/** This device's signer (its DID is `device().did`). */
export function device(): Promise<Signer> {
  current ??= load().catch((e: unknown) => {
    current = undefined;
    throw e;
  });
  return current;
}

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function getOrCreate(): Promise<Stored> {
  const open = indexedDB.open(DB, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  const db = await req(open);
  const read = () => req(db.transaction(STORE).objectStore(STORE).get(ID)) as Promise<Stored | undefined>;
  try {
    const found = await read();
    if (found) return found;
    const { pair } = await newKey(false);
    const made: Stored = { key: pair.privateKey, pub: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)) };
    try {
      await req(db.transaction(STORE, "readwrite").objectStore(STORE).add(made, ID));
      return made;
    } catch {
      const won = await read(); // another tab created it first
      if (!won) throw new Error("device key: cannot store the key");
      return won;
    }
  } finally {
    db.close();
  }
}

async function load(): Promise<Signer> {
  const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
  const s = locks ? await locks.request(DB, getOrCreate) : await getOrCreate();
  return signer(s.key, s.pub);
}
