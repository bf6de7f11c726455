/**
 * Lazy, once-only loading of the engine's two wasm builds (README "Two engine builds"): the local
 * engine every page loads (`wasm/`), and the full one (`wasm-sync/`: attach), loaded — glue and
 * module — only by a ledger that syncs. Both read and write the
 * same stored format; a ledger switches from the first to the second by reopening (shared.ts).
 */
import { DatabaseError } from "./errors.js";
import init, { Ledger as LocalLedger } from "./wasm/ferroproof.js";
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
  if (sync && !full) {
    // the module downloads while its glue loads (both are fetched only now)
    const module = fetch(syncWasmUrl ?? new URL("./wasm-sync/ferroproof_bg.wasm", import.meta.url));
    module.catch(() => undefined); // reported by the init that awaits it
    full = import("./wasm-sync/ferroproof.js")
      .then(async (m) => {
        await m.default({ module_or_path: module });
        return m.Ledger;
      })
      .catch((e: unknown) => {
        full = undefined; // a failed download is tried again by the next call
        throw new DatabaseError("NETWORK", `sync engine download failed: ${e instanceof Error ? e.message : String(e)}`);
      });
  }
  if (sync) return full as Promise<Engine>;
  local ??= init({ module_or_path: wasmUrl }) // (undefined: beside the glue)
    .then(() => LocalLedger as unknown as Engine)
    .catch((e: unknown) => {
      local = undefined;
      throw e;
    });
  return local;
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
