/**
 * ferroproof: a local-first, encrypted document database for the browser, API-compatible with
 * `@fireproof/core` 0.24.
 */
export { Database, Database as DatabaseImpl, fireproof, index, isDatabase, type Index } from "./database.js";
export { DatabaseError, NotFoundError, isNotFoundError } from "./errors.js";
export { setWasmUrl } from "./wasm.js";
export type { DocFileMeta } from "./files.js";
export type { LedgerView } from "./history.js";
export type * from "./types.js";
export { toConnector, type Attachable, type Bytes, type Connector, type ToConnectorOpts } from "./connectors/connector.js";
export { toServer, type ToServerOpts } from "./connectors/server.js";
export type { AttachStatus, Attached, InviteOpts, Member, SyncState } from "./sync.js";
export type { MigrateOptions, MigrateProgress, MigrateResult } from "./migrate.js";
export const migrateFromFireproof: typeof import("./migrate.js").migrateFromFireproof = async (name, opts) => (await import("./migrate.js")).migrateFromFireproof(name, opts);
