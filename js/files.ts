/**
 * Document files (`_files`, `_publicFiles`), as in Fireproof: put a `File`/`Blob` under a name and
 * get back `{type, size, lastModified, file()}`. The bytes travel and are stored with the document
 * (its block is encrypted like any other); re-putting a document read back keeps its files.
 */

const FILE_FIELDS = ["_files", "_publicFiles"] as const;

/** What `get` returns for a stored file. */
export interface DocFileMeta {
  readonly type: string;
  readonly size: number;
  readonly lastModified?: number;
  file(): Promise<File>;
}

interface StoredFile {
  type: string;
  size: number;
  lastModified?: number;
  data: Uint8Array;
}

function fileEntries(doc: object): [string, Record<string, unknown>][] {
  const out: [string, Record<string, unknown>][] = [];
  for (const f of FILE_FIELDS) {
    const v = (doc as Record<string, unknown>)[f];
    if (typeof v === "object" && v !== null) out.push([f, v as Record<string, unknown>]);
  }
  return out;
}

/** True if the document has files that must be read before it can be encoded. */
export function hasFiles(doc: object): boolean {
  return fileEntries(doc).length > 0;
}

async function toStored(v: unknown): Promise<unknown> {
  if (typeof Blob !== "undefined" && v instanceof Blob) {
    const meta: StoredFile = { type: v.type, size: v.size, data: new Uint8Array(await v.arrayBuffer()) };
    if (typeof File !== "undefined" && v instanceof File) meta.lastModified = v.lastModified;
    return meta;
  }
  if (typeof v === "object" && v !== null && typeof (v as { file?: unknown }).file === "function") {
    return toStored(await (v as DocFileMeta).file()); // a file read back earlier, put again
  }
  return v;
}

/** A copy of `doc` whose files are replaced by their stored form (bytes included). */
export async function withStoredFiles<T extends object>(doc: T): Promise<T> {
  const out: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
  for (const [field, files] of fileEntries(doc)) {
    const stored: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(files)) stored[name] = await toStored(v);
    out[field] = stored;
  }
  return out as T;
}

/** JSON.parse reviver step: stored files under `_files`/`_publicFiles` become file metadata. */
export function reviveFiles(key: string, value: unknown): unknown {
  if ((key !== "_files" && key !== "_publicFiles") || typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    const s = v as Partial<StoredFile> | null;
    if (s && s.data instanceof Uint8Array) {
      const data = s.data;
      const meta: DocFileMeta = {
        type: s.type ?? "",
        size: s.size ?? data.length,
        ...(s.lastModified === undefined ? {} : { lastModified: s.lastModified }),
        file: async () => new File([data as Uint8Array<ArrayBuffer>], name, { type: s.type ?? "", lastModified: s.lastModified }),
      };
      out[name] = meta;
    } else {
      out[name] = v;
    }
  }
  return out;
}
