/**
 * The document wire format shared with the engine (see docs/format.md §2.1): JSON text where byte
 * strings are `{"/":{"bytes":"<base64>"}}` and every number that is not an integer below 2^63 is
 * sent as its IEEE-754 bits, `{"/":{"f64":"<16 hex digits>"}}` (exact, and the engine needs no
 * decimal-fraction parser). Encoding applies the value rules: `Date` → ISO string,
 * `undefined`/`NaN`/function fields dropped, `null` and `Uint8Array` kept; `Infinity`, `BigInt`,
 * cycles, `undefined`/`NaN` inside arrays and nesting over `MAX_DEPTH` are rejected with
 * `INVALID_DOC` naming the field. An object whose only key is `"/"` travels escaped, as
 * `{"/":{"map":<its value>}}`, both ways: a document's own `{"/":{"bytes":"…"}}` stays an object.
 */
import { DatabaseError } from "./errors.js";
import { type FileStore, reviveFiles } from "./files.js";

const BYTES_MARK = '{"/":{"bytes":"';
const MAP_MARK = '{"/":{"map":';

/** True for the keys of an object whose only key is `"/"` (it goes on the wire escaped). */
function slashOnly(keys: string[]): boolean {
  return keys.length === 1 && keys[0] === "/";
}

function invalid(path: string, why: string): DatabaseError {
  return new DatabaseError("INVALID_DOC", `invalid document: field ${path || "(root)"}: ${why}`);
}

function toBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, Array.from(b.subarray(i, i + 0x8000)));
  }
  return btoa(s);
}

export function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const F64 = new DataView(new ArrayBuffer(8));

/** True if the number goes on the wire as its bits (fractions, -0, magnitudes from 2^63 on). */
function asBits(v: number): boolean {
  return !Number.isInteger(v) || Object.is(v, -0) || Math.abs(v) >= 2 ** 63;
}

function f64Bits(v: number): { "/": { f64: string } } {
  F64.setFloat64(0, v);
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  return { "/": { f64: hex(F64.getUint32(0)) + hex(F64.getUint32(4)) } };
}

function isBytes(v: object): v is Uint8Array | ArrayBuffer {
  return v instanceof Uint8Array || v instanceof ArrayBuffer;
}

/** Nesting the engine parses (src/json.rs `MAX_DEPTH`); deeper values are refused here, before
 * the recursion below (or `JSON.stringify`'s) can overflow the stack. */
const MAX_DEPTH = 128;

/**
 * Checks a value; returns true if plain `JSON.stringify` is not enough (bytes, floats, NaN fields).
 * `bounds`: the value is a query key or range end, where ±Infinity is allowed (an open end).
 */
function scan(v: unknown, path: string, inArray: boolean, seen: Set<object>, bounds = false): boolean {
  switch (typeof v) {
    case "string":
    case "boolean":
      return false;
    case "number":
      if (Number.isFinite(v) || (bounds && !Number.isNaN(v))) return asBits(v);
      if (Number.isNaN(v) && !inArray) return true;
      throw invalid(path, `${v} is not supported by the IPLD Data Model`);
    case "undefined":
    case "function":
    case "symbol":
      if (inArray) throw invalid(path, `${typeof v} in an array is not supported by the IPLD Data Model`);
      return false;
    case "bigint":
      throw invalid(path, "bigint is not allowed");
    case "object": {
      if (v === null) return false;
      if (isBytes(v)) return true;
      if (v instanceof Date) {
        if (Number.isNaN(v.getTime())) throw invalid(path, "invalid Date");
        return false;
      }
      if (ArrayBuffer.isView(v)) throw invalid(path, "only Uint8Array byte arrays are supported");
      if (seen.has(v)) throw invalid(path, "circular reference");
      if (seen.size >= MAX_DEPTH) throw invalid(path, `nested more than ${MAX_DEPTH} levels deep`);
      seen.add(v);
      let special = false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) special = scan(v[i], `${path}[${i}]`, true, seen, bounds) || special;
      } else {
        const keys = Object.keys(v);
        if (slashOnly(keys)) special = true;
        for (const k of keys) {
          special = scan((v as Record<string, unknown>)[k], path ? `${path}.${k}` : k, false, seen, bounds) || special;
        }
      }
      seen.delete(v);
      return special;
    }
  }
  return false;
}

/**
 * `scan` without the field paths its errors name (building them costs more than the checks):
 * the same answer where `scan` accepts plain values, `undefined` wherever `scan` might throw or
 * needs its own rules (non-finite numbers, invalid dates, typed arrays, cycles, depth), for the
 * caller to run `scan`.
 */
function quick(v: unknown, inArray: boolean, depth: number): boolean | undefined {
  switch (typeof v) {
    case "string":
    case "boolean":
      return false;
    case "number":
      return Number.isFinite(v) ? asBits(v) : undefined;
    case "undefined":
    case "function":
    case "symbol":
      return inArray ? undefined : false;
    case "object": {
      if (v === null) return false;
      if (isBytes(v)) return true;
      if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : false;
      if (ArrayBuffer.isView(v) || depth >= MAX_DEPTH) return undefined;
      let special = false;
      let s: boolean | undefined;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          if ((s = quick(v[i], true, depth + 1)) === undefined) return s;
          special ||= s;
        }
      } else {
        const keys = Object.keys(v);
        special = slashOnly(keys);
        for (const k of keys) {
          if ((s = quick((v as Record<string, unknown>)[k], false, depth + 1)) === undefined) return s;
          special ||= s;
        }
      }
      return special;
    }
  }
  return undefined;
}

/** True for a field value that is not stored (`JSON.stringify` and the replacer drop it). */
function dropped(v: unknown): boolean {
  return v === undefined || typeof v === "function" || typeof v === "symbol" || Number.isNaN(v);
}

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === "number") {
    if (Number.isNaN(value)) return undefined;
    if (asBits(value)) return f64Bits(value);
  }
  if (typeof value === "object" && value !== null) {
    if (isBytes(value)) {
      const bytes = value instanceof Uint8Array ? value : new Uint8Array(value);
      return { "/": { bytes: toBase64(bytes) } };
    }
    if (!Array.isArray(value) && slashOnly(Object.keys(value))) {
      const inner = (value as Record<string, unknown>)["/"];
      // a field JSON drops (undefined, a function, NaN) leaves an empty object, not an escape
      return dropped(inner) ? {} : { "/": { map: inner } };
    }
  }
  return value;
}

/** Encodes a document body to wire JSON, validating it. */
export function encodeDoc(doc: unknown): string {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc) || isBytes(doc)) {
    throw invalid("", "a document must be a plain object");
  }
  return encodeValue(doc);
}

/** Encodes any value (document field, query key) to wire JSON; `bounds` allows ±Infinity. */
export function encodeValue(v: unknown, bounds = false): string {
  const special = quick(v, false, 0) ?? scan(v, "", false, new Set(), bounds);
  try {
    const json = special ? JSON.stringify(v, replacer) : JSON.stringify(v);
    if (json === undefined) throw invalid("", "value cannot be stored");
    return json;
  } catch (e) {
    if (e instanceof DatabaseError) throw e;
    throw invalid("", e instanceof Error ? e.message : String(e));
  }
}

function reviver(key: string, value: unknown): unknown {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const slash = (value as Record<string, unknown>)["/"];
    if (typeof slash === "object" && slash !== null && slashOnly(Object.keys(value))) {
      const [kind, more] = Object.keys(slash);
      const inner = (slash as Record<string, unknown>)[kind];
      if (more === undefined && kind === "bytes" && typeof inner === "string") return fromBase64(inner);
      if (more === undefined && kind === "map") return { "/": inner };
    }
  }
  return reviveFiles(key, value, fileStore);
}

/** The ledger whose documents `decode` is parsing (for their files' `file()`). */
let fileStore: FileStore | undefined;

/**
 * Parses wire JSON from the engine, turning byte markers back into `Uint8Array`s and file entries
 * into file metadata whose `file()` reads through `files`.
 */
export function decode<T>(json: string, files?: FileStore): T {
  // `iles":` is in both `"_files":` and `"_publicFiles":` (one scan; a false hit only runs the reviver)
  if (!json.includes(BYTES_MARK) && !json.includes(MAP_MARK) && !json.includes('iles":')) return JSON.parse(json) as T;
  fileStore = files;
  try {
    return JSON.parse(json, reviver) as T;
  } finally {
    fileStore = undefined;
  }
}
