// Bench adapter for Dexie 4: one table `docs` with primary key `_id`; with { query: true } (workloads
// g, h) the schema also declares the indexes `bucket` and `[year+month]` at creation; with
// { index: "field" } (workload k) only that one field index.
import Dexie from "dexie";

export async function open(name, { query = false, index = null } = {}) {
  const db = new Dexie(name);
  db.version(1).stores({ docs: query ? "_id, bucket, [year+month]" : index ? `_id, ${index}` : "_id" });
  await db.open();
  const t = db.table("docs");
  const ym = t.where("[year+month]");
  return {
    put: (doc) => t.put(doc),
    bulk: (docs) => t.bulkPut(docs),
    update: (doc) => t.put(doc),
    bulkUpdate: (docs) => t.bulkPut(docs),
    get: async (id) => {
      const doc = await t.get(id);
      if (doc === undefined) throw new Error(`dexie: ${id} not found`);
      return doc;
    },
    all: async () => (await t.toArray()).length,
    byField: async (field, key) => (await t.where(field).equals(key).toArray()).length,
    ymPrefix: async (year) => (await ym.between([year, Dexie.minKey], [year, Dexie.maxKey], true, true).toArray()).length,
    ymRange: async (lo, hi) => (await ym.between(lo, hi, true, true).toArray()).length,
    close: async () => db.close(),
    destroy: () => db.delete(),
  };
}
