// Drives the packaging app (built in target/packaging-app/dist) in headless Chromium: add items,
// reload and see them, and two pages seeing each other's items live; optionally the same app on
// the Vite dev server (argv[3]).
import assert from "node:assert/strict";
import { serve } from "../../scripts/serve.mjs";
import { launch } from "../browser/chromium.mjs";

const { server, url } = await serve(process.argv[2]);
const browser = await launch();
const context = await browser.newContext();
let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`  ✓ ${name}`);
  } catch (e) {
    failed++;
    console.log(`  ✗ ${name}\n    ${e?.stack ?? e}`);
  }
}

const open = async () => {
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log("page error:", e));
  await page.goto(`${url}/`);
  await page.waitForSelector('main[data-hydrated="true"]', { state: "attached", timeout: 20000 });
  return page;
};
const add = async (page, text) => {
  await page.fill("#text", text);
  await page.click('button[type="submit"]');
  await page.waitForSelector(`li:has-text("${text}")`);
};

await check("items survive a reload", async () => {
  const page = await open();
  await add(page, "first");
  await add(page, "second");
  await page.reload();
  await page.waitForSelector('main[data-hydrated="true"] li', { timeout: 20000 });
  assert.deepEqual(await page.locator("li").allTextContents(), ["first", "second"]);
});

await check("two pages see each other's items live", async () => {
  const a = await open();
  const b = await open();
  await add(a, "from a");
  await b.waitForSelector('li:has-text("from a")', { timeout: 5000 });
  await add(b, "from b");
  await a.waitForSelector('li:has-text("from b")', { timeout: 5000 });
});

/** Attaches a ledger to an in-memory connector: the full engine build, its glue and the sync module load. */
const syncs = async (page) => {
  const r = await page.evaluate(async () => {
    const { fireproof, toConnector } = window.direct;
    const mem = new Map();
    const conn = {
      put: async (k, b) => void (mem.has(k) || mem.set(k, b)),
      get: async (k) => mem.get(k) ?? null,
      list: async (p) => [...mem.keys()].filter((k) => k.startsWith(p)),
      delete: async (k) => void mem.delete(k),
    };
    const db = fireproof(`synced-${Math.random().toString(36).slice(2)}`);
    await db.put({ _id: "a", n: 1 });
    const a = await db.attach(toConnector(conn));
    await a.sync();
    return { stored: [...mem.keys()].some((k) => k.startsWith("cars/")), pendingUp: a.state().pendingUp, lastError: a.state().lastError?.message ?? null };
  });
  assert.deepEqual(r, { stored: true, pendingUp: 0, lastError: null });
};

await check("attach loads the full engine build and syncs", async () => syncs(await open()));

if (process.argv[3]) {
  await check("the Vite dev server (pre-bundled deps) loads the wasm too", async () => {
    const page = await context.newPage();
    await page.goto(process.argv[3]);
    await page.waitForSelector('main[data-hydrated="true"]', { state: "attached", timeout: 30000 });
    await add(page, "in dev mode");
    await syncs(page);
  });
}

await browser.close();
server.close();
console.log(`\npackaging tests: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
