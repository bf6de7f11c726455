/**
 * React hooks in the shape of `use-fireproof` 0.24: `useFireproof(name)` returns the database and
 * hooks bound to it. Hook identities are stable while the database is; each hook re-runs its query
 * when its arguments change or the database commits (in this tab or another), with at most one
 * query in flight and one queued, so bursts of writes cannot cause render loops.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Attachable } from "./connectors/connector.js";
import { type Database, fireproof } from "./database.js";
import type { Attached } from "./sync.js";
import { DatabaseError, isNotFoundError } from "./errors.js";
import type {
  AllDocsQueryOpts,
  ChangesOptions,
  ClockHead,
  ConfigOpts,
  DocFragment,
  DocResponse,
  DocSet,
  DocTypes,
  DocWithId,
  IndexKeyType,
  IndexRow,
  MapFn,
  QueryOpts,
} from "./types.js";

export * from "./index.js";
export { ImgFile, type ImgFileProps, type ImgFileSource } from "./img-file.js";

export interface HookResult {
  readonly hydrated: boolean;
}
export interface LiveQueryResult<T extends DocTypes, K extends IndexKeyType, R> extends HookResult {
  readonly rows: IndexRow<T, K, R>[];
  readonly docs: DocWithId<T>[];
}
export interface AllDocsResult<T extends DocTypes> extends HookResult {
  readonly docs: DocWithId<T>[];
  readonly rows: { readonly key: string; readonly value: DocWithId<T> }[];
  /** The clock the rows were read at (absent before the first answer), as `allDocs()` gives it. */
  readonly clock?: ClockHead;
  readonly name?: string;
}
export interface ChangesResult<T extends DocTypes> extends HookResult {
  readonly docs: DocWithId<T>[];
  readonly rows: { readonly key: string; readonly value: DocWithId<T> }[];
  /** The clock the rows were read at (absent before the first answer): the next `since`. */
  readonly clock?: ClockHead;
  readonly name?: string;
}
export type UpdateDocFn<T extends DocTypes> = (newDoc?: Partial<DocSet<T>>, options?: { readonly replace?: boolean; readonly reset?: boolean }) => void;
export type StoreDocFn<T extends DocTypes> = (existingDoc?: DocWithId<T>) => Promise<DocResponse>;
export type DeleteDocFn<T extends DocTypes> = (existingDoc?: DocWithId<T>) => Promise<DocResponse>;
export interface UseDocumentResultObject<T extends DocTypes> extends HookResult {
  readonly doc: DocSet<T>;
  merge(patch: Partial<DocSet<T>>): void;
  replace(doc: DocSet<T>): void;
  reset(): void;
  refresh(): Promise<void>;
  save(existingDoc?: DocWithId<T>): Promise<DocResponse>;
  remove(existingDoc?: DocWithId<T>): Promise<DocResponse>;
  submit(e?: { preventDefault?: () => void }): Promise<void>;
}
export type UseDocumentResultTuple<T extends DocTypes> = [
  DocSet<T>,
  UpdateDocFn<T>,
  StoreDocFn<T>,
  DeleteDocFn<T>,
  () => void,
  () => Promise<void>,
];
export type UseDocumentResult<T extends DocTypes> = UseDocumentResultObject<T> & UseDocumentResultTuple<T>;
export type UseDocumentInitialDocOrFn<T extends DocTypes> = DocSet<T> | (() => DocSet<T>);

export type UseLiveQuery = <T extends DocTypes = DocTypes, K extends IndexKeyType = IndexKeyType, R extends DocFragment = T>(
  mapFn: string | MapFn<T>,
  query?: Partial<QueryOpts<K>>,
  initialRows?: IndexRow<T, K, R>[],
) => LiveQueryResult<T, K, R>;
export type UseDocument = <T extends DocTypes = DocTypes>(initialDocOrFn?: UseDocumentInitialDocOrFn<T>) => UseDocumentResult<T>;
export type UseAllDocs = <T extends DocTypes = DocTypes>(query?: Partial<AllDocsQueryOpts>) => AllDocsResult<T>;
export type UseChanges = <T extends DocTypes = DocTypes>(since?: ClockHead, opts?: ChangesOptions) => ChangesResult<T>;

/**
 * `useFireproof(name, { attach })`'s attachment, as use-fireproof reports it. A remote that cannot
 * be reached does not fail the attach: the attachment reports it (`attached.status()`) and keeps
 * trying by itself.
 */
export interface AttachState {
  readonly state: "initial" | "attaching" | "attached" | "error";
  readonly attached?: Attached;
  readonly error?: Error;
}

/** `useFireproof`'s options: the database's, plus a remote to attach. */
export interface UseFireproofOptions extends ConfigOpts {
  readonly attach?: Attachable;
}

export interface UseFireproof {
  readonly database: Database;
  readonly attach: AttachState;
  readonly useLiveQuery: UseLiveQuery;
  readonly useDocument: UseDocument;
  readonly useAllDocs: UseAllDocs;
  readonly useChanges: UseChanges;
}

/**
 * Runs `load` now, whenever `key` changes and after every commit of `db`; keeps the latest
 * result. Overlapping refreshes collapse into one follow-up run.
 */
function useRefreshing<V>(db: Database, key: string, load: () => Promise<V>, initial: V): [V, boolean] {
  const [state, setState] = useState<{ value: V; hydrated: boolean }>({ value: initial, hydrated: false });
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let live = true;
    let running = false;
    let again = false;
    const run = async (): Promise<void> => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      do {
        again = false;
        try {
          const value = await loadRef.current();
          if (live) setState({ value, hydrated: true });
        } catch (e) {
          // logged; a commit that landed meanwhile still runs it again
          if (live) console.error("ferroproof: hook query failed", e);
        }
      } while (again && live);
      running = false;
    };
    setState((s) => (s.hydrated ? { ...s, hydrated: false } : s));
    void run();
    const unsubscribe = db.subscribe(() => run());
    return () => {
      live = false;
      unsubscribe();
    };
  }, [db, key]);
  return [state.value, state.hydrated];
}

function createUseLiveQuery(db: Database): UseLiveQuery {
  return function useLiveQuery<T extends DocTypes, K extends IndexKeyType, R extends DocFragment>(
    mapFn: string | MapFn<T>,
    query: Partial<QueryOpts<K>> = {},
    initialRows: IndexRow<T, K, R>[] = [],
  ): LiveQueryResult<T, K, R> {
    const key = `${String(mapFn)}\u0000${JSON.stringify(query)}`;
    const initial = useMemo(
      () => ({ rows: initialRows, docs: initialRows.map((r) => r.doc).filter((d): d is DocWithId<T> => d !== undefined) }),
      [],
    );
    const [value, hydrated] = useRefreshing(
      db,
      key,
      async () => {
        const res = await db.query<T, K, R>(mapFn, { ...query, includeDocs: true });
        return { rows: res.rows, docs: (res as { docs?: DocWithId<T>[] }).docs ?? [] };
      },
      initial,
    );
    return useMemo(() => ({ ...value, hydrated }), [value, hydrated]);
  };
}

function createUseAllDocs(db: Database): UseAllDocs {
  return function useAllDocs<T extends DocTypes>(query: Partial<AllDocsQueryOpts> = {}): AllDocsResult<T> {
    const [value, hydrated] = useRefreshing(
      db,
      JSON.stringify(query),
      async () => {
        const res = await db.allDocs<T>(query);
        return { ...res, docs: res.rows.map((r) => r.value) };
      },
      { rows: [], docs: [] } as Omit<AllDocsResult<T>, "hydrated">,
    );
    return useMemo(() => ({ ...value, hydrated }), [value, hydrated]);
  };
}

function createUseChanges(db: Database): UseChanges {
  return function useChanges<T extends DocTypes>(since: ClockHead = [], opts: ChangesOptions = {}): ChangesResult<T> {
    const [value, hydrated] = useRefreshing(
      db,
      JSON.stringify([since, opts]),
      async () => {
        const res = await db.changes<T>(since, opts);
        return { ...res, docs: res.rows.map((r) => r.value) };
      },
      { rows: [], docs: [] } as Omit<ChangesResult<T>, "hydrated">,
    );
    return useMemo(() => ({ ...value, hydrated }), [value, hydrated]);
  };
}

function createUseDocument(db: Database): UseDocument {
  return function useDocument<T extends DocTypes>(initialDocOrFn?: UseDocumentInitialDocOrFn<T>): UseDocumentResult<T> {
    const initialDoc = (typeof initialDocOrFn === "function" ? initialDocOrFn() : (initialDocOrFn ?? {})) as DocSet<T>;
    const original = useMemo(() => structuredClone(initialDoc), []);
    const [doc, setDoc] = useState<DocSet<T>>(initialDoc);
    const [hydrated, setHydrated] = useState(false);
    const docRef = useRef(doc);
    docRef.current = doc;
    const initialRef = useRef(initialDoc);
    initialRef.current = initialDoc;
    /** Unsaved local edits: external changes must not overwrite them. */
    const edited = useRef(false);
    const request = useRef(0);
    const id = doc._id;

    // A new initial `_id` (also none, for a new document) starts over from the new initial doc.
    const initialId = useRef(initialDoc._id);
    useEffect(() => {
      if (initialDoc._id !== initialId.current) {
        initialId.current = initialDoc._id;
        request.current++;
        edited.current = false;
        setDoc(initialDoc);
        setHydrated(false);
      }
    }, [initialDoc._id]);

    const refresh = useCallback(async () => {
      const my = ++request.current;
      const current = docRef.current._id;
      let next: DocSet<T> = initialRef.current;
      if (current) {
        try {
          next = await db.get<T>(current);
        } catch (e) {
          // as use-fireproof, any failure shows the initial document, hydrated (logged unless not found)
          if (!isNotFoundError(e)) console.error("ferroproof: useDocument could not read", current, e);
          next = { ...initialRef.current, _id: current };
        }
      }
      if (my !== request.current) return;
      edited.current = false;
      setDoc(next);
      setHydrated(true);
    }, [db]);

    useEffect(() => {
      void refresh();
    }, [id, refresh]);

    useEffect(() => {
      if (!id) return undefined;
      return db.subscribe<T>((changed) => {
        if (!edited.current && changed.some((c) => c._id === id)) void refresh();
      }, true);
    }, [db, id, refresh]);

    // an edit supersedes a read in flight (`request`): it must not overwrite the edit
    const merge = useCallback((patch: Partial<DocSet<T>>) => {
      edited.current = true;
      request.current++;
      setDoc((prev) => ({ ...prev, ...patch }));
    }, []);
    const replace = useCallback((next: DocSet<T>) => {
      edited.current = true;
      request.current++;
      setDoc(next);
    }, []);
    const reset = useCallback(() => {
      edited.current = true;
      request.current++;
      setDoc(structuredClone(original));
    }, [original]);
    const save = useCallback(
      async (existing?: DocWithId<T>) => {
        const toSave = existing ?? docRef.current;
        const res = await db.put<T>(toSave);
        if (!existing && docRef.current === toSave) {
          edited.current = false;
          // the stored version (a Date as its string, files as their stored metadata), as
          // use-fireproof shows it; a new document's id change reads it the same way
          if (!toSave._id) setDoc((prev) => (prev === toSave ? { ...prev, _id: res.id } : prev));
          else void refresh();
        }
        return res;
      },
      [db, refresh],
    );
    const remove = useCallback(
      async (existing?: DocWithId<T>) => {
        const target = existing?._id ?? docRef.current._id;
        if (!target) throw new DatabaseError("INVALID_ARG", "Document must have an _id to be removed");
        // as use-fireproof: a document that was never saved (or is gone) is not removed
        await db.get(target).catch((e: unknown) => {
          throw isNotFoundError(e) ? new DatabaseError("ENOENT", `Document not found: ${target}`) : e;
        });
        const res = await db.del(target);
        edited.current = false;
        setDoc(structuredClone(original));
        return res;
      },
      [db, original],
    );
    const submit = useCallback(
      async (e?: { preventDefault?: () => void }) => {
        e?.preventDefault?.();
        await save();
        reset();
      },
      [save, reset],
    );
    const updateDoc = useCallback<UpdateDocFn<T>>(
      (newDoc, options) => {
        if (!newDoc) return options?.reset ? reset() : void refresh();
        return options?.replace ? replace(newDoc as DocSet<T>) : merge(newDoc);
      },
      [merge, replace, reset, refresh],
    );

    return useMemo(() => {
      const tuple: UseDocumentResultTuple<T> = [doc, updateDoc, save, remove, reset, refresh];
      const obj = { doc, hydrated, merge, replace, reset, refresh, save, remove, submit };
      return Object.assign(tuple, obj) as unknown as UseDocumentResult<T>;
    }, [doc, hydrated, merge, replace, reset, refresh, save, remove, submit, updateDoc]);
  };
}

/** The database `name` (or the given one) and hooks bound to it; stable while the database is. */
export function useFireproof(nameOrDatabase: string | Database = "useFireproof", config?: UseFireproofOptions): UseFireproof {
  const { attach: attachable, ...dbConfig } = config ?? {};
  const configKey = JSON.stringify(dbConfig);
  const database = useMemo(
    () => {
      const db = typeof nameOrDatabase === "string" ? fireproof(nameOrDatabase, dbConfig) : nameOrDatabase;
      // it will attach: the ledger opens on the full engine build (not the local one, then that)
      if (attachable) void db.shared.syncEngine();
      return db;
    },
    [nameOrDatabase, configKey],
  );
  const attachKey = attachable?.configHash() ?? "";
  const [attach, setAttach] = useState<AttachState>({ state: attachable ? "attaching" : "initial" });
  useEffect(() => {
    if (!attachable) {
      setAttach({ state: "initial" });
      return;
    }
    let live = true;
    setAttach({ state: "attaching" });
    // one attachment per database and remote: database.attach returns the same one again
    database.attach(attachable).then(
      (attached) => live && setAttach({ state: "attached", attached }),
      (error: unknown) => live && setAttach({ state: "error", error: error instanceof Error ? error : new Error(String(error)) }),
    );
    return () => {
      live = false;
    };
  }, [database, attachKey]);
  const hooks = useMemo(
    () => ({
      database,
      useLiveQuery: createUseLiveQuery(database),
      useDocument: createUseDocument(database),
      useAllDocs: createUseAllDocs(database),
      useChanges: createUseChanges(database),
    }),
    [database],
  );
  return useMemo(() => ({ ...hooks, attach }), [hooks, attach]);
}
