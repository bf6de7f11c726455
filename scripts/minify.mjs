// Minifies the package's JavaScript in place (oxc's minifier, shipped with rolldown/Vite), each
// module on its own so the package keeps its module layout and entry points. Each file gets a
// source map (with the unminified source inlined) next to it.
// Usage: node scripts/minify.mjs FILE.js...
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { minifySync } from "rolldown/experimental";

for (const file of process.argv.slice(2)) {
  const name = basename(file);
  const src = readFileSync(file, "utf8").replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n");
  const out = minifySync(name, src, { compress: true, mangle: true, sourcemap: true, module: true });
  if (out.errors.length > 0) {
    console.error(`minify ${file}:`, out.errors);
    process.exit(1);
  }
  writeFileSync(`${file}.map`, JSON.stringify(out.map));
  writeFileSync(file, `${out.code}\n//# sourceMappingURL=${name}.map\n`);
}
