/* A robot's command console: send a command (queued now, delivered when the robot is
   connected), then follow it — GET /commands/{id} until it is delivered, acknowledged or
   expired — beside the robot's recent commands. */

import { api, errorBox } from "../api.js";
import { h, fill, card, badge, ago, field, empty, toast, writes } from "../dom.js";

const FOLLOW_EVERY_MS = 1000;
const FOLLOW_FOR_MS = 120000;
const HISTORY_EVERY_MS = 4000;
const TONES = { queued: "warn", delivered: "info", acknowledged: "ok", expired: "bad" };
const FINAL = new Set(["acknowledged", "expired"]);
/** Each command type with a starting `data` for the editor. */
const TEMPLATES = {
  remote_command: { command: "start_navigation", parameters: { goal: "ward-3" } },
  behavior_update: { tree_name: "MainTree" },
  log_updated: { session_id: "1" },
  REST_API_TOKEN: {},
};

export function statusBadge(status) {
  return badge(status || "unknown", TONES[status] || "muted", { dataset: { status: status || "" } });
}

export function commandConsole(ctx, robotId) {
  const base = `/admin/projects/${ctx.project.key}`;
  const type = h("select", { class: "input", id: "command-type" }, Object.keys(TEMPLATES).map((t) => h("option", { value: t }, t)));
  const data = h("textarea", { class: "input textarea input--mono", id: "command-data", rows: 5, spellcheck: "false" });
  const expires = h("input", { class: "input", id: "command-expires", type: "number", min: 1, placeholder: "never" });
  const status = h("div", { class: "command-status", id: "command-status", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "button button--primary", id: "command-send" }, "Send command");
  const form = h("form", { class: "form" },
    h("div", { class: "form__row" }, field("Type", type), field("Expires after (s)", expires, "Not delivered after this")),
    field("Data (JSON)", data, "The command's fields, as the robot receives them"),
    h("div", { class: "form__actions" }, submit), status);
  const rows = h("tbody");
  const history = card("Recent commands", null, h("div", { class: "table-wrap" }, h("table", { class: "table table--compact", id: "commands" },
    h("thead", {}, h("tr", {}, ["Command", "Status", "Issued", "By"].map((t) => h("th", {}, t)))), rows)));
  const timers = new Set();
  let stopped = false;

  const useTemplate = () => { data.value = JSON.stringify(TEMPLATES[type.value], null, 2); };
  type.addEventListener("change", useTemplate);
  useTemplate();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let parsed;
    try { parsed = data.value.trim() ? JSON.parse(data.value) : {}; }
    catch (err) { fill(status, h("div", { class: "alert alert--error" }, `The data is not JSON: ${err.message}`)); return; }
    const body = { type: type.value, data: parsed };
    if (expires.value) body.expires_in_s = Number(expires.value);
    submit.disabled = true;
    try {
      const queued = await api(`${base}/robots/${encodeURIComponent(robotId)}/commands`, { method: "POST", json: body });
      toast(`${queued.type} queued for ${robotId}.`);
      follow(queued);
      refreshHistory();
    } catch (err) { fill(status, errorBox(err)); }
    finally { submit.disabled = false; }
  });

  /** Show the sent command's status as it changes. */
  function follow(queued) {
    const line = h("div", { class: "followed", dataset: { command: queued.command_id } },
      h("code", {}, queued.type), statusBadge("queued"), h("span", { class: "muted small" }, "waiting for the robot…"));
    fill(status, line);
    const started = Date.now();
    const timer = setInterval(async () => {
      if (stopped || Date.now() - started > FOLLOW_FOR_MS) { clearInterval(timer); timers.delete(timer); return; }
      try {
        const found = await api(`${base}/commands/${queued.command_id}`);
        fill(line, h("code", {}, queued.type), statusBadge(found.status), h("span", { class: "muted small" }, describe(found)));
        if (FINAL.has(found.status)) { clearInterval(timer); timers.delete(timer); refreshHistory(); }
      } catch (err) {
        if (err.status !== 404) { clearInterval(timer); timers.delete(timer); fill(status, errorBox(err)); }
      }
    }, FOLLOW_EVERY_MS);
    timers.add(timer);
  }

  async function refreshHistory() {
    try {
      const found = await api(`${base}/robots/${encodeURIComponent(robotId)}/commands`, { query: { limit: 15 } });
      if (stopped) return;
      const commands = found.commands || found.items || [];
      fill(rows, commands.length ? commands.map((c) => h("tr", { dataset: { command: c.command_id } },
        h("td", {}, commandText(c)), h("td", {}, statusBadge(c.status)),
        h("td", { title: c.issued_at || "" }, ago(c.issued_at)), h("td", { class: "muted" }, (c.issued_by || "").replace(/^admin:/, ""))))
        : h("tr", {}, h("td", { colspan: 4 }, empty("No commands yet", "Commands sent from here show up with their delivery status."))));
    } catch (err) { fill(rows, h("tr", {}, h("td", { colspan: 4 }, errorBox(err)))); }
  }

  refreshHistory();
  const historyTimer = setInterval(refreshHistory, HISTORY_EVERY_MS);
  return {
    form: writes(card("Send a command", null, form)),
    history,
    stop() { stopped = true; clearInterval(historyTimer); timers.forEach(clearInterval); },
  };
}

/** What a command asked: "remote_command · start_navigation {goal: ward-3}", its fields in full
    as the tooltip. */
function commandText(c) {
  const data = c.data || {};
  let what = "";
  if (c.type === "remote_command" && data.command) {
    const params = Object.entries(data.parameters || {}).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
    what = `${data.command}${params.length ? ` {${params.join(", ")}}` : ""}`;
  } else if (Object.keys(data).length) {
    what = Object.entries(data).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ");
  }
  return h("span", { class: "command-text", title: JSON.stringify(data, null, 2) },
    h("code", {}, c.type || "?"), what ? h("span", { class: "command-text__what" }, ` ${what}`) : null);
}

function describe(found) {
  if (found.status === "acknowledged") return `acknowledged ${ago(found.acknowledged_at)}`;
  if (found.status === "delivered") return `delivered ${ago(found.delivered_at)}, not acknowledged yet`;
  if (found.status === "expired") return "expired before the robot took it";
  return "queued: delivered when the robot is connected";
}
