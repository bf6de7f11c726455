/** Lazy, once-only loading of the engine's wasm module. */
import { DatabaseError } from "./errors.js";
import init, { Ledger } from "./wasm/ferroproof.js";

/** The smallest module using a SIMD instruction: `() -> v128 { i8x16.splat(0) }`. */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
  0x03, 0x02, 0x01, 0x00, // functions: one of type 0
  0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x00, 0xfd, 0x0f, 0x0b, // code: i32.const 0, i8x16.splat
]);

let loading: Promise<unknown> | undefined;
let wasmUrl: string | URL | undefined;

/**
 * Overrides where the `.wasm` file is fetched from (by default it sits beside this module and
 * bundlers that understand `new URL(…, import.meta.url)` — Vite, esbuild, webpack 5 — ship it).
 */
export function setWasmUrl(url: string | URL): void {
  wasmUrl = url;
}

/** Loads the engine once; every database method awaits this before its first call. */
export function loadEngine(): Promise<unknown> {
  if (!loading && typeof WebAssembly === "object" && !WebAssembly.validate(SIMD_PROBE)) {
    // The engine is built with WebAssembly SIMD: say so instead of failing to compile it.
    loading = Promise.reject(
      new DatabaseError("UNSUPPORTED", "this browser lacks WebAssembly SIMD (needs Chrome/Edge 91+, Firefox 89+, Safari 16.4+)"),
    );
  }
  loading ??= wasmUrl === undefined ? init() : init({ module_or_path: wasmUrl });
  return loading;
}

export { Ledger };
