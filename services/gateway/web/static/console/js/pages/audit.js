/* The audit log of one project: every change an operator made through the admin API (who, what,
   when, with the request's answer), newest first, a page at a time. */

import { page, errorBox } from "../api.js";
import { h, fill, card, badge, time, empty, button } from "../dom.js";

export function render(ctx) {
  const { view, setTitle, project } = ctx;
  setTitle("Audit log", [{ text: project.title || project.name, href: `#/p/${project.key}/settings` }, { text: "Audit log" }]);
  const rows = h("tbody");
  const more = button("Load older changes", () => load(true), "quiet", { hidden: true, id: "audit-more" });
  let next = null;
  fill(view, card("Changes to this project", null,
    h("div", { class: "table-wrap" }, h("table", { class: "table table--compact", id: "audit" },
      h("thead", {}, h("tr", {}, ["When", "Who", "Change", "Target", "Answer"].map((t) => h("th", {}, t)))), rows)),
    h("div", { class: "toolbar" }, more)));

  async function load(append = false) {
    try {
      const found = await page(`/admin/projects/${project.key}/audit`, { limit: 50, cursor: append ? next : undefined });
      next = found.next;
      more.hidden = !next;
      if (!append) rows.replaceChildren();
      rows.append(...(found.items || []).map((e) => h("tr", { dataset: { action: e.action } },
        h("td", {}, time(e.at)),
        h("td", {}, (e.actor || "").replace(/^admin:/, "")),
        h("td", {}, h("code", {}, e.action)),
        h("td", { class: "muted small" }, e.target),
        h("td", {}, badge(String(e.status), e.status < 300 ? "ok" : "warn")))));
      if (!rows.children.length) fill(rows, h("tr", {}, h("td", { colspan: 5 }, empty("No changes yet", "Saving content, publishing, taking a conversation over, sending a command: each change is listed here."))));
    } catch (err) { fill(rows, h("tr", {}, h("td", { colspan: 5 }, errorBox(err)))); }
  }
  load();
  return undefined;
}
