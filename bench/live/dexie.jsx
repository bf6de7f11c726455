// Live-query adapter (workload i) for Dexie 4: dexie-react-hooks' useLiveQuery over the `bucket` index.
import Dexie from "dexie";
import { useLiveQuery } from "dexie-react-hooks";

export async function open(name) {
  const db = new Dexie(name);
  db.version(1).stores({ docs: "_id, bucket" });
  await db.open();
  const t = db.table("docs");
  function Rows({ bucket }) {
    const docs = useLiveQuery(() => t.where("bucket").equals(bucket).toArray(), [bucket]) ?? [];
    return <ul>{docs.map((d) => <li key={d._id} data-id={d._id}>{d.title}</li>)}</ul>;
  }
  return { Rows, put: (doc) => t.put(doc), bulk: (docs) => t.bulkPut(docs), destroy: () => db.delete() };
}
