// React hooks rendered into a real page (built by `vite build --config tests/react/vite.config.ts`)
// with assertions on the DOM.
import assert from "node:assert/strict";

async function open(context, url) {
  const page = await context.newPage();
  await page.goto(`${url}/target/react-test/`);
  await page.waitForFunction(() => window.hooksReady === true);
  return page;
}

const liveIds = (page) => page.locator("#live li").evaluateAll((els) => els.map((e) => `${e.dataset.id}:${e.textContent}`));

export const tests = {
  async "useLiveQuery re-renders after put, update, delete and another page's write"({ context, url }) {
    const a = await open(context, url);
    const b = await open(context, url);
    await a.evaluate(() => window.hooks.mountList("hooks-live"));
    await a.waitForSelector('#live[data-hydrated="true"]', { state: "attached" });
    const db = (page) => page.evaluateHandle(() => window.hooks.fireproof("hooks-live"));
    const dbA = await db(a);
    await dbA.evaluate((d) => d.put({ _id: "t1", kind: "todo", title: "one" }));
    await a.waitForFunction(() => document.querySelectorAll("#live li").length === 1);
    await dbA.evaluate((d) => d.put({ _id: "t1", kind: "todo", title: "uno" }));
    await a.waitForSelector('#live li:has-text("uno")');
    await dbA.evaluate((d) => d.put({ _id: "n1", kind: "note", title: "not a todo" }));
    await dbA.evaluate((d) => d.put({ _id: "t2", kind: "todo", title: "two" }));
    await a.waitForFunction(() => document.querySelectorAll("#live li").length === 2);
    await dbA.evaluate((d) => d.del("t1"));
    await a.waitForFunction(() => document.querySelectorAll("#live li").length === 1);
    assert.deepEqual(await liveIds(a), ["t2:two"]);
    const dbB = await db(b);
    await dbB.evaluate((d) => d.put({ _id: "t3", kind: "todo", title: "from b" }));
    await a.waitForSelector('#live li:has-text("from b")', { timeout: 15_000 });
    assert.deepEqual(await liveIds(a), ["t2:two", "t3:from b"]);
    await a.waitForFunction(() => document.querySelector("#all").textContent === "3");
    assert.equal(await a.textContent("#changes"), "n1,t2,t1,t3", "oldest change first; t1 was deleted after t2 was written");
  },

  async "render counts stay bounded while 100 writes land; hook identities are stable"({ context, url }) {
    const page = await open(context, url);
    await page.evaluate(() => window.hooks.mountList("hooks-burst"));
    await page.waitForSelector('#live[data-hydrated="true"]', { state: "attached" });
    const before = await page.evaluate(() => window.hooks.counters.live);
    await page.evaluate(async () => {
      const db = window.hooks.fireproof("hooks-burst");
      for (let i = 0; i < 100; i++) {
        await db.put({ _id: `t${String(i).padStart(3, "0")}`, kind: "todo", title: `#${i}` });
      }
    });
    await page.waitForFunction(() => document.querySelectorAll("#live li").length === 100, null, { timeout: 10000 });
    await page.waitForTimeout(300);
    const settled = await page.evaluate(() => window.hooks.counters.live);
    await page.waitForTimeout(500);
    const later = await page.evaluate(() => window.hooks.counters);
    assert.equal(later.live, settled, "no renders once the writes stopped (no render loop)");
    assert.ok(settled - before <= 3 * 100 + 10, `${settled - before} renders for 100 writes`);
    assert.equal(later.identityChanges, 0);
  },

  async "useDocument: merge, save sets _id, reset, submit, remove, external refresh"({ context, url }) {
    const page = await open(context, url);
    await page.evaluate(() => window.hooks.mountEditor("hooks-doc", { title: "", n: 0 }));
    await page.waitForSelector('#editor[data-hydrated="true"]');
    const doc = async () => JSON.parse(await page.textContent("#doc"));
    await page.evaluate(() => window.hooks.act(() => window.editor.merge({ title: "draft" })));
    assert.deepEqual(await doc(), { title: "draft", n: 0 });
    const saved = await page.evaluate(() => window.editor.save());
    await page.waitForFunction((id) => JSON.parse(document.querySelector("#doc").textContent)._id === id, saved.id);
    assert.deepEqual(await doc(), { title: "draft", n: 0, _id: saved.id });
    // an external change to the same _id refreshes the editor
    await page.evaluate((id) => window.hooks.fireproof("hooks-doc").put({ _id: id, title: "changed elsewhere", n: 5 }), saved.id);
    await page.waitForFunction(() => JSON.parse(document.querySelector("#doc").textContent).n === 5);
    // ...but not while there are unsaved local edits
    await page.evaluate(() => window.hooks.act(() => window.editor.merge({ title: "local edit" })));
    await page.evaluate((id) => window.hooks.fireproof("hooks-doc").put({ _id: id, title: "ignored", n: 6 }), saved.id);
    await page.waitForTimeout(200);
    assert.equal((await doc()).title, "local edit");
    // remove deletes and goes back to the initial doc
    await page.evaluate(() => window.editor.remove());
    await page.waitForFunction(() => JSON.parse(document.querySelector("#doc").textContent).title === "");
    const gone = await page.evaluate((id) => window.hooks.fireproof("hooks-doc").get(id).then(() => "found", (e) => e.code), saved.id);
    assert.equal(gone, "ENOENT");
    // submit saves and resets
    await page.evaluate(() => window.hooks.act(() => window.editor.merge({ title: "via submit", n: 9 })));
    await page.click("#submit");
    await page.waitForFunction(() => JSON.parse(document.querySelector("#doc").textContent).title === "");
    const rows = await page.evaluate(() => window.hooks.fireproof("hooks-doc").allDocs());
    assert.deepEqual(rows.rows.map((r) => [r.value.title, r.value.n]), [["via submit", 9]]);
    // reset restores the initial document
    await page.evaluate(() => window.hooks.act(() => window.editor.merge({ title: "x" })));
    await page.click("#reset");
    await page.waitForFunction(() => JSON.parse(document.querySelector("#doc").textContent).title === "");
  },

  async "useDocument: after save() the doc is the stored version; a failed read hydrates with the initial doc; an edit is never overwritten by a read in flight"({ context, url }) {
    const page = await open(context, url);
    const errors = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.evaluate(() => window.hooks.fireproof("hooks-stored").put({ _id: "d1", title: "t", n: 1 }));
    await page.evaluate(() => window.hooks.mountEditor("hooks-stored", { _id: "d1", title: "", n: 0 }));
    await page.waitForFunction(() => window.editor?.doc.title === "t");
    // a Date is stored as its ISO string: after save() the doc shows that, as use-fireproof's does
    await page.evaluate(() => window.hooks.act(() => window.editor.merge({ when: new Date("2024-01-02T03:04:05Z") })));
    await page.evaluate(() => window.editor.save());
    await page.waitForFunction(() => typeof window.editor.doc.when === "string", null, { timeout: 5000 });
    assert.equal(await page.evaluate(() => window.editor.doc.when), "2024-01-02T03:04:05.000Z");
    // an edit made while a read is in flight stays (the read is dropped)
    await page.evaluate(async () => {
      const db = window.hooks.fireproof("hooks-stored");
      const proto = Object.getPrototypeOf(db);
      const get = proto.get;
      let release;
      const gate = new Promise((r) => (release = r));
      proto.get = async function (id) {
        await gate;
        return get.call(this, id);
      };
      window.hooks.act(() => void window.editor.refresh());
      window.hooks.act(() => window.editor.merge({ title: "typed meanwhile" }));
      release();
      await new Promise((r) => setTimeout(r, 100));
      proto.get = get;
    });
    assert.equal(await page.evaluate(() => window.editor.doc.title), "typed meanwhile");
    // a read that fails with something else than "not found": hydrated, the initial doc, logged
    await page.evaluate(() => {
      const proto = Object.getPrototypeOf(window.hooks.fireproof("hooks-stored"));
      const get = proto.get;
      proto.get = function (id) {
        return id === "broken" ? Promise.reject(Object.assign(new Error("cannot decrypt"), { code: "DECRYPT" })) : get.call(this, id);
      };
      window.hooks.mountEditor("hooks-stored", { _id: "broken", title: "start", n: 1 });
    });
    await page.waitForSelector('#editor[data-hydrated="true"]', { timeout: 5000 });
    assert.deepEqual(JSON.parse(await page.textContent("#doc")), { _id: "broken", title: "start", n: 1 });
    assert.ok(errors.some((e) => e.includes("cannot decrypt")), errors.join("\n"));
  },

  async "useDocument with a nonexistent _id keeps the initial doc and hydrates"({ context, url }) {
    const page = await open(context, url);
    await page.evaluate(() => window.hooks.mountEditor("hooks-missing", { _id: "nope", title: "start", n: 1 }));
    await page.waitForSelector('#editor[data-hydrated="true"]');
    assert.deepEqual(JSON.parse(await page.textContent("#doc")), { _id: "nope", title: "start", n: 1 });
    const tuple = await page.evaluate(() => {
      const e = window.editor;
      return [e.length, e[0] === e.doc, typeof e[1], e[2] === e.save, e[3] === e.remove, e[4] === e.reset, e[5] === e.refresh];
    });
    assert.deepEqual(tuple, [6, true, "function", true, true, true, true]);
  },

  async "useDocument: a new initial _id, or none, starts over; remove() of a never-saved doc rejects; useChanges/useAllDocs carry clock and name"({ context, url }) {
    const page = await open(context, url);
    await page.evaluate(() => window.hooks.fireproof("hooks-switch").put({ _id: "a", title: "A", n: 1 }));
    await page.evaluate(() => window.hooks.mountEditor("hooks-switch", { _id: "a", title: "", n: 0 }));
    const doc = async () => JSON.parse(await page.textContent("#doc"));
    await page.waitForFunction(() => JSON.parse(document.querySelector("#doc").textContent).title === "A");
    // the same editor, now for a new document: it starts from the new initial doc
    await page.evaluate(() => window.hooks.renderEditor("hooks-switch", { title: "", n: 0 }));
    await page.waitForFunction(() => JSON.parse(document.querySelector("#doc").textContent)._id === undefined);
    assert.deepEqual(await doc(), { title: "", n: 0 });
    await page.evaluate(() => window.hooks.act(() => window.editor.merge({ title: "new" })));
    const saved = await page.evaluate(() => window.editor.save());
    assert.notEqual(saved.id, "a");
    const a = await page.evaluate(() => window.hooks.fireproof("hooks-switch").get("a"));
    assert.equal(a.title, "A", "saving the new document did not write over the one shown before");
    // a draft never saved: remove() rejects ENOENT and writes nothing
    await page.evaluate(() => window.hooks.renderEditor("hooks-switch", { _id: "draft", title: "d", n: 0 }));
    await page.waitForFunction(() => JSON.parse(document.querySelector("#doc").textContent)._id === "draft");
    const removed = await page.evaluate(() => window.editor.remove().then(() => "resolved", (e) => [e.code, e.message]));
    assert.deepEqual(removed, ["ENOENT", "Document not found: draft"]);
    // useChanges and useAllDocs hand back the clock and the name, as allDocs() and changes() do
    await page.evaluate(() => window.hooks.mountList("hooks-switch"));
    await page.waitForFunction(() => document.querySelector("#changes")?.dataset.clock === "1");
    assert.equal(await page.getAttribute("#all", "data-name"), "hooks-switch");
    const changed = await page.textContent("#changes");
    assert.ok(!changed.split(",").includes("draft"), `no tombstone for the draft: ${changed}`);
  },

  async "ImgFile shows an image stored in a document's _files, and nothing for other types"({ context, url }) {
    const page = await open(context, url);
    await page.evaluate(async () => {
      // a 1×1 PNG
      const b64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
      const png = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const db = window.hooks.fireproof("hooks-img");
      await db.put({
        _id: "pics",
        _files: {
          dot: new File([png], "dot.png", { type: "image/png" }),
          notes: new File(["hello"], "notes.txt", { type: "text/plain" }),
        },
      });
      window.hooks.mountGallery("hooks-img", "pics");
    });
    await page.waitForSelector("#gallery img.pic");
    await page.waitForFunction(() => document.querySelector("#gallery img.pic").complete);
    const imgs = await page.evaluate(() =>
      [...document.querySelectorAll("#gallery img")].map((i) => [i.alt, i.src.startsWith("blob:"), i.naturalWidth]),
    );
    assert.deepEqual(imgs, [["dot", true, 1], ["dot again", true, 1]]);
    // two components showing one stored file share its URL; an update that keeps the file keeps it
    const srcs = () => page.evaluate(() => [...document.querySelectorAll("#gallery img")].map((i) => i.src));
    const before = await srcs();
    assert.equal(before[0], before[1]);
    await page.evaluate(async () => {
      const db = window.hooks.fireproof("hooks-img");
      await db.put({ ...(await db.get("pics")), caption: "edited" });
    });
    await page.waitForSelector('#gallery[data-caption="edited"]'); // re-rendered with new metadata objects
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await srcs(), before);
    // metadata whose CID is an object (Fireproof's shape): one read and one URL for one content,
    // revoked as the last component unmounts (not a microtask later)
    const b64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    const png = [...Buffer.from(b64, "base64")];
    const r = await page.evaluate(async (png) => {
      const made = [];
      const revoked = [];
      const create = URL.createObjectURL;
      const revoke = URL.revokeObjectURL;
      URL.createObjectURL = (b) => (made.push(1), create(b));
      URL.revokeObjectURL = (u) => (revoked.push(u), revoke(u));
      window.hooks.mountSameContent(png);
      for (let i = 0; i < 1000 && document.querySelectorAll("#same img").length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const srcs = [...document.querySelectorAll("#same img")].map((i) => i.src);
      revoked.length = 0; // (the gallery before went when these mounted)
      window.hooks.unmount();
      const revokedAtOnce = revoked.length;
      URL.createObjectURL = create;
      URL.revokeObjectURL = revoke;
      return { made: made.length, same: srcs.length === 2 && srcs[0] === srcs[1], revokedAtOnce };
    }, png);
    assert.deepEqual(r, { made: 1, same: true, revokedAtOnce: 1 });
  },
};
