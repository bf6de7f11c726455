// Vite build of the bench pages (index.html, cold.html, live.html with React/JSX, sync.html) into
// target/bench-dist/, bundling @fireproof/core, dexie, dexie-react-hooks and pouchdb-browser.
// Our engine is imported as "ferroproof-pkg": env BENCH_PKG (a built package directory) or, by
// default, ../pkg (built by scripts/build.sh). Env BENCH_DIST=DIR writes the bundle there instead
// (bench/run.mjs serves the same BENCH_DIST), so two runs need not share target/bench-dist/.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const pkg = resolve(process.env.BENCH_PKG || here("../pkg"));
const outDir = resolve(here(".."), process.env.BENCH_DIST || "target/bench-dist");

export default defineConfig({
  root: here("."),
  base: "./",
  logLevel: "warn",
  plugins: [react()],
  resolve: {
    // pouchdb-browser imports Node's `events`, which is not installed; use a small shim.
    alias: { events: here("./shims/events.js"), "ferroproof-pkg": pkg },
    // BENCH_PKG may sit outside the repo: its react.js must share the bench's single React.
    dedupe: ["react", "react-dom"],
  },
  build: {
    outDir,
    emptyOutDir: true,
    target: "esnext",
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      input: { index: here("index.html"), cold: here("cold.html"), live: here("live.html"), sync: here("sync.html") },
      // @adviser/cement (Fireproof) imports node:fs on a Node-only path; the browser never takes it.
      onwarn(w, warn) {
        if (!/externalized for browser compatibility/.test(w.message)) warn(w);
      },
    },
  },
});
