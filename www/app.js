// The demo: a live todo list on ferroproof. Open it in two tabs to see changes flow between them.
import { fireproof } from "./pkg/index.js";

const db = fireproof("todos");
const list = document.getElementById("list");

async function render() {
  const { rows } = await db.allDocs();
  const todos = rows.map((r) => r.value).sort((a, b) => (a.created < b.created ? -1 : 1));
  list.replaceChildren(
    ...todos.map((t) => {
      const li = document.createElement("li");
      li.className = t.done ? "done" : "";
      li.dataset.id = t._id;
      const box = Object.assign(document.createElement("input"), { type: "checkbox", checked: !!t.done });
      box.onchange = () => db.put({ ...t, done: box.checked });
      const text = Object.assign(document.createElement("span"), { textContent: t.text });
      const del = Object.assign(document.createElement("button"), { textContent: "×", title: "delete" });
      del.onclick = () => db.del(t._id);
      li.append(box, text, del);
      return li;
    }),
  );
  const info = await db.info();
  document.getElementById("seq").textContent = String(info.seq);
  document.getElementById("count").textContent = String(info.count);
  document.getElementById("head").textContent = info.clock.map(String).join(", ") || "–";
  document.body.dataset.ready = "true";
}

document.getElementById("add").onsubmit = async (e) => {
  e.preventDefault();
  const input = document.getElementById("text");
  await db.put({ text: input.value, done: false, created: new Date() });
  input.value = "";
};

db.subscribe(render);
render();
