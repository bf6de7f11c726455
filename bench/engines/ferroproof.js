// Bench adapter for our engine, imported from the built package ("ferroproof-pkg": $BENCH_PKG or pkg/).
import { fireproof } from "ferroproof-pkg/index.js";

/** Workload h's map function (compound key); the same source every call, so the same index. */
const ym = (doc, emit) => emit([doc.year, doc.month]);

/** Rows of a query with docs included; a short `docs` means includeDocs was not honoured. */
function count(res) {
  if (res.docs?.length !== res.rows.length) throw new Error(`query: ${res.rows.length} rows but ${res.docs?.length} docs`);
  return res.rows.length;
}

export async function open(name, opts = {}) {
  const db = fireproof(name, opts.archive ? { archive: opts.archive } : undefined);
  await db.ready();
  return {
    put: (doc) => db.put(doc),
    bulk: (docs) => db.bulk(docs),
    update: (doc) => db.put(doc),
    bulkUpdate: (docs) => db.bulk(docs),
    get: (id) => db.get(id),
    all: async () => (await db.allDocs()).rows.length,
    byField: async (field, key) => count(await db.query(field, { key })),
    ymPrefix: async (year) => count(await db.query(ym, { prefix: [year] })),
    ymRange: async (lo, hi) => count(await db.query(ym, { range: [lo, hi] })),
    info: () => db.info(),
    exportCar: () => db.exportCar(),
    close: () => db.close(),
    destroy: () => db.destroy(),
  };
}
