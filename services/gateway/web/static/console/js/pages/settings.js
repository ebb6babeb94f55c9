/* One project's settings: name, title and the XPARO prompt fields (PATCH), rotating the secret
   (shown once), and deleting the project (its name typed as confirmation). */

import { api, errorBox } from "../api.js";
import { h, fill, card, button, field, modal, confirmBox, toast, writes } from "../dom.js";
import { store } from "../store.js";
import { showSecret } from "./projects.js";

const FIELDS = [
  ["name", "Name", "input", "Unique; how operators and tokens refer to the project"],
  ["title", "Title", "input", "The bot's title as clients show it"],
  ["description", "Description", "textarea", "For operators"],
  ["fallback", "Fallback answer", "textarea", "Said when no engine has an answer"],
  ["goal", "Goal", "textarea", "XPARO: the bot's goal"],
  ["rules", "Rules", "textarea", "XPARO: the bot's rules"],
  ["system", "System prompt", "textarea", "XPARO: the system prompt"],
];

export async function render(ctx) {
  const { view, setTitle, project } = ctx;
  setTitle("Settings", [{ text: "Projects", href: "#/projects" }, { text: project.title || project.name }]);
  let current = project;
  try { current = await api(`/admin/projects/${project.key}`); } catch (err) { fill(view, errorBox(err)); return; }
  const controls = {};
  const status = h("div");
  const form = h("form", { class: "form form--grid", id: "settings-form" },
    FIELDS.map(([name, label, kind, hint]) => {
      controls[name] = h(kind, { class: kind === "input" ? "input" : "input textarea", name, rows: 3, value: current[name] ?? "", readonly: ctx.readOnly });
      return field(label, controls[name], hint);
    }),
    status,
    writes(h("div", { class: "form__actions" }, h("button", { type: "submit", class: "button button--primary", id: "settings-save" }, "Save changes"))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const changes = {};
    for (const [name] of FIELDS) if (controls[name].value !== (current[name] ?? "")) changes[name] = controls[name].value;
    if (!Object.keys(changes).length) { fill(status, h("p", { class: "alert alert--info" }, "Nothing changed.")); return; }
    try {
      current = await api(`/admin/projects/${project.key}`, { method: "PATCH", json: changes });
      fill(status);
      toast("Settings saved.");
      await ctx.reloadProjects();
    } catch (err) { fill(status, errorBox(err)); }
  });
  fill(view, h("div", { class: "columns" },
    card("Configuration", null, form),
    h("div", { class: "stack" },
      card("Identity", null, h("dl", { class: "facts" },
        h("dt", {}, "Project key"), h("dd", {}, h("code", {}, project.key)),
        h("dt", {}, "Secret"), h("dd", {}, h("code", {}, `${current.secret_prefix}…`)),
        h("dt", {}, "Secret in this tab"), h("dd", {}, store.secret(project.key) ? "yes" : "no"))),
      writes(card("Rotate the secret", null,
        h("p", { class: "muted" }, "Every client and robot using the old secret is refused at once."),
        button("Rotate secret…", () => rotate(ctx, current), "warn", { id: "rotate" }))),
      writes(card("Delete the project", null,
        h("p", { class: "muted" }, "Deletes its content, conversations, robots' telemetry, schedules and media. This cannot be undone."),
        button("Delete project…", () => remove(ctx, current), "danger", { id: "delete" }))))));
}

async function rotate(ctx, project) {
  if (!(await confirmBox("Rotate the secret?", `Clients of ${project.name} must be given the new secret.`, "Rotate", "warn"))) return;
  try {
    const made = await api(`/admin/projects/${project.key}/secret`, { method: "POST" });
    store.setSecret(project.key, made.secret);
    await showSecret(made.project, made.secret, "New secret");
    ctx.go(location.hash);
  } catch (err) { toast(err.detail || String(err), "bad"); }
}

async function remove(ctx, project) {
  const done = await modal("Delete this project?", (close) => {
    const typed = h("input", { class: "input", autocomplete: "off", id: "confirm-name", placeholder: project.name });
    const go = button("Delete for ever", async () => {
      try {
        await api(`/admin/projects/${project.key}`, { method: "DELETE", query: { confirm: typed.value } });
        close(true);
      } catch (err) { fill(status, errorBox(err)); }
    }, "danger", { disabled: true });
    const status = h("div");
    typed.addEventListener("input", () => { go.disabled = typed.value !== project.name; });
    return h("div", { class: "form" },
      h("p", {}, "Type ", h("strong", {}, project.name), " to confirm. Its clients are refused at once; its data is then deleted by every service."),
      typed, status, h("div", { class: "modal__actions" }, button("Cancel", () => close(false), "quiet"), go));
  });
  if (!done) return;
  store.setSecret(project.key, null);
  toast(`Project ${project.name} is being deleted.`);
  await ctx.reloadProjects();
  ctx.go("#/projects");
}
