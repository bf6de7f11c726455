/**
 * `ImgFile`: renders an image stored in a document's `_files` (or a `File` not stored yet), as
 * `use-fireproof`'s component does. It reads the file, shows it through an object URL once read
 * (nothing before), and revokes the URL when the file changes or the component unmounts. Files
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

export function ImgFile({ file, meta, ...imgProps }: ImgFileProps): ReactElement | null {
  const source = file ?? meta;
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    if (!source || !/image/.test(source.type)) {
      setSrc(null);
      return;
    }
    let url: string | null = null;
    let live = true;
    toFile(source)
      .then((blob) => {
        if (!live || !blob) return;
        url = URL.createObjectURL(blob);
        setSrc(url);
      })
      .catch((e: unknown) => console.error("ImgFile: the file could not be read", e));
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [source]);
  return src ? createElement("img", { ...imgProps, src }) : null;
}

export default ImgFile;
