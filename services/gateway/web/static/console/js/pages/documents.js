/* Documents the rag engine answers from: upload PDF, Markdown, HTML or text files (each a new
   version on the test stage), see what the test stage holds, remove one. */

import { api, errorBox } from "../api.js";
import { h, fill, card, button, size, toast, writes } from "../dom.js";

const TYPES = { pdf: "application/pdf", md: "text/markdown", markdown: "text/markdown", html: "text/html", htm: "text/html", txt: "text/plain" };

export async function render(ctx) {
  const { view, setTitle, project } = ctx;
  setTitle("Documents", [{ text: project.title || project.name, href: `#/p/${project.key}/settings` }, { text: "Documents" }]);
  const base = `/admin/projects/${project.key}/documents`;
  const result = h("div", { class: "result", id: "documents-result", "aria-live": "polite" });
  const list = h("ul", { class: "list", id: "documents-list" });
  const input = h("input", { type: "file", multiple: true, accept: ".pdf,.md,.markdown,.html,.htm,.txt", class: "visually-hidden", id: "documents-file" });

  async function refresh() {
    try {
      const found = await api(base, { query: { stage: "test" } });
      fill(list, found.items.length ? found.items.map((doc) => h("li", { class: "list__item", dataset: { name: doc.name } },
        h("strong", {}, doc.name), h("span", { class: "muted small" }, ` ${size(doc.size)} of text `),
        writes(button("Remove", () => remove(doc.name), "danger quiet small")))) : h("li", { class: "muted" }, "No documents yet."));
    } catch (err) { fill(list, h("li", {}, errorBox(err))); }
  }

  async function upload(file) {
    const suffix = (file.name.split(".").pop() || "").toLowerCase();
    const answer = await api(`${base}/${encodeURIComponent(file.name)}`, { method: "PUT", body: file, type: TYPES[suffix] || file.type || "application/octet-stream" });
    return answer.version;
  }

  async function remove(name) {
    try {
      const answer = await api(`${base}/${encodeURIComponent(name)}`, { method: "DELETE" });
      toast(`${name} removed: version ${answer.version}.`);
      refresh();
    } catch (err) { fill(result, errorBox(err)); }
  }

  input.addEventListener("change", async () => {
    const files = [...input.files];
    input.value = "";
    for (const file of files) {
      fill(result, h("p", { class: "muted" }, `Uploading ${file.name}…`));
      try {
        const version = await upload(file);
        fill(result, h("div", { class: "alert alert--ok", dataset: { version } }, h("strong", {}, `${file.name} saved as version ${version}.`),
          " The rag engine of the test stage answers from it now."));
      } catch (err) { fill(result, errorBox(err)); return; }
    }
    refresh();
  });

  fill(view, card(null, null,
    h("p", { class: "muted small hint" }, "PDF, Markdown, HTML or text: split into passages the rag engine answers from (add it to the chain on the Content page)."),
    h("div", { class: "toolbar" }, writes(h("label", { class: "button button--primary", for: "documents-file" }, "Upload documents…")), input),
    result, list));
  await refresh();
}
