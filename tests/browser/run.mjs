// Browser test runner: serves the repository, runs every tests/browser/*.test.mjs in headless
// Chromium (a fresh browser context per test, so storage starts empty) and prints
// "N passed, N failed". Usage: node tests/browser/run.mjs [filter]
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "../../scripts/serve.mjs";
import { launch } from "./chromium.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const filter = process.argv[2] ?? "";

const { server, url } = await serve(root);
const browser = await launch();
let passed = 0;
let failed = 0;
const files = (await readdir(here)).filter((f) => f.endsWith(".test.mjs")).sort();
for (const f of files) {
  const mod = await import(join(here, f));
  for (const [name, fn] of Object.entries(mod.tests)) {
    const full = `${f.replace(".test.mjs", "")} › ${name}`;
    if (filter && !full.includes(filter)) continue;
    const context = await browser.newContext();
    const errors = [];
    context.on("page", (p) => p.on("pageerror", (e) => errors.push(e)));
    const t0 = Date.now();
    try {
      await Promise.race([
        fn({ context, url, harness: `${url}/tests/browser/harness.html` }),
        new Promise((_, rej) => setTimeout(() => rej(new Error("timed out after 120 s")), 120_000)),
      ]);
      if (errors.length) throw errors[0];
      passed++;
      console.log(`  ✓ ${full} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed++;
      console.log(`  ✗ ${full}\n    ${(e && e.stack) || e}`);
    } finally {
      await context.close();
    }
  }
}
await browser.close();
server.close();
console.log(`\nbrowser tests: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
