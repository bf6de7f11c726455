/**
 * Document files (`_files`, `_publicFiles`), as in Fireproof: put a `File`/`Blob` under a name and
 * get back `{car, cid, name, size, type, lastModified, file()}`. The bytes are not in the document:
 * the engine stores them as 1 MiB chunks in their own encrypted CARs (docs/format.md §16), staged
 * before the document commits; the document holds the metadata. Re-putting a document read back
 * keeps its files without copying bytes.
 */
import { DatabaseError } from "./errors.js";

const FILE_FIELDS = ["_files", "_publicFiles"] as const;
/** Bytes per chunk (one file CAR each): `FILE_CHUNK_BYTES` in the engine. */
const CHUNK = 1 << 20;

/** What `get` returns for a stored file. */
export interface DocFileMeta {
  readonly type: string;
  readonly size: number;
  /** CID of the whole content (raw, sha2-256). */
  readonly cid?: string;
  /** Name of the first CAR holding the bytes. */
  readonly car?: string;
  /** The `File`'s name (the entry's key for a `Blob`). */
  readonly name?: string;
  readonly lastModified?: number;
  file(): Promise<File>;
}

/** A file's metadata as stored in its document (docs/format.md §16). */
export interface StoredFile {
  cid: string;
  car: string;
  cars: string[];
  key: string;
  name: string;
  size: number;
  type: string;
  lastModified?: number;
}

/** Where a page's files are written and read: the shared ledger. */
export interface FileStore {
  /** Streams a blob into staged file CARs; resolves to its metadata. */
  stageFile(blob: Blob, name: string): Promise<StoredFile>;
  /** One chunk's bytes (read locally, or fetched from an attached remote). */
  readChunk(car: string, key: string): Promise<Uint8Array>;
}

/** Metadata objects made by this module → what their document stores and the ledger holding the bytes (never enumerable on them). */
const stored = new WeakMap<object, { readonly s: StoredFile; readonly files: FileStore | undefined }>();

function fileEntries(doc: object): [string, Record<string, unknown>][] {
  const out: [string, Record<string, unknown>][] = [];
  for (const f of FILE_FIELDS) {
    const v = (doc as Record<string, unknown>)[f];
    if (typeof v === "object" && v !== null) out.push([f, v as Record<string, unknown>]);
  }
  return out;
}

/** True if the document has files that must be stored before it can be encoded. */
export function hasFiles(doc: object): boolean {
  return fileEntries(doc).length > 0;
}

/** Writes `blob` chunk by chunk through `write` (one chunk in memory at a time); resolves to what the last write returns. */
export async function writeChunks(blob: Blob, write: (chunk: Uint8Array, last: boolean) => Promise<string | undefined>): Promise<string> {
  for (let off = 0; ; off += CHUNK) {
    const last = off + CHUNK >= blob.size;
    const r = await write(new Uint8Array(await blob.slice(off, off + CHUNK).arrayBuffer()), last);
    if (last) return r ?? "";
  }
}

/**
 * A copy of `doc` whose files are replaced by their stored metadata, and the file CARs staged
 * for it (the commit names them). Entries read back earlier keep their metadata (no copy).
 */
export async function withStoredFiles<T extends object>(doc: T, files: FileStore): Promise<{ doc: T; cars: string[] }> {
  const out: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
  const cars: string[] = [];
  for (const [field, entries] of fileEntries(doc)) {
    const next: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(entries)) {
      // read back from this ledger: the same metadata, no byte copied (from another ledger: copied below)
      const known = typeof v === "object" && v !== null ? stored.get(v) : undefined;
      let s = known?.files === files ? known.s : undefined;
      if (!s && typeof Blob !== "undefined" && v instanceof Blob) {
        s = await files.stageFile(v, typeof File !== "undefined" && v instanceof File && v.name ? v.name : name);
        cars.push(...s.cars);
      } else if (!s && typeof v === "object" && v !== null && typeof (v as DocFileMeta).file === "function") {
        // a metadata object from elsewhere (an older format, another ledger): its bytes, stored here
        s = await files.stageFile(await (v as DocFileMeta).file(), name);
        cars.push(...s.cars);
      }
      next[name] = s ?? v;
    }
    out[field] = next;
  }
  return { doc: out as T, cars };
}

function isStored(v: Record<string, unknown>): boolean {
  return typeof v.car === "string" && typeof v.key === "string" && Array.isArray(v.cars) && typeof v.size === "number";
}

function metaOf(s: StoredFile, files: FileStore | undefined): DocFileMeta {
  // keys in dag-cbor order, as Fireproof's metadata comes back (`file` last)
  const meta: DocFileMeta = {
    car: s.car,
    cid: s.cid,
    name: s.name,
    size: s.size,
    type: s.type,
    ...(s.lastModified === undefined ? {} : { lastModified: s.lastModified }),
    file: async () => {
      if (!files) throw new DatabaseError("CLOSED", `file ${s.name}: its ledger is not open here`);
      const parts: Blob[] = [];
      for (const car of s.cars) parts.push(new Blob([(await files.readChunk(car, s.key)) as Uint8Array<ArrayBuffer>]));
      return new File(parts, s.name, { type: s.type, lastModified: s.lastModified });
    },
  };
  stored.set(meta, { s, files });
  return meta;
}

/** Older documents whose entries hold the bytes: `{type, size, lastModified?, data}`. */
function inlineMeta(name: string, s: { type?: string; size?: number; lastModified?: number; data: Uint8Array }): DocFileMeta {
  const data = s.data;
  return {
    size: s.size ?? data.length,
    type: s.type ?? "",
    ...(s.lastModified === undefined ? {} : { lastModified: s.lastModified }),
    file: async () => new File([data as Uint8Array<ArrayBuffer>], name, { type: s.type ?? "", lastModified: s.lastModified }),
  };
}

/** JSON.parse reviver step: stored files under `_files`/`_publicFiles` become file metadata read through `files`. */
export function reviveFiles(key: string, value: unknown, files: FileStore | undefined): unknown {
  if ((key !== "_files" && key !== "_publicFiles") || typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    const s = typeof v === "object" && v !== null ? (v as Record<string, unknown>) : null;
    if (s && isStored(s)) out[name] = metaOf(s as unknown as StoredFile, files);
    else if (s && s.data instanceof Uint8Array) out[name] = inlineMeta(name, s as unknown as { data: Uint8Array });
    else out[name] = v;
  }
  return out;
}
