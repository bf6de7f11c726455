/**
 * The JS half of `query`: naming an index, running the map function over a batch of documents
 * (one call into the engine per batch, never per document), and encoding query options.
 */
import { decode, encodeValue } from "./encode.js";
import { DatabaseError } from "./errors.js";
import type { FileStore } from "./files.js";
import type { DocWithId, IndexKeyType, MapFn, QueryOpts } from "./types.js";

export interface IndexDef {
  readonly name: string;
  /** What the index is built from; a different source under the same name rebuilds it. */
  readonly src: string;
  readonly map: MapFn;
}

/** `(doc) => doc.a.b` is named `doc.a.b`; other functions are named by their whole source. */
function nameOf(src: string): string {
  const m = /^\s*(?:\(\s*([A-Za-z_$][\w$]*)\s*\)|([A-Za-z_$][\w$]*))\s*=>\s*([A-Za-z_$][\w$.]*)\s*$/.exec(src);
  return m ? m[3] : src;
}

/** The index for a field name or a map function. */
export function indexDef(field: unknown): IndexDef {
  if (typeof field === "string" && field !== "") {
    return {
      name: field,
      src: `field:${field}`,
      map: (doc) => {
        const v = (doc as Record<string, unknown>)[field];
        return v === null ? undefined : v;
      },
    };
  }
  if (typeof field === "function") {
    const src = String(field);
    return { name: nameOf(src), src, map: field as MapFn };
  }
  throw new DatabaseError("INVALID_ARG", "invalid argument: query takes a field name or a map function");
}

/** Runs the map function over `docs`; returns the engine's rows batch `[[id, [[key, value]...]]...]`. */
export function mapBatch(docs: DocWithId[], map: MapFn): string {
  const parts: string[] = [];
  for (const doc of docs) {
    const rows: string[] = [];
    let emitted = false;
    const emit = (key: IndexKeyType, value?: unknown) => {
      emitted = true;
      if (key === undefined) return;
      rows.push(`[${encodeEmitted(plainKey(key), doc._id, "key")},${value === undefined || Number.isNaN(value) ? "null" : encodeEmitted(value, doc._id, "value")}]`);
    };
    const ret = map(doc, emit);
    if (ret instanceof Promise) throw new DatabaseError("INVALID_ARG", "invalid argument: map functions must be synchronous");
    if (!emitted && ret !== undefined) rows.push(`[${encodeEmitted(plainKey(ret), doc._id, "key")},null]`);
    if (rows.length > 0) parts.push(`[${JSON.stringify(doc._id)},[${rows.join(",")}]]`);
  }
  return `[${parts.join(",")}]`;
}

/**
 * An emitted key as JSON stores it (docs/differences.md, "Keys"): NaN and ±Infinity, and inside
 * arrays `undefined`, become `null` instead of failing the query.
 */
function plainKey(k: unknown): unknown {
  if (typeof k === "number") return Number.isFinite(k) ? k : null;
  if (Array.isArray(k)) return k.map((x) => (x === undefined || typeof x === "function" || typeof x === "symbol" ? null : plainKey(x)));
  return k;
}

/** An emitted key or value as stored; one that cannot be stored rejects the query, naming its document. */
function encodeEmitted(v: unknown, id: string, what: string): string {
  try {
    return encodeValue(v);
  } catch (e) {
    throw new DatabaseError("INVALID_ARG", `invalid index ${what} emitted for document ${JSON.stringify(id)}: ${(e as Error).message}`);
  }
}

/**
 * Decodes the engine's query answer `{rows}`; with documents (the default), adds `docs`: the
 * rows' documents, the same objects.
 */
export function queryResult<R>(json: string, opts: Partial<QueryOpts> | undefined, files?: FileStore): R {
  const res = decode<{ rows: { doc?: DocWithId }[]; docs?: DocWithId[] }>(json, files);
  if (opts?.includeDocs !== false) {
    const docs: DocWithId[] = [];
    for (const r of res.rows) if (r.doc !== undefined) docs.push(r.doc);
    res.docs = docs;
  }
  return res as R;
}

/**
 * Encodes query options as the engine reads them (a present `key: null` means the key null). A
 * range's missing or `undefined` end is open: the low one is `null`, the lowest key; without a
 * high one the engine reads every key from the low one on.
 */
export function encodeQueryOpts(opts: Partial<QueryOpts>): string {
  const out: string[] = [];
  // Keys and range ends may be ±Infinity: the ends of the numbers, as in `range: [30, Infinity]`.
  const add = (k: string, v: unknown) => {
    try {
      out.push(`${JSON.stringify(k)}:${encodeValue(v, true)}`);
    } catch (e) {
      throw new DatabaseError("INVALID_ARG", `invalid argument: query option ${k}: ${(e as Error).message}`);
    }
  };
  if (opts.key !== undefined) add("key", opts.key);
  if (Array.isArray(opts.keys)) add("keys", opts.keys);
  const r: unknown = opts.range;
  if (r != null && !Array.isArray(r)) throw new DatabaseError("INVALID_ARG", "invalid argument: range must be [low, high]");
  if (r) add("range", r[1] === undefined ? [r[0] ?? null] : [r[0] ?? null, r[1]]);
  if (opts.prefix !== undefined) add("prefix", opts.prefix);
  const limit = limitOf(opts.limit);
  if (limit !== undefined && limit >= 0) add("limit", Math.min(Math.floor(limit), 2 ** 31));
  if (opts.descending === true) add("descending", true);
  if (opts.includeDocs === false) add("includeDocs", false);
  return `{${out.join(",")}}`;
}

/** A `limit` option as a number: a numeric string counts, as in Fireproof (`limit: params.get("n")`). */
export function limitOf(v: unknown): number | undefined {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && !Number.isNaN(n) ? n : undefined;
}
