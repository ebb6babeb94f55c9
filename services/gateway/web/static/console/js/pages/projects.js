/* All projects: the list this token covers, and creating a project (its secret is shown once). */

import { api, errorBox } from "../api.js";
import { h, fill, badge, card, button, empty, field, modal, time, copy, toast, plural } from "../dom.js";
import { store } from "../store.js";

export async function render(ctx) {
  const { view, setTitle, me } = ctx;
  setTitle("Projects", [{ text: "Switchboard" }]);
  let projects = ctx.projects;
  try { projects = await ctx.reloadProjects(); } // other operators may have changed them
  catch (err) { fill(view, errorBox(err)); return; }
  const canCreate = me.projects === null && !ctx.readOnly;
  const create = canCreate ? button("New project", () => createProject(ctx), "primary", { id: "new-project" }) : null;
  const list = projects.length ? projectTable(projects) : empty(
    "No projects yet",
    canCreate || (ctx.readOnly && me.projects === null) ? "A project is one bot: its content, its conversations and its robots."
      : "This token covers no project. Ask for a token that covers one.",
    create ? button("Create the first project", () => createProject(ctx), "primary") : null);
  fill(view, h("div", { class: "stack" },
    h("div", { class: "stats" },
      stat("Projects", projects.length),
      stat("Signed in as", me.name),
      stat("Scope", me.projects === null ? "All projects" : plural(me.projects.length, "project")),
      ctx.readOnly ? stat("Role", "Viewer (read-only)") : null),
    card(`Projects (${projects.length})`, create, list)));
}

function stat(label, value) {
  return h("div", { class: "stat" }, h("span", { class: "stat__label" }, label), h("strong", { class: "stat__value" }, value));
}

function projectTable(projects) {
  const rows = projects.map((p) => h("tr", { dataset: { project: p.key } },
    h("td", {}, h("a", { href: `#/p/${p.key}/content`, class: "strong" }, p.title || p.name),
      p.title && p.title !== p.name ? h("div", { class: "muted small" }, p.name) : null),
    h("td", {}, h("code", { class: "key", title: p.key }, p.key.slice(0, 8))),
    h("td", {}, h("code", {}, `${p.secret_prefix}…`)),
    h("td", {}, time(p.created_at)),
    h("td", {}, h("div", { class: "row-links" },
      h("a", { href: `#/p/${p.key}/try` }, "Try it"),
      h("a", { href: `#/p/${p.key}/conversations` }, "Conversations"),
      h("a", { href: `#/p/${p.key}/robots` }, "Robots"),
      h("a", { href: `#/p/${p.key}/settings` }, "Settings"),
      store.secret(p.key) ? badge("secret in this tab", "ok", { title: "Try it can chat as a client" }) : null))));
  return h("div", { class: "table-wrap" }, h("table", { class: "table", id: "projects-table" },
    h("thead", {}, h("tr", {}, ["Project", "Key", "Secret", "Created", ""].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows)));
}

async function createProject(ctx) {
  const made = await modal("New project", (close) => {
    const name = h("input", { class: "input", name: "name", required: true, placeholder: "ward-robots", autocomplete: "off" });
    const title = h("input", { class: "input", name: "title", placeholder: "Ward robots (shown to users)", autocomplete: "off" });
    const status = h("div");
    const form = h("form", { class: "form", id: "new-project-form" },
      field("Name", name, "Unique; letters, digits, spaces and . @ : - _"),
      field("Title", title, "Optional: the bot's title as clients show it"),
      status,
      h("div", { class: "modal__actions" },
        button("Cancel", () => close(null), "quiet"),
        h("button", { type: "submit", class: "button button--primary" }, "Create project")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        close(await api("/admin/projects", { method: "POST", json: { name: name.value.trim(), title: title.value.trim() } }));
      } catch (err) { fill(status, errorBox(err)); }
    });
    setTimeout(() => name.focus());
    return form;
  });
  if (!made) return;
  store.setSecret(made.project.key, made.secret);
  await ctx.reloadProjects();
  await showSecret(made.project, made.secret, "Project created");
  toast(`Project ${made.project.name} created.`);
  ctx.go(`#/p/${made.project.key}/content`);
}

/** The secret, shown this once (the server keeps only its hash). */
export function showSecret(project, secret, title) {
  return modal(title, (close) => {
    const copyButton = button("Copy", () => copy(secret, copyButton), "", { id: "secret-copy" });
    return h("div", { class: "secret-box" },
      h("p", {}, "This is the secret of ", h("strong", {}, project.name),
        ". Clients and robots use it to connect. ", h("strong", {}, "It is shown only now:"),
        " copy it somewhere safe. This browser tab keeps it too, for “Try it”."),
      h("div", { class: "secret" }, h("code", { id: "project-secret" }, secret), copyButton),
      h("dl", { class: "facts" }, h("dt", {}, "Project key"), h("dd", {}, h("code", {}, project.key))),
      h("div", { class: "modal__actions" }, button("I have copied it", () => close(true), "primary", { id: "secret-done" })));
  });
}
