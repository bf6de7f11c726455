// Bench adapter for pouchdb-browser 9 (default IndexedDB adapter). Inserts only, so no _rev.
// With { query: true } (workloads g, h) it writes a design doc `_design/bench` whose views
// (`bucket`, `ym` = [year, month]) are built lazily by the first query, like Fireproof's.
import PouchDB from "pouchdb-browser";

const VIEWS = {
  bucket: { map: "function (doc) { if (doc.bucket !== undefined) emit(doc.bucket); }" },
  ym: { map: "function (doc) { if (doc.year !== undefined) emit([doc.year, doc.month]); }" },
};

export async function open(name, { query = false } = {}) {
  const db = new PouchDB(name);
  await db.info();
  if (query) await db.put({ _id: "_design/bench", views: VIEWS });
  const view = async (v, opts) => (await db.query(`bench/${v}`, { ...opts, include_docs: true })).rows.length;
  return {
    put: (doc) => db.put(doc),
    bulk: async (docs) => {
      const res = await db.bulkDocs(docs);
      const bad = res.find((r) => r.error);
      if (bad) throw new Error(`pouchdb bulkDocs: ${bad.id}: ${bad.message ?? bad.name}`);
      return res;
    },
    get: (id) => db.get(id),
    all: async () => (await db.allDocs({ include_docs: true })).rows.length,
    byField: (field, key) => view(field, { key }),
    ymPrefix: (year) => view("ym", { startkey: [year], endkey: [year, {}] }),
    ymRange: (lo, hi) => view("ym", { startkey: lo, endkey: hi }),
    close: () => db.close(),
    destroy: () => db.destroy(),
  };
}
