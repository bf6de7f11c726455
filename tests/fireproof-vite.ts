// The Vite build of a test page that bundles @fireproof/core 0.24.19 for the browser (the
// migration page, tests/migrate/, and the compatibility page, tests/compat/): `configUrl` is the
// page's vite.config.ts (`import.meta.url`), `out` its folder under target/.
import { fileURLToPath } from "node:url";
import { defineConfig, type UserConfig } from "vite";

export function fireproofPage(configUrl: string, out: string): UserConfig {
  return defineConfig({
    root: fileURLToPath(new URL(".", configUrl)),
    base: "./",
    build: {
      outDir: `../../target/${out}`,
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
}
