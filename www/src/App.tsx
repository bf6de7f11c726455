// The demo: a live todo list on ferroproof's React hooks, synced through ferroproof-server. Open it
// in two tabs to watch changes flow between them, or press Share and open the link in another
// browser profile; the panel shows the ledger's clock head, commit count and sync state.
import { useEffect, useMemo, useState } from "react";
import { type Attachable, type DocWithId, type LedgerInfo, type SyncState, toServer, useFireproof } from "ferroproof/react";

/** `?server=URL` picks the sync server (default: the one `npm start` runs); `?server=off` stays local. */
function syncTarget(): Attachable | undefined {
  const params = new URLSearchParams(location.search);
  const server = params.get("server") ?? "http://127.0.0.1:8787";
  if (server === "off") return undefined;
  const invite = location.hash.startsWith("#invite=") ? location.hash.slice("#invite=".length) : undefined;
  try {
    return toServer(server, invite ? { invite } : {});
  } catch (e) {
    // a bad ?server= or a mangled invite link (INVALID_ARG): the list stays local
    console.error("not syncing:", e);
    return undefined;
  }
}

interface Todo {
  text: string;
  done: boolean;
  created: number;
}

export function App() {
  const target = useMemo(syncTarget, []);
  const { database, useLiveQuery, useDocument, attach } = useFireproof("todos", { attach: target });
  const todos = useLiveQuery<Todo>("created");
  const draft = useDocument<Todo>({ text: "", done: false, created: 0 });
  const [info, setInfo] = useState<LedgerInfo | null>(null);
  const [sync, setSync] = useState<SyncState | null>(null);
  const [link, setLink] = useState("");
  const [shareError, setShareError] = useState("");

  useEffect(() => {
    const attached = attach.attached;
    if (!attached) return;
    setSync(attached.state());
    return attached.onState(setSync);
  }, [attach.attached]);

  const share = async () => {
    try {
      const invite = await attach.attached?.invite();
      if (invite) setLink(`${location.origin}${location.pathname}${location.search}#invite=${invite}`);
      setShareError("");
    } catch (e) {
      // offline before the remote ledger was first reached: no invite can name it yet
      setShareError(`no invite yet: ${(e as { code?: string }).code ?? String(e)}`);
    }
  };

  useEffect(() => {
    const load = () => void database.info().then(setInfo);
    load();
    return database.subscribe(load);
  }, [database]);

  return (
    <main>
      <h1>Todos</h1>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (!draft.doc.text.trim()) return;
          await draft.save({ ...draft.doc, created: Date.now() } as DocWithId<Todo>);
          draft.reset();
        }}
      >
        <input
          id="text"
          placeholder="What needs doing?"
          autoComplete="off"
          value={draft.doc.text}
          onChange={(e) => draft.merge({ text: e.target.value })}
        />
        <button type="submit">Add</button>
      </form>
      <ul id="list" data-hydrated={todos.hydrated}>
        {todos.docs.map((t) => (
          <li key={t._id} data-id={t._id} className={t.done ? "done" : ""}>
            <input type="checkbox" checked={t.done} onChange={(e) => void database.put({ ...t, done: e.target.checked })} />
            <span>{t.text}</span>
            <button title="delete" onClick={() => void database.del(t._id)}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <aside id="ledger">
        <h2>Ledger</h2>
        <dl>
          <dt>commits</dt>
          <dd id="seq">{info?.seq ?? "–"}</dd>
          <dt>documents</dt>
          <dd id="count">{info?.count ?? "–"}</dd>
          <dt>clock head</dt>
          <dd id="head">{info?.clock.map(String).join(", ") || "–"}</dd>
          <dt>sync</dt>
          <dd id="sync" data-state={attach.state} data-status={attach.attached?.status() ?? ""}>
            {attach.state === "attached"
              ? `${sync?.phase ?? "…"}, ${sync?.pendingUp ?? 0} to push${sync?.lastError ? ` — ${sync.lastError.code}` : ""}`
              : attach.state === "error"
                ? `not attached (${attach.error?.message ?? "error"})`
                : attach.state === "initial"
                  ? "local only"
                  : "attaching…"}
          </dd>
        </dl>
        {attach.attached && (
          <p className="share">
            <button id="share" onClick={() => void share()}>
              Share
            </button>
            {link && <input id="invite" readOnly value={link} onFocus={(e) => e.target.select()} />}
            {shareError && <span id="share-error">{shareError}</span>}
          </p>
        )}
        <p className="note">The invite link holds the ledger key in its #fragment, which browsers never send to a server.</p>
      </aside>
    </main>
  );
}
