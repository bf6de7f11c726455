// A consumer app as users write it: the package installed from its tarball, used through
// `ferroproof/react` with no bundler configuration.
import { createRoot } from "react-dom/client";
import { useFireproof, type DocWithId } from "ferroproof/react";
import { fireproof, NotFoundError, toConnector } from "ferroproof";

interface Item {
  text: string;
  at: number;
}

function App() {
  const { useLiveQuery, useDocument, database } = useFireproof("packaging");
  const { docs, hydrated } = useLiveQuery<Item>("at");
  const { doc, merge, submit } = useDocument<Item>({ text: "", at: 0 });
  return (
    <main data-hydrated={hydrated} data-db={database.name}>
      <form
        onSubmit={(e) => {
          merge({ at: Date.now() });
          void submit(e);
        }}
      >
        <input id="text" value={doc.text} onChange={(e) => merge({ text: e.target.value, at: Date.now() })} />
        <button type="submit">add</button>
      </form>
      <ul>
        {docs.map((d: DocWithId<Item>) => (
          <li key={d._id}>{d.text}</li>
        ))}
      </ul>
    </main>
  );
}

const notFound: boolean = new NotFoundError("x").code === "ENOENT";
(window as unknown as { direct: unknown }).direct = { fireproof, notFound, toConnector };
createRoot(document.getElementById("root")!).render(<App />);
