// Bench adapter for @fireproof/core 0.24 (IndexedDB gateway in the browser).
import { fireproof } from "@fireproof/core";

export async function open(name) {
  const db = fireproof(name);
  await db.ready();
  return {
    put: (doc) => db.put(doc),
    bulk: (docs) => db.bulk(docs),
    get: (id) => db.get(id),
    all: async () => (await db.allDocs()).rows.length,
    close: () => db.close(),
    destroy: () => db.destroy(),
  };
}
