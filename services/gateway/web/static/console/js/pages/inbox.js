/* The handoff inbox: sessions waiting for a human (a user asked for one: a keyword, an intent or
   a machine state the project set raised it), and sessions operators hold, with a dot on those
   that have news since this tab last opened them. Below: what raises a request. */

import { api, errorBox } from "../api.js";
import { h, fill, card, badge, ago, empty, button, field, toast, writes } from "../dom.js";
import { isUnread } from "../inbox_watch.js";
import { plain } from "../rich.js";

export function render(ctx) {
  const { view, setTitle, project } = ctx;
  const base = `/admin/projects/${project.key}`;
  setTitle("Inbox", [{ text: project.title || project.name, href: `#/p/${project.key}/settings` }, { text: "Inbox" }]);
  const waiting = h("div", { id: "inbox-waiting" }, h("p", { class: "muted" }, "Loading…"));
  const held = h("div", { id: "inbox-held" });
  const triggers = h("div", { id: "handoff-triggers" });
  fill(view, h("div", { class: "columns columns--wide-left" },
    h("div", { class: "stack" }, card("Waiting for a human", null, waiting), card("Held by operators", null, held)),
    writes(card("What raises a request", null, triggers))));

  const row = (item) => {
    const s = item.session;
    const unread = isUnread(project.key, item);
    return h("a", { class: "inbox-item", href: `#/p/${project.key}/conversations/${encodeURIComponent(s.session_id)}`,
      dataset: { session: s.session_id, unread: String(unread) } },
      h("span", { class: "unread-dot", title: unread ? "New since you last looked" : "" }),
      h("span", {}, h("code", { class: "strong" }, s.session_id), " ", badge(s.protocol || "?", "muted"),
        unread ? h("span", { class: "visually-hidden" }, " (unread)") : null),
      h("span", { class: "muted small" }, ago(s.last_at)),
      h("span", { class: "inbox-item__reason" }, item.reason, s.last_text ? ` · last: ${plain(s.last_text)}` : ""));
  };
  const unsubscribe = ctx.inbox.subscribe((items) => {
    const asking = items.filter((i) => i.waiting);
    const holding = items.filter((i) => !i.waiting);
    fill(waiting, asking.length ? asking.map(row) : empty("Nobody is waiting",
      "A session shows up here when its user asks for a human: the keywords, intents or states on the right raise it."));
    fill(held, holding.length ? holding.map(row) : h("p", { class: "muted" }, "No operator holds a conversation."));
  });
  ctx.inbox.refresh();
  if (!ctx.readOnly) loadTriggers(base, triggers);
  return () => unsubscribe();
}

async function loadTriggers(base, box) {
  let current;
  try { current = await api(`${base}/handoff-triggers`); } catch (err) { fill(box, errorBox(err)); return; }
  const list = (name, hint) => {
    const input = h("input", { class: "input chips-input", name, value: (current[name] || []).join(", "), autocomplete: "off" });
    return [input, field(name === "keywords" ? "Keywords" : name === "intents" ? "Intents" : "Machine states", input, hint)];
  };
  const [keywords, keywordsField] = list("keywords", "Comma-separated; found anywhere in what the user says, any case.");
  const [intents, intentsField] = list("intents", "Comma-separated intent names (from your intents file).");
  const [states, statesField] = list("states", "Comma-separated state names: a session resting in one waits for a human.");
  const status = h("div", { id: "triggers-status" });
  const save = h("button", { type: "submit", class: "button button--primary", id: "triggers-save" }, "Save");
  const form = h("form", { class: "form", id: "triggers-form" }, keywordsField, intentsField, statesField,
    h("div", { class: "form__actions" }, save), status);
  const split = (input) => input.value.split(",").map((v) => v.trim()).filter(Boolean);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { keywords: split(keywords), intents: split(intents), states: split(states) };
    const long = [...body.keywords, ...body.intents, ...body.states].find((v) => v.length > 100);
    if (long) { fill(status, h("div", { class: "alert alert--error", role: "alert" }, `“${long.slice(0, 30)}…” is too long: keep each one under 100 characters.`)); return; }
    save.disabled = true;
    try {
      await api(`${base}/handoff-triggers`, { method: "PUT", json: body });
      fill(status);
      toast("Saved: new requests are raised by these.");
    } catch (err) { fill(status, errorBox(err)); }
    finally { save.disabled = false; }
  });
  fill(box, form, h("p", { class: "muted small" }, "An operator's answer (or taking the conversation over) settles a request."),
    button("Reset to the defaults", () => { keywords.value = "human, operator, agent"; intents.value = ""; states.value = ""; }, "link"));
}
