// Vite config of the demo: the package is imported from the built pkg/ exactly as users get it.
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const pkg = fileURLToPath(new URL("../pkg", import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  plugins: [react()],
  resolve: { alias: [{ find: /^ferroproof(\/.*)?$/, replacement: `${pkg}$1` }] },
  build: { outDir: "../target/www", emptyOutDir: true, target: "es2022" },
  server: { host: "127.0.0.1", fs: { allow: [".."] } },
  preview: { host: "127.0.0.1" },
});
