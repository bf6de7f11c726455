// Bench adapter for pouchdb-browser 9 (default IndexedDB adapter). Inserts need no _rev; updates
// (workload k) look the current revisions up first, as a PouchDB app does.
// With { query: true } (workloads f, g, h) it writes a design doc `_design/bench` whose views
// (`bucket`, `ym` = [year, month]) are built lazily by the first query, like Fireproof's; with
// { index: "field" } (workload k) the design doc has that one field's view. Opening an existing
// database with its design doc keeps the stored one (and its built views).
import PouchDB from "pouchdb-browser";

const fieldView = (f) => ({ map: `function (doc) { if (doc.${f} !== undefined) emit(doc.${f}); }` });
const VIEWS = {
  bucket: fieldView("bucket"),
  ym: { map: "function (doc) { if (doc.year !== undefined) emit([doc.year, doc.month]); }" },
};

function checked(res) {
  const bad = res.find((r) => r.error);
  if (bad) throw new Error(`pouchdb bulkDocs: ${bad.id}: ${bad.message ?? bad.name}`);
  return res;
}

export async function open(name, { query = false, index = null } = {}) {
  const db = new PouchDB(name);
  await db.info();
  if (query || index) {
    const views = query ? VIEWS : { [index]: fieldView(index) };
    try {
      await db.put({ _id: "_design/bench", views });
    } catch (e) {
      if (e.status !== 409) throw e; // 409: already there (a reopened database)
    }
  }
  const view = async (v, opts) => (await db.query(`bench/${v}`, { ...opts, include_docs: true })).rows.length;
  /** The docs with their current _rev (for updates). */
  const withRevs = async (docs) => {
    const { rows } = await db.allDocs({ keys: docs.map((d) => d._id) });
    return docs.map((d, k) => (rows[k].value ? { ...d, _rev: rows[k].value.rev } : d));
  };
  return {
    put: (doc) => db.put(doc),
    bulk: async (docs) => checked(await db.bulkDocs(docs)),
    update: async (doc) => db.put((await withRevs([doc]))[0]),
    bulkUpdate: async (docs) => checked(await db.bulkDocs(await withRevs(docs))),
    get: (id) => db.get(id),
    // Counts documents only (not the design doc).
    all: async () => (await db.allDocs({ include_docs: true })).rows.filter((r) => !r.id.startsWith("_design/")).length,
    byField: (field, key) => view(field, { key }),
    ymPrefix: (year) => view("ym", { startkey: [year], endkey: [year, {}] }),
    ymRange: (lo, hi) => view("ym", { startkey: lo, endkey: hi }),
    close: () => db.close(),
    destroy: () => db.destroy(),
  };
}
