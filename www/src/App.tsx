// The demo: a live todo list on ferroproof's React hooks. Open it in two tabs to watch changes
// flow between them; the panel shows the ledger's clock head and commit count.
import { useEffect, useState } from "react";
import { type DocWithId, type LedgerInfo, useFireproof } from "ferroproof/react";

interface Todo {
  text: string;
  done: boolean;
  created: number;
}

export function App() {
  const { database, useLiveQuery, useDocument } = useFireproof("todos");
  const todos = useLiveQuery<Todo>("created");
  const draft = useDocument<Todo>({ text: "", done: false, created: 0 });
  const [info, setInfo] = useState<LedgerInfo | null>(null);

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
        </dl>
      </aside>
    </main>
  );
}
