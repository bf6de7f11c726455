// Bench adapter for our engine, imported from the built package in pkg/.
import { fireproof } from "../../pkg/index.js";

export async function open(name) {
  const db = fireproof(name);
  await db.ready();
  return {
    put: (doc) => db.put(doc),
    bulk: (docs) => db.bulk(docs),
    get: (id) => db.get(id),
    all: async () => (await db.allDocs()).rows.length,
    info: () => db.info(),
    close: () => db.close(),
    destroy: () => db.destroy(),
  };
}
