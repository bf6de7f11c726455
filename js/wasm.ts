/**
 * Lazy, once-only loading of the engine's two wasm builds (README "Two engine builds"): the local
 * engine (`wasm/`), loaded — glue and module — by a ledger that does not sync, and the full one
 * (`wasm-sync/`: attach), loaded only by a ledger that syncs. A page whose ledgers all sync never
 * downloads the local build. Both read and write the same stored format; a ledger switches from
 * the first to the second by reopening (shared.ts).
 */
import { DatabaseError } from "./errors.js";
import { idbPreopen } from "./wasm/idb.js";
import type { Ledger } from "./wasm-sync/ferroproof.js";

/** The smallest module using a SIMD instruction: `() -> v128 { i8x16.splat(0) }`. */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
  0x03, 0x02, 0x01, 0x00, // functions: one of type 0
  0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x00, 0xfd, 0x0f, 0x0b, // code: i32.const 0, i8x16.splat
]);

/** An engine build's ledger class (the local build's lacks the sync methods; they are never called on it). */
export type Engine = typeof Ledger;

let local: Promise<Engine> | undefined;
let full: Promise<Engine> | undefined;
let wasmUrl: string | URL | undefined;
let syncWasmUrl: string | URL | undefined;

/**
 * Overrides where the `.wasm` files are fetched from: `url` for the local engine
 * (`wasm/ferroproof_bg.wasm`), `syncUrl` for the full one (`wasm-sync/ferroproof_bg.wasm`). By
 * default they sit beside their modules, and bundlers that understand
 * `new URL(…, import.meta.url)` — Vite, esbuild, webpack 5 — ship them.
 */
export function setWasmUrl(url: string | URL, syncUrl?: string | URL): void {
  wasmUrl = url;
  syncWasmUrl = syncUrl;
}

/** Loads an engine build once (`sync`: the full one); every database method awaits this before its first call. */
export function loadEngine(sync: boolean): Promise<Engine> {
  if (typeof WebAssembly === "object" && !WebAssembly.validate(SIMD_PROBE)) {
    // The engine is built with WebAssembly SIMD: say so instead of failing to compile it.
    return Promise.reject(
      new DatabaseError("UNSUPPORTED", "this browser lacks WebAssembly SIMD (needs Chrome/Edge 91+, Firefox 89+, Safari 16.4+)"),
    );
  }
  // Each build's module downloads while its glue loads (both are fetched only now). The import
  // specifiers and URLs are literals, so that bundlers ship both files.
  if (sync) {
    full ??= load(
      import("./wasm-sync/ferroproof.js"),
      fetch(syncWasmUrl ?? new URL("./wasm-sync/ferroproof_bg.wasm", import.meta.url)),
    ).catch((e: unknown) => {
      full = undefined; // a failed download is tried again by the next call
      throw new DatabaseError("NETWORK", `sync engine download failed: ${e instanceof Error ? e.message : String(e)}`);
    });
    return full;
  }
  local ??= load(
    import("./wasm/ferroproof.js"),
    fetch(wasmUrl ?? new URL("./wasm/ferroproof_bg.wasm", import.meta.url)),
  ).catch((e: unknown) => {
    local = undefined;
    throw e;
  });
  return local;
}

/** An engine build's glue module. */
interface Glue {
  default(opts: { module_or_path: Promise<Response> }): Promise<unknown>;
  Ledger: unknown;
}

/** Instantiates a build from its glue and its module's download. */
async function load(glue: Promise<Glue>, module: Promise<Response>): Promise<Engine> {
  module.catch(() => undefined); // reported by the init that awaits it
  const m = await glue;
  await m.default({ module_or_path: module });
  return m.Ledger as Engine;
}

export type { Ledger };

/**
 * Opens ledger `name`'s IndexedDB database ahead of the engine (while its wasm downloads and
 * compiles); the engine's open takes that connection. Both builds share the IndexedDB module.
 */
export function preopen(name: string): void {
  // the database name is the engine's `DB_PREFIX` + name (src/store/idb.rs)
  if (typeof indexedDB === "object") idbPreopen(`ferroproof.${name}`);
}
