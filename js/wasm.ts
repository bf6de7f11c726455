/** Lazy, once-only loading of the engine's wasm module. */
import init, { Ledger } from "./wasm/ferroproof.js";

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
  loading ??= wasmUrl === undefined ? init() : init({ module_or_path: wasmUrl });
  return loading;
}

export { Ledger };
