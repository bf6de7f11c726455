/**
 * Errors thrown by the database. Every error is an `Error` with a stable `code`:
 * `ENOENT` (not found), `INVALID_DOC`, `INVALID_ARG`, `CLOSED`, `CORRUPT`, `DECRYPT`, `QUOTA`,
 * `STORAGE`, `MISSING_BLOCK`, `HISTORY_GONE`, `INTERNAL`; for sync `NETWORK`, `UNAUTHORIZED`,
 * `FORBIDDEN`, `ENOENT` (the server does not know the remote ledger); `CONFLICT` (other tabs kept
 * committing first)
 * is retried by the package itself and never reaches a write's caller.
 */

/** Base class of every error the database throws. */
export class DatabaseError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "DatabaseError";
    this.code = code;
  }
}

/** A missing or deleted document (`code === "ENOENT"`, message `Not found: <id>`). */
export class NotFoundError extends DatabaseError {
  constructor(id: string) {
    super("ENOENT", `Not found: ${id}`);
    this.name = "NotFoundError";
  }
}

/** True for errors meaning "no such document". */
export function isNotFoundError(e: unknown): e is NotFoundError {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "ENOENT";
}

/** Converts whatever the engine threw into a `DatabaseError` (keeping `NotFoundError` typed). */
export function fromEngine(e: unknown, id?: string): DatabaseError {
  if (e instanceof DatabaseError) return e;
  const code = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined;
  const message = e instanceof Error ? e.message : String(e);
  if (code === "ENOENT") return new NotFoundError(id ?? message.replace(/^not found: /, ""));
  return new DatabaseError(typeof code === "string" ? code : "INTERNAL", message);
}
