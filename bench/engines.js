// Lazy loaders for the engine adapters: each is its own chunk, so a page pays only for the engine
// it uses (the cold-open page times this import).
export const ENGINES = {
  ferroproof: () => import("./engines/ferroproof.js"),
  fireproof: () => import("./engines/fireproof.js"),
  dexie: () => import("./engines/dexie.js"),
  pouchdb: () => import("./engines/pouchdb.js"),
};

export function loadEngine(name) {
  const load = ENGINES[name];
  if (!load) throw new Error(`unknown engine ${name}`);
  return load();
}
