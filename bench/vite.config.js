// Vite build of the bench pages (index.html + cold.html) into target/bench-dist/, bundling
// @fireproof/core, dexie and pouchdb-browser; our engine comes from ../pkg (built by build.sh).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here("."),
  base: "./",
  logLevel: "warn",
  resolve: {
    // pouchdb-browser imports Node's `events`, which is not installed; use a small shim.
    alias: { events: here("./shims/events.js") },
  },
  build: {
    outDir: here("../target/bench-dist"),
    emptyOutDir: true,
    target: "esnext",
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      input: { index: here("index.html"), cold: here("cold.html") },
      // @adviser/cement (Fireproof) imports node:fs on a Node-only path; the browser never takes it.
      onwarn(w, warn) {
        if (!/externalized for browser compatibility/.test(w.message)) warn(w);
      },
    },
  },
});
