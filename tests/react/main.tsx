// Hook test page: components using the package's React hooks, mounted on demand by the
// Playwright tests (tests/browser/react.test.mjs) through `window.hooks`.
import { useEffect, useRef } from "react";
import { createRoot, type Root } from "react-dom/client";
import { flushSync } from "react-dom";
import { fireproof, ImgFile, useFireproof } from "ferroproof/react";

interface Item {
  kind: string;
  title: string;
}

const counters: Record<string, number> = { live: 0, doc: 0, identityChanges: 0 };

function LiveList({ db }: { db: string }) {
  const { useLiveQuery, useAllDocs, useChanges } = useFireproof(db);
  const hooksRef = useRef(useLiveQuery);
  if (hooksRef.current !== useLiveQuery) counters.identityChanges++;
  hooksRef.current = useLiveQuery;
  counters.live++;
  const todos = useLiveQuery<Item>("kind", { key: "todo" });
  const all = useAllDocs();
  const changes = useChanges();
  return (
    <div>
      <ul id="live" data-hydrated={todos.hydrated}>
        {todos.rows.map((r) => (
          <li key={r.id} data-id={r.id}>
            {r.doc?.title}
          </li>
        ))}
      </ul>
      <p id="all" data-name={all.name ?? ""}>
        {all.docs.length}
      </p>
      <p id="changes" data-clock={changes.clock?.length ?? -1}>
        {changes.docs.map((d) => d._id).join(",")}
      </p>
    </div>
  );
}

function Editor({ db, initial }: { db: string; initial: Record<string, unknown> }) {
  const { useDocument } = useFireproof(db);
  const d = useDocument<{ title: string; n: number }>(initial as { title: string; n: number });
  const [doc, , , , reset] = d;
  counters.doc++;
  useEffect(() => {
    (window as unknown as { editor: typeof d }).editor = d;
  });
  return (
    <form id="editor" data-hydrated={d.hydrated} onSubmit={(e) => void d.submit(e.nativeEvent)}>
      <pre id="doc">{JSON.stringify(doc)}</pre>
      <button type="button" id="reset" onClick={() => reset()}>
        reset
      </button>
      <button type="submit" id="submit">
        submit
      </button>
    </form>
  );
}

function Gallery({ db, id }: { db: string; id: string }) {
  const { useDocument } = useFireproof(db);
  const { doc } = useDocument<{ _files?: Record<string, never>; caption?: string }>({ _id: id });
  const files = (doc._files ?? {}) as Record<string, Parameters<typeof ImgFile>[0]["file"]>;
  return (
    <div id="gallery" data-caption={doc.caption ?? ""}>
      {Object.entries(files).map(([name, f]) => (
        <ImgFile key={name} file={f} alt={name} className="pic" />
      ))}
      {files.dot ? <ImgFile file={files.dot} alt="dot again" className="pic2" /> : null}
    </div>
  );
}

let root: Root | null = null;

const hooks = {
  counters,
  fireproof,
  mountList(db: string) {
    root?.unmount();
    root = createRoot(document.getElementById("root")!);
    flushSync(() => root!.render(<LiveList db={db} />));
  },
  mountEditor(db: string, initial: Record<string, unknown>) {
    root?.unmount();
    root = createRoot(document.getElementById("root")!);
    flushSync(() => root!.render(<Editor db={db} initial={initial} />));
  },
  /**
   * Two `ImgFile`s showing hand-made metadata for one content (a CID object, as Fireproof's
   * metadata has, whose String() is the CID), each with its own metadata object.
   */
  mountSameContent(bytes: number[]) {
    root?.unmount();
    root = createRoot(document.getElementById("root")!);
    const meta = () => ({
      type: "image/png",
      size: bytes.length,
      cid: { toString: () => "bafkreisamecontentsamecontentsamecontent" },
      file: async () => new File([new Uint8Array(bytes)], "x.png", { type: "image/png" }),
    });
    flushSync(() =>
      root!.render(
        <div id="same">
          <ImgFile file={meta() as never} alt="one" />
          <ImgFile file={meta() as never} alt="two" />
        </div>,
      ),
    );
  },
  unmount() {
    root?.unmount();
    root = null;
  },
  /** Renders the mounted editor again with a new initial document (the same component instance). */
  renderEditor(db: string, initial: Record<string, unknown>) {
    flushSync(() => root!.render(<Editor db={db} initial={initial} />));
  },
  mountGallery(db: string, id: string) {
    root?.unmount();
    root = createRoot(document.getElementById("root")!);
    flushSync(() => root!.render(<Gallery db={db} id={id} />));
  },
  act(fn: () => void) {
    flushSync(fn);
  },
};

(window as unknown as { hooks: typeof hooks }).hooks = hooks;
(window as unknown as { hooksReady: boolean }).hooksReady = true;
