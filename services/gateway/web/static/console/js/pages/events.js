/* Live events: what happens in the project now (turns, replies, handoffs, robots, commands,
   telemetry, content), read from the gateway's Server-Sent Events feed with fetch(). */

import { eventStream, errorBox } from "../api.js";
import { h, fill, card, badge, button, empty } from "../dom.js";

const KEEP = 300;
const KINDS = {
  turn: ["User", "info"], reply: ["Bot", "ok"], handoff: ["Handoff", "bad"], session: ["Session", "muted"],
  robot: ["Robot", "warn"], command: ["Command", "warn"], telemetry: ["Telemetry", "muted"],
  content: ["Content", "info"], project: ["Project", "bad"], dropped: ["Dropped", "bad"],
};

export function render(ctx) {
  const { view, setTitle, project } = ctx;
  setTitle("Live events", [{ text: project.title || project.name, href: `#/p/${project.key}/settings` }, { text: "Live events" }]);
  const hidden = new Set(["telemetry"]); // a robot's samples would drown everything else
  let paused = false;
  let count = 0;
  const feed = h("ol", { class: "feed", id: "feed" });
  const waiting = empty("Listening…", "Events appear here as they happen: chat on Try it, or connect a robot.");
  const state = h("span", { class: "live", id: "live-state", dataset: { state: "connecting" } }, h("span", { class: "live__dot" }), h("span", { class: "live__text" }, "Connecting…"));
  const filters = h("div", { class: "chips" }, Object.entries(KINDS).filter(([k]) => k !== "dropped").map(([kind, [label]]) => {
    const chip = h("button", { type: "button", class: ["chip", !hidden.has(kind) && "chip--active"], "aria-pressed": String(!hidden.has(kind)), dataset: { kind } }, label);
    chip.addEventListener("click", () => {
      if (hidden.has(kind)) hidden.delete(kind); else hidden.add(kind);
      chip.classList.toggle("chip--active", !hidden.has(kind));
      chip.setAttribute("aria-pressed", String(!hidden.has(kind)));
      for (const row of feed.children) row.hidden = hidden.has(row.dataset.kind);
    });
    return chip;
  }));
  const pause = button("Pause", () => { paused = !paused; pause.textContent = paused ? "Resume" : "Pause"; }, "quiet", { id: "feed-pause" });
  const clear = button("Clear", () => { feed.replaceChildren(); count = 0; }, "quiet");
  fill(view, card("Live events", h("div", { class: "toolbar" }, state, pause, clear), filters, h("div", { class: "feed-box" }, waiting, feed)));

  const stream = eventStream(`/admin/projects/${project.key}/events`, {
    onEvent({ event, data }) {
      if (paused) return;
      waiting.remove();
      const row = eventRow(event, data);
      row.hidden = hidden.has(event);
      feed.prepend(row);
      count += 1;
      if (count > KEEP) { feed.lastElementChild.remove(); count -= 1; }
    },
    onState(now, error) {
      state.dataset.state = now;
      const text = { open: "Live", retrying: "Reconnecting…", failed: "Stopped", closed: "Closed" }[now] || now;
      state.querySelector(".live__text").textContent = text;
      if (now === "failed" && error) fill(waiting.isConnected ? waiting : feed, errorBox(error));
    },
  });
  return () => stream.close();
}

function eventRow(kind, data) {
  const [label, tone] = KINDS[kind] || [kind, "muted"];
  const at = data && data.at ? new Date(data.at) : new Date();
  return h("li", { class: "feed__item", dataset: { kind } },
    h("time", { class: "feed__time", datetime: at.toISOString() }, at.toLocaleTimeString()),
    badge(label, tone), h("div", { class: "feed__body" }, describe(kind, data || {})));
}

/** A sentence per event kind; ids stay visible so an operator can find the session or robot. */
function describe(kind, d) {
  const who = (id) => h("code", {}, id ?? "?");
  switch (kind) {
    case "turn": return [who(d.session_id), ` (${d.protocol || "?"}) said: `, h("q", {}, d.text ?? "")];
    case "reply": return [who(d.session_id), ` got ${d.source === "operator" ? "the operator's" : `${d.engine || "the bot"}'s`} answer: `, h("q", {}, d.text ?? "")];
    case "handoff": return [who(d.session_id), d.operator ? ` taken over by ${d.operator}` : " handed back to the bot"];
    case "session": return [who(d.session_id), ` ${d.state || "changed"}`];
    case "robot": return [who(d.robot_id), ` ${d.state || "changed"}`, d.key ? ` (${d.key})` : ""];
    case "command": return [who(d.robot_id), " command ", d.type ? h("code", {}, d.type) : "", " ", statusText(d.status), d.by ? ` by ${String(d.by).replace(/^admin:/, "")}` : ""];
    case "telemetry": return [who(d.robot_id), " ", Object.entries(d.metrics || {}).slice(0, 6).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(1) : v}`).join(" · ")];
    case "content": return [`version ${d.version ?? "?"} saved or published`, d.change ? ` (${d.change})` : ""];
    case "project": return [`the project was ${d.state || "changed"}`];
    case "dropped": return [`${d.count} events skipped: the page fell behind`];
    default: return [JSON.stringify(d)];
  }
}

function statusText(status) {
  return badge(status || "?", { queued: "warn", delivered: "info", acknowledged: "ok", expired: "bad" }[status] || "muted");
}
