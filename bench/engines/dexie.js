// Bench adapter for Dexie 4: one table `docs` with primary key `_id`.
import Dexie from "dexie";

export async function open(name) {
  const db = new Dexie(name);
  db.version(1).stores({ docs: "_id" });
  await db.open();
  const t = db.table("docs");
  return {
    put: (doc) => t.put(doc),
    bulk: (docs) => t.bulkPut(docs),
    get: async (id) => {
      const doc = await t.get(id);
      if (doc === undefined) throw new Error(`dexie: ${id} not found`);
      return doc;
    },
    all: async () => (await t.toArray()).length,
    close: async () => db.close(),
    destroy: () => db.delete(),
  };
}
