// Short import and export names for a wasm-bindgen build (scripts/build.sh).
//
// wasm-bindgen names each import after the function and a 16-hex-digit hash
// (`__wbg_then_656f253a5dd7d8ea`), under the module "./ferroproof_bg.js", and exports two closure
// shims by their whole Rust paths (~250 characters each). Those names are in the wasm and again in
// its glue, and their hashes do not compress. binaryen's `--minify-imports-and-exports-and-modules`
// renames them in the wasm and prints the mapping; this script applies that mapping to the glue
// (the import object's module and keys, every `wasm.<export>`) and to its .d.ts (`InitOutput`).
// Invariant: the glue supplies exactly the imports the minified wasm asks for and reads only exports
// it has (checked here against the compiled module); the script fails rather than write a glue
// that does not match.
//
// Usage: node scripts/minify-wasm-names.mjs <dir>   (dir holds ferroproof_bg.wasm, ferroproof.js,
// ferroproof.d.ts, straight from wasm-bindgen; build.sh runs `wasm-opt -Oz` afterwards, which
// keeps these names and optimises a little better with the short ones: −0.2 KB gz)
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
const wasmPath = join(dir, "ferroproof_bg.wasm");
const gluePath = join(dir, "ferroproof.js");
const dtsPath = join(dir, "ferroproof.d.ts");

const out = execFileSync("wasm-opt", [wasmPath, "--minify-imports-and-exports-and-modules", "-o", wasmPath], {
  encoding: "utf8",
});
const map = JSON.parse(out.slice(out.indexOf("{")));
const mod = new WebAssembly.Module(readFileSync(wasmPath));
const modules = [...new Set(WebAssembly.Module.imports(mod).map((i) => i.module))];
const oldModules = [...new Set(map.imports.map(([m]) => m))];
if (modules.length !== 1 || oldModules.length !== 1) throw new Error(`expected one import module, got ${oldModules} → ${modules}`);

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** Replaces every whole-token `old` (one pass over all, so a new name is never renamed again). */
function rename(text, pairs, before = "", after = "(?![\\w$])") {
  if (pairs.length === 0) return text;
  const to = new Map(pairs);
  const re = new RegExp(`${before}(${pairs.map(([o]) => esc(o)).sort((a, b) => b.length - a.length).join("|")})${after}`, "g");
  return text.replace(re, (m, name) => m.slice(0, m.length - name.length) + to.get(name));
}

const imports = map.imports.map(([, o, n]) => [o, n]);
const exports = map.exports;
let glue = readFileSync(gluePath, "utf8");
const moduleKey = JSON.stringify(oldModules[0]);
if (!glue.includes(`${moduleKey}:`)) throw new Error(`the glue has no import object for ${moduleKey}`);
glue = glue.replaceAll(`${moduleKey}:`, `${JSON.stringify(modules[0])}:`);
// import object keys (`name: function(…)`), then the exports the glue reads (`wasm.name`)
glue = rename(glue, imports, "(?<![\\w$.])", "(?=\\s*:)");
glue = rename(glue, exports, "\\bwasm\\.");

// the glue must define every import and read only existing exports
const keys = new Set([...glue.matchAll(/(?<![\w$.])([\w$]+)\s*:\s*function\b/g)].map((m) => m[1]));
const missing = WebAssembly.Module.imports(mod).filter((i) => !keys.has(i.name));
if (missing.length) throw new Error(`the glue lacks imports ${missing.map((i) => i.name).join(", ")}`);
const have = new Set(WebAssembly.Module.exports(mod).map((e) => e.name));
const unknown = [...glue.matchAll(/\bwasm\.([\w$]+)/g)].map((m) => m[1]).filter((n) => !have.has(n));
if (unknown.length) throw new Error(`the glue reads exports the wasm lacks: ${[...new Set(unknown)].join(", ")}`);
writeFileSync(gluePath, glue);

// InitOutput lists the instance's exports
const dts = rename(readFileSync(dtsPath, "utf8"), exports, "\\breadonly ", "(?=:)");
writeFileSync(dtsPath, dts);
const before = (s) => s.length;
console.log(
  `[build] ${dir}: ${imports.length} imports and ${exports.length} exports renamed (${before(
    imports.map(([o]) => o).join(""),
  )} → ${before(imports.map(([, n]) => n).join(""))} characters of import names)`,
);
