/* Content editor: one tab per kind of bot content. Each can be loaded from the test stage,
   edited or replaced by a file, validated (?dry_run=true: nothing stored) and saved, which makes
   a new version the test stage answers from at once. Versions, diff and publish are beside it. */

import { api, errorBox } from "../api.js";
import { h, fill, card, button, badge, size, toast, writes } from "../dom.js";
import { createEditor } from "../editor.js";
import { versionsPanel } from "./versions.js";
import { faqForm, intentsForm, machineView } from "./content_forms.js";

/** The kinds with a view besides the text editor: [route arg, label]. */
const VIEWS = { faq: ["form", "Form"], intents: ["form", "Form"], machine: ["diagram", "Diagram"] };

const yamlOrJson = (text) => (/^\s*[{[]/.test(text) ? "application/json" : "application/yaml");

/** The kinds of content, each with its admin route and file types. */
const KINDS = [
  { id: "aiml", label: "AIML", path: "aiml", accept: ".aiml,.xml,.zip", dryRun: true,
    type: () => "application/xml", hint: "AIML categories or a whole document; open a .zip to upload many .aiml files at once.",
    sample: '<?xml version="1.0" encoding="UTF-8"?>\n<aiml version="2.0">\n  <category>\n    <pattern>HELLO</pattern>\n    <template>Hello! How can I help?</template>\n  </category>\n</aiml>\n' },
  { id: "faq", label: "FAQ", path: "faq", accept: ".csv,.json", dryRun: true, query: { format: "csv" },
    type: (text) => (/^\s*{/.test(text) ? "application/json" : "text/csv"),
    hint: "CSV (gid,question,answer,labels) or JSON {\"groups\": [...]}; one group per answer, a row per paraphrase.",
    sample: "gid,question,answer,labels\nhours,When are visiting hours?,Visiting hours are 10:00 to 20:00.,visits\n" },
  { id: "intents", label: "Intents", path: "intents", accept: ".yaml,.yml,.json", dryRun: true, query: { format: "yaml" },
    type: yamlOrJson, hint: "Intents and entities as YAML or JSON." },
  { id: "machine", label: "Machine", path: "machine", accept: ".yaml,.yml,.json", dryRun: true, query: { format: "yaml" },
    type: yamlOrJson, hint: "States, intents and transitions as YAML or JSON; it answers before the engine chain." },
  { id: "chain", label: "Chain", path: "chain", accept: ".json", dryRun: false, json: true,
    type: () => "application/json", hint: "The engines asked in order, each with the score it must reach, e.g. {\"steps\": [{\"engine\": \"faq\", \"threshold\": 0.6}, {\"engine\": \"aiml\"}]}." },
  { id: "behaviors", label: "Trees", path: "behaviors", accept: ".xml", dryRun: false, named: true,
    type: () => "application/xml", hint: "BehaviorTree.CPP XML, stored by name; robots get it with a behavior_update command." },
  ...[["properties", "Properties", "The bot's properties (<bot name=\"…\"/>): key:value or KEY=VALUE lines, # comments."],
    ["maps", "Maps", "The bot's AIML maps file, as the XPARO robot keeps it."],
    ["sets", "Sets", "The bot's AIML sets file, as the XPARO robot keeps it."]].map(([id, label, hint]) => ({
    id, label, path: id, accept: ".txt,.properties,.json", dryRun: false, type: () => "text/plain", hint })),
];

export async function render(ctx) {
  const { view, setTitle, project, args } = ctx;
  const kind = KINDS.find((k) => k.id === args[0]) || KINDS[0];
  setTitle("Content", [{ text: project.title || project.name, href: `#/p/${project.key}/settings` }, { text: "Content" }]);
  const base = `/admin/projects/${project.key}`;
  const editor = createEditor({ id: "content-text", placeholder: kind.sample || "" });
  editor.readOnly = ctx.readOnly;
  const result = h("div", { class: "result", id: "content-result", "aria-live": "polite" });
  const fileChip = h("div", { class: "file-chip", hidden: true });
  const fileInput = h("input", { type: "file", accept: kind.accept, class: "visually-hidden", id: "content-file" });
  const treeName = kind.named ? h("input", { class: "input input--inline", id: "tree-name", placeholder: "MainTree", value: args[1] || "" }) : null;
  const treeList = kind.named ? h("div", { class: "chips", id: "tree-list" }) : null;
  const versions = versionsPanel(ctx);
  let pending = null; // a file (a zip) that is sent as it is, instead of the editor's text

  function setPending(file) {
    pending = file;
    editor.disabled = Boolean(file);
    fileChip.hidden = !file;
    if (file) {
      fill(fileChip, badge("file", "info"), h("span", {}, `${file.name} (${size(file.size)}) will be uploaded as it is`),
        button("Remove", () => setPending(null), "quiet small"));
    }
  }

  fileInput.addEventListener("change", async () => {
    const file = fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    if (/\.zip$/i.test(file.name)) setPending(file);
    else { setPending(null); editor.value = await file.text(); editor.mark([]); }
    fill(result);
  });

  function route() {
    if (!kind.named) return `${base}/${kind.path}`;
    const name = treeName.value.trim();
    if (!name) throw new Error("Give the tree a name first.");
    return `${base}/behaviors/${encodeURIComponent(name)}`;
  }

  function body() {
    if (pending) return { body: pending, type: "application/zip" };
    const text = editor.value;
    if (!text.trim()) throw new Error("The editor is empty: type or open some content first.");
    return { body: text, type: kind.type(text) };
  }

  async function send(dryRun) {
    let request;
    try { request = { ...body(), method: "PUT", query: dryRun ? { dry_run: "true" } : {} }; }
    catch (err) { fill(result, h("div", { class: "alert alert--error" }, err.message)); return; }
    fill(result, h("p", { class: "muted" }, dryRun ? "Validating…" : "Saving…"));
    editor.mark([]);
    try {
      const answer = await api(route(), request);
      showAnswer(answer, dryRun);
      if (!dryRun || answer?.kind === "saved") versions.refresh();
      if (kind.named && !dryRun) loadTrees();
    } catch (err) {
      const lines = (err.problems || []).map((p) => p.line).filter(Boolean);
      editor.mark(lines);
      fill(result, errorBox(err, (p) => editor.showLine(p.line)));
      if (lines.length && !pending) editor.showLine(lines[0]);
    }
  }

  function showAnswer(answer, dryRun) {
    const counts = summary(answer);
    if (answer && answer.version && (!dryRun || answer.kind === "saved")) {
      fill(result, h("div", { class: "alert alert--ok", dataset: { version: answer.version } },
        h("strong", {}, `Saved as version ${answer.version}.`), " The test stage answers from it now",
        counts ? ` (${counts}).` : ".", " ",
        h("a", { href: `#/p/${project.key}/try` }, "Try it →")));
      toast(`Version ${answer.version} saved.`);
    } else {
      fill(result, h("div", { class: "alert alert--ok", dataset: { valid: "true" } },
        h("strong", {}, "Valid."), counts ? ` ${counts}. ` : " ", "Nothing was stored."));
    }
  }

  async function load({ force = false } = {}) {
    editor.ready = false;
    if (kind.named && !treeName.value.trim()) { editor.value = ""; editor.ready = true; return; }
    fill(result, h("p", { class: "muted" }, "Loading the test stage's content…"));
    try {
      const found = await api(route(), { query: { stage: "test", ...(kind.query || {}) } });
      if (found instanceof Blob) return showArchive(found);
      if (force || !editor.edited) editor.value = asText(found, kind);
      fill(result);
    } catch (err) {
      if (force || !editor.edited) editor.value = "";
      fill(result, err.status === 404 ? h("p", { class: "muted" }, "Nothing stored yet: write some, or open a file.") : errorBox(err));
    } finally { editor.ready = true; }
  }

  /** Several AIML files come back as one zip: offer it, since the editor holds one document. */
  function showArchive(blob) {
    editor.value = "";
    const link = h("a", { href: URL.createObjectURL(blob), download: `${project.name}-aiml.zip`, class: "button button--quiet" }, "Download the zip");
    fill(result, h("div", { class: "alert alert--info" },
      h("strong", {}, "The test stage holds several AIML files."),
      h("p", {}, `They come as a zip (${size(blob.size)}). Saving from here replaces them all: upload a new .zip to keep several files.`), link));
  }

  async function loadTrees() {
    try {
      const found = await api(`${base}/behaviors`);
      const names = treeNames(found);
      fill(treeList, names.length ? names.map((name) => h("a", {
        class: ["chip", name === treeName.value && "chip--active"], href: `#/p/${project.key}/content/behaviors/${encodeURIComponent(name)}`,
      }, name)) : h("span", { class: "muted small" }, "No trees stored yet."));
    } catch (err) { fill(treeList, h("span", { class: "muted small" }, err.detail || String(err))); }
  }

  async function removeTree() {
    try {
      await api(route(), { method: "DELETE" });
      toast(`Tree ${treeName.value} deleted.`);
      ctx.go(`#/p/${project.key}/content/behaviors`);
    } catch (err) { fill(result, errorBox(err)); }
  }

  const tabs = h("nav", { class: "tabs", "aria-label": "Kind of content" }, KINDS.map((k) =>
    h("a", { href: `#/p/${project.key}/content/${k.id}`, class: ["tabs__tab", k === kind && "tabs__tab--active"], "aria-current": k === kind ? "page" : null, dataset: { kind: k.id } }, k.label)));
  const tools = h("div", { class: "toolbar" },
    writes(h("label", { class: "button button--quiet", for: "content-file" }, "Open file…")), fileInput,
    button("Reload", () => load({ force: true }), "quiet", { title: "Load what the test stage answers from" }),
    // A dry run is a PUT too: a viewer's token may not validate either.
    kind.dryRun ? writes(button("Validate", () => send(true), "", { id: "validate" })) : null,
    writes(button(kind.named ? "Save tree" : "Save to test", () => send(false), "primary", { id: "save" })),
    kind.named ? writes(button("Delete tree", removeTree, "danger quiet")) : null);
  const other = VIEWS[kind.id];
  const showing = other && args[1] === other[0] ? other[0] : "text";
  const switcher = other ? h("div", { class: "segmented", role: "group", "aria-label": "View", id: "content-view" },
    [[other[0], other[1]], ["text", "Text"]].map(([arg, label]) => h("a", {
      href: `#/p/${project.key}/content/${kind.id}${arg === "text" ? "" : `/${arg}`}`,
      class: ["segmented__item", showing === arg && "segmented__item--on"], dataset: { view: arg } }, label))) : null;
  let alt = null;
  if (showing !== "text") {
    try {
      const refresh = () => versions.refresh();
      alt = kind.id === "faq" ? await faqForm(ctx, base, refresh)
        : kind.id === "intents" ? await intentsForm(ctx, base, refresh) : await machineView(ctx, base);
    } catch (err) { alt = errorBox(err); }
  }
  fill(view, h("div", { class: "columns columns--wide-left" },
    h("div", { class: "stack" },
      card(null, null, tabs,
        h("div", { class: "hint-bar" }, h("p", { class: "muted small hint" }, kind.hint), switcher),
        kind.named ? h("div", { class: "tree-bar" }, h("label", { class: "field field--inline" }, h("span", { class: "field__label" }, "Tree"), treeName), treeList) : null,
        alt || [fileChip, result, editor.root, tools])),
    h("div", { class: "stack" }, versions.root)));
  if (alt) {
    versions.refresh();
    return () => { versions.stop(); alt.stop?.(); };
  }
  if (treeName) treeName.addEventListener("change", () => ctx.go(`#/p/${project.key}/content/behaviors/${encodeURIComponent(treeName.value.trim())}`));
  if (kind.named) loadTrees();
  await load();
  versions.refresh();
  return () => versions.stop();
}

/** What a stored piece of content looks like in the editor. */
function asText(found, kind) {
  if (typeof found === "string") return found;
  if (found && typeof found.xml === "string") return found.xml;
  if (found && kind.id === "aiml" && Array.isArray(found.files)) {
    return found.files.map((f) => `<!-- ${f.name} -->\n${f.text ?? f.content ?? ""}`).join("\n");
  }
  return JSON.stringify(found, null, 2);
}

function treeNames(found) {
  const list = Array.isArray(found) ? found : found?.items || found?.behaviors || found?.trees || [];
  return list.map((t) => (typeof t === "string" ? t : t.name)).filter(Boolean);
}

/** "12 categories, 3 FAQ groups" from a save or dry-run answer. */
function summary(answer) {
  if (!answer || typeof answer !== "object") return "";
  const parts = [
    [answer.categories, "AIML categories"], [answer.files, "files"], [answer.faq_groups, "FAQ groups"],
    [answer.intents, "intents"], [answer.machine_states, "states"],
  ];
  return parts.filter(([n]) => typeof n === "number" && n > 0).map(([n, what]) => `${n} ${what}`).join(", ");
}
