// Bench adapter for @fireproof/core 0.24 (IndexedDB gateway in the browser).
import { fireproof } from "@fireproof/core";

/** Workload h's map function; Fireproof names the index after its source. */
const ym = (doc, emit) => emit([doc.year, doc.month]);

function count(res) {
  if (res.docs?.length !== res.rows.length) throw new Error(`query: ${res.rows.length} rows but ${res.docs?.length} docs`);
  return res.rows.length;
}

export async function open(name) {
  const db = fireproof(name);
  await db.ready();
  return {
    put: (doc) => db.put(doc),
    bulk: (docs) => db.bulk(docs),
    update: (doc) => db.put(doc),
    bulkUpdate: (docs) => db.bulk(docs),
    get: (id) => db.get(id),
    all: async () => (await db.allDocs()).rows.length,
    // Fireproof's prefix appends NaN/Infinity to the prefix, so it matches numeric next elements only.
    byField: async (field, key) => count(await db.query(field, { key })),
    ymPrefix: async (year) => count(await db.query(ym, { prefix: [year] })),
    ymRange: async (lo, hi) => count(await db.query(ym, { range: [lo, hi] })),
    close: () => db.close(),
    destroy: () => db.destroy(),
  };
}
