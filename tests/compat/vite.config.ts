// Builds the compatibility page (@fireproof/core 0.24.19 bundled for the browser) into
// target/compat-test; tests/browser/compat.test.mjs drives it. ferroproof is not bundled: the page
// imports the built package (/pkg/index.js) at run time, so a rebuilt package needs no new bundle.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  build: {
    outDir: "../../target/compat-test",
    emptyOutDir: true,
    target: "es2022",
    minify: false,
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      // @adviser/cement (Fireproof) imports node:fs on a Node-only path; the browser never takes it.
      onwarn(w, warn) {
        if (!/externalized for browser compatibility/.test(w.message)) warn(w);
      },
    },
  },
  logLevel: "warn",
});
