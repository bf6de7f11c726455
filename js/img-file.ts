/**
 * `ImgFile`: renders an image stored in a document's `_files` (or a `File` not stored yet), as
 * `use-fireproof`'s component does. It reads the file, shows it through an object URL once read
 * (nothing before), and revokes the URL when the file changes or the component unmounts. A stored
 * file is known by its content CID: the components showing it share one read and one URL (revoked
 * when the last one lets go), and a document update that keeps the file keeps the image. Files
 * whose type is not an image render nothing.
 */
import { createElement, type ImgHTMLAttributes, type ReactElement, useEffect, useState } from "react";
import type { DocFileMeta } from "./files.js";

export type ImgFileSource = File | DocFileMeta;

export interface ImgFileProps extends Omit<ImgHTMLAttributes<HTMLImageElement>, "src"> {
  /** The file to show: `doc._files.name` or a `File`. */
  readonly file?: ImgFileSource;
  /** Same as `file` (the older prop name). */
  readonly meta?: ImgFileSource;
}

async function toFile(source: ImgFileSource): Promise<File | Blob | null> {
  if (typeof Blob !== "undefined" && source instanceof Blob) return source;
  if (typeof (source as DocFileMeta).file === "function") return (source as DocFileMeta).file();
  return null;
}

interface SharedUrl {
  refs: number;
  readonly url: Promise<string | null>;
}

/** Object URLs of stored files shown now, by content CID and type. */
const shown = new Map<string, SharedUrl>();

/** The URLs made so far, by their promise: revoked at once on unmount, not a microtask later. */
const made = new WeakMap<Promise<string | null>, string | null>();

function urlOf(source: ImgFileSource): Promise<string | null> {
  const url = toFile(source).then((b) => (b ? URL.createObjectURL(b) : null));
  url.then((u) => made.set(url, u), () => undefined);
  return url;
}

function revoke(url: Promise<string | null>): void {
  if (made.has(url)) {
    const u = made.get(url);
    if (u) URL.revokeObjectURL(u);
  } else void url.then((u) => u && URL.revokeObjectURL(u), () => undefined);
}

/** An object URL for `source` (shared by CID), and the function that lets go of it. */
function acquire(source: ImgFileSource, key: string | null): [Promise<string | null>, () => void] {
  if (key === null) {
    const url = urlOf(source);
    return [url, () => revoke(url)];
  }
  let s = shown.get(key);
  if (!s) {
    const url = urlOf(source);
    const fresh: SharedUrl = { refs: 0, url };
    url.catch(() => shown.get(key) === fresh && shown.delete(key)); // a later mount tries again
    shown.set(key, (s = fresh));
  }
  const held = s;
  held.refs++;
  return [
    held.url,
    () => {
      if (--held.refs > 0) return;
      if (shown.get(key) === held) shown.delete(key);
      revoke(held.url);
    },
  ];
}

export function ImgFile({ file, meta, ...imgProps }: ImgFileProps): ReactElement | null {
  const source = file ?? meta;
  const [src, setSrc] = useState<string | null>(null);
  const image = !!source && /image/.test(source.type);
  const cid = source && !(typeof Blob !== "undefined" && source instanceof Blob) ? (source as DocFileMeta).cid : undefined;
  // A stored file is the same image as long as its content is: re-rendered documents keep it.
  // (a CID string here; a CID object in Fireproof's metadata, whose String() is the CID)
  const text = cid === undefined || cid === null ? "" : String(cid);
  const key = text && text !== "[object Object]" ? `${text} ${source?.type ?? ""}` : null;
  useEffect(() => {
    if (!source || !image) {
      setSrc(null);
      return;
    }
    let live = true;
    const [url, release] = acquire(source, key);
    url
      .then((u) => live && setSrc(u))
      .catch((e: unknown) => console.error("ImgFile: the file could not be read", e));
    return () => {
      live = false;
      release();
    };
    // keyed by content when it is known: a new metadata object for the same file changes nothing
  }, [key ?? source, image]);
  return src ? createElement("img", { ...imgProps, src }) : null;
}

export default ImgFile;
