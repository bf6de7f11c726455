/** Time-ordered ids in the UUIDv7 layout: 48-bit millisecond time, then random bits. */

let lastMs = 0;
let seq = 0;

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** A new id; ids made later in this page sort after earlier ones, even within one millisecond. */
export function newId(): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    seq++;
    if (seq > 0xfff) {
      lastMs++;
      seq = 0;
    }
    ms = lastMs;
  } else {
    lastMs = ms;
    seq = 0;
  }
  const r = new Uint8Array(10);
  crypto.getRandomValues(r);
  // 12 bits of in-millisecond sequence keep same-millisecond ids ordered
  const t = ms.toString(16).padStart(12, "0");
  const s = (seq & 0xfff).toString(16).padStart(3, "0");
  r[0] = (r[0] & 0x3f) | 0x80; // RFC 4122 variant
  const rh = hex(r);
  return `${t.slice(0, 8)}-${t.slice(8)}-7${s}-${rh.slice(0, 4)}-${rh.slice(4, 16)}`;
}
