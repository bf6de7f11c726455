// Builds the hook test page against the built package (pkg/) into target/react-test.
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const pkg = fileURLToPath(new URL("../../pkg", import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  plugins: [react()],
  resolve: { alias: [{ find: /^ferroproof(\/.*)?$/, replacement: `${pkg}$1` }] },
  build: { outDir: "../../target/react-test", emptyOutDir: true, target: "es2022", minify: false },
  logLevel: "warn",
});
