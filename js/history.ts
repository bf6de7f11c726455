/**
 * `db.at(clock)`: a read-only view of a ledger as it was at a clock (docs/format.md §15). Every
 * read goes to the engine with that clock; nothing is cached here.
 */
import { clockToJson } from "./clock.js";
import type { Database } from "./database.js";
import type {
  AllDocsQueryOpts,
  AllDocsResponse,
  ChangesOptions,
  ChangesResponse,
  ClockHead,
  DocFragment,
  DocTypes,
  DocWithId,
  IndexKeyType,
  MapFn,
  QueryOpts,
  QueryResult,
} from "./types.js";

export class LedgerView {
  /** The clock this view reads. */
  readonly clock: ClockHead;
  private readonly db: Database;
  private readonly at: string;

  constructor(db: Database, clock: ClockHead) {
    this.db = db;
    this.clock = clock;
    this.at = clockToJson(clock);
  }

  get<T extends DocTypes>(id: string): Promise<DocWithId<T>> {
    return this.db.track(this.db.getAt<T>(id, this.at));
  }

  allDocs<T extends DocTypes>(opts: Partial<AllDocsQueryOpts> = {}): Promise<AllDocsResponse<T>> {
    return this.db.track(this.db.allDocsAt<T>(opts, this.at));
  }

  changes<T extends DocTypes>(since: ClockHead = [], opts: ChangesOptions = {}): Promise<ChangesResponse<T>> {
    return this.db.track(this.db.changesAt<T>(since, opts, this.at));
  }

  query<
    T extends DocTypes = DocTypes,
    K extends IndexKeyType = IndexKeyType,
    R extends DocFragment = T,
    O extends Partial<QueryOpts<K>> = Partial<QueryOpts<K>>,
  >(field: string | MapFn<T>, opts?: O): Promise<QueryResult<T, K, R, O>> {
    return this.db.track(this.db.queryAt<T, K, R, O>(field, opts, this.at));
  }
}
