// The demo app (www/, built by scripts/build-www.sh) end to end: add, toggle, delete, reload, and a
// second page that sees the first one's changes live; then the Share link against a sync server with
// authorization (no --open, as `npm start` runs it). Saves screenshots under target/test-output.
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { startServer } from "./util.mjs";

async function open(context, url, query = "?server=off", hash = "") {
  const page = await context.newPage();
  await page.goto(`${url}/target/www/${query}${hash}`);
  await page.waitForSelector('#list[data-hydrated="true"]', { state: "attached" });
  return page;
}

async function add(page, text) {
  await page.fill("#text", text);
  await page.click('button[type="submit"]');
  await page.waitForSelector(`#list li:has-text("${text}")`);
}

export const tests = {
  async "add, toggle, delete, reload, and live updates in a second page"({ context, url }) {
    const a = await open(context, url);
    const b = await open(context, url);
    await add(a, "buy milk");
    await add(a, "write tests");
    await add(a, "ship it");
    assert.equal(await a.inputValue("#text"), "", "the draft resets after saving");
    await a.click('#list li:has-text("write tests") input[type="checkbox"]');
    await a.waitForSelector('#list li.done:has-text("write tests")');
    await a.click('#list li:has-text("ship it") button');
    await a.waitForSelector('#list li:has-text("ship it")', { state: "detached" });
    // the second page followed along without reloading
    await b.waitForSelector('#list li.done:has-text("write tests")', { timeout: 15_000 });
    assert.deepEqual(await b.locator("#list li span").allTextContents(), ["buy milk", "write tests"]);
    await b.reload();
    await b.waitForSelector('#list[data-hydrated="true"] li');
    assert.deepEqual(await b.locator("#list li span").allTextContents(), ["buy milk", "write tests"]);
    const seq = Number(await a.textContent("#seq"));
    assert.ok(seq >= 5, `commit count ${seq}`);
    assert.match(await a.textContent("#head"), /^bafyrei/);
    await mkdir("target/test-output", { recursive: true });
    await a.screenshot({ path: "target/test-output/demo.png" });
  },

  async "first visit with the sync server down: attached and offline, it reaches the server by itself once it is up, and what was written meanwhile syncs"({ context, url }) {
    const probe = await startServer({ open: false });
    const port = probe.port;
    await probe.stop(); // a port nothing listens on now
    const query = `?server=${encodeURIComponent(`http://127.0.0.1:${port}`)}`;
    const a = await open(context, url, query);
    // attach() resolves; the attachment reports the failure and keeps trying
    await a.waitForSelector('#sync[data-state="attached"][data-status="error"]');
    assert.match(await a.textContent("#sync"), /^offline, .* NETWORK$/);
    await a.click("#share"); // no remote ledger yet: the page says why
    await a.waitForSelector('#share-error:has-text("NETWORK")');
    await add(a, "written offline");
    const server = await startServer({ open: false, port });
    try {
      // the attachment tries again (0.5 s, then doubling) without a reload
      await a.waitForFunction(() => !["", "error"].includes(document.querySelector("#sync").dataset.status), null, { timeout: 20_000 });
      // the offline write reached the server: another profile joining through the invite sees it
      await a.click("#share");
      const link = await a.inputValue("#invite");
      const other = await context.browser().newContext();
      try {
        const b = await open(other, url, query, link.slice(link.indexOf("#")));
        await b.waitForSelector('#list li:has-text("written offline")', { timeout: 20_000 });
      } finally {
        await other.close();
      }
    } finally {
      await server.stop();
    }
  },

  async "share: another browser profile joins through the invite link and both edit live"({ context, url }) {
    const server = await startServer({ open: false }); // authorization on, as `npm start` runs it
    const other = await context.browser().newContext(); // another profile: its own storage
    try {
      const query = `?server=${encodeURIComponent(server.url)}`;
      const a = await open(context, url, query);
      await a.waitForSelector('#sync[data-state="attached"]');
      await add(a, "shared milk");
      await add(a, "shared bread");
      await a.click("#share");
      const link = await a.inputValue("#invite");
      assert.match(link, /#invite=fp1\./);
      const hash = link.slice(link.indexOf("#"));
      // a secured server's invite: version 2, with the ledger DID and a one-time key (docs/auth.md §8.5)
      const invite = JSON.parse(Buffer.from(hash.slice("#invite=fp1.".length), "base64url").toString());
      assert.equal(invite.v, 2);
      assert.match(invite.l, /^did:key:z6Mk/);
      const b = await open(other, url, query, hash);
      await b.waitForSelector('#list li:has-text("shared bread")', { timeout: 15000 });
      assert.deepEqual(await b.locator("#list li span").allTextContents(), ["shared milk", "shared bread"]);
      await add(b, "from b");
      await a.waitForSelector('#list li:has-text("from b")', { timeout: 15000 });
      await a.click('#list li:has-text("shared milk") input[type="checkbox"]');
      await b.waitForSelector('#list li.done:has-text("shared milk")', { timeout: 15000 });
      // a reload with the (spent) invite still in the address bar re-attaches with the remembered chain
      await b.reload();
      await b.waitForSelector('#sync[data-state="attached"]');
      await add(b, "after reload");
      await a.waitForSelector('#list li:has-text("after reload")', { timeout: 15000 });
      assert.notEqual(await b.getAttribute("#sync", "data-status"), "error");
      await mkdir("target/test-output", { recursive: true });
      await a.screenshot({ path: "target/test-output/demo-share-a.png" });
      await b.screenshot({ path: "target/test-output/demo-share-b.png" });
    } finally {
      await other.close();
      await server.stop();
    }
  },
};
