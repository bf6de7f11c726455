// Bench adapter for pouchdb-browser 9 (default IndexedDB adapter). Inserts only, so no _rev.
import PouchDB from "pouchdb-browser";

export async function open(name) {
  const db = new PouchDB(name);
  await db.info();
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
    close: () => db.close(),
    destroy: () => db.destroy(),
  };
}
