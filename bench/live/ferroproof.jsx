// Live-query adapter (workload i) for our engine: a list of useLiveQuery('bucket', { key }) docs.
import { fireproof, useFireproof } from "ferroproof-pkg/react.js";

export async function open(name) {
  const db = fireproof(name);
  await db.ready();
  function Rows({ bucket }) {
    const { useLiveQuery } = useFireproof(db);
    const { docs } = useLiveQuery("bucket", { key: bucket });
    return <ul>{docs.map((d) => <li key={d._id} data-id={d._id}>{d.title}</li>)}</ul>;
  }
  return { Rows, put: (doc) => db.put(doc), bulk: (docs) => db.bulk(docs), destroy: () => db.destroy() };
}
