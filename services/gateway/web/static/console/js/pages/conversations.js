/* Conversations: search the project's sessions, read a transcript (who answered each turn and
   with which engine), and take a conversation over: while an operator holds it the bot stays
   silent for that session and the operator's messages reach the user on their protocol. The
   list and the open transcript refresh every few seconds. */

import { api, errorBox } from "../api.js";
import { h, fill, card, button, badge, ago, clock, empty, spinner, toast, writes, plural, modal, field } from "../dom.js";
import { store } from "../store.js";
import { rich, renderParts, plain } from "../rich.js";
import { loadPlotly } from "../plotly.js";

const LOW = 0.6; // an FAQ or NLU answer less sure than this is worth a look
const ENGINES = [["", "All answers"], ["fallback", "Not understood"], ["faq", "FAQ"], ["nlu", "NLU"], ["aiml", "AIML"], ["machine", "State machine"]];

const LIST_EVERY_MS = 5000;
const TRANSCRIPT_EVERY_MS = 2500;
const PROTOCOLS = ["", "xparo", "xparo-typed", "aida", "rsvp", "besser"];
const MAX_TURNS = 2000; // longer transcripts: export them

export function render(ctx) {
  const { view, setTitle, project, args } = ctx;
  const base = `/admin/projects/${project.key}`;
  const selected = args[0] || null;
  setTitle("Conversations", [{ text: project.title || project.name, href: `#/p/${project.key}/settings` }, { text: "Conversations" }]);
  const search = h("input", { class: "input", type: "search", id: "conv-search", placeholder: "Search questions and answers…", "aria-label": "Search" });
  const protocol = h("select", { class: "input input--inline", id: "conv-protocol", "aria-label": "Protocol" },
    PROTOCOLS.map((p) => h("option", { value: p }, p ? p.toUpperCase() : "All protocols")));
  const engine = h("select", { class: "input input--inline", id: "conv-engine", "aria-label": "Answered by" },
    ENGINES.map(([value, text]) => h("option", { value }, text)));
  const low = h("input", { type: "checkbox", id: "conv-low" });
  const held = h("input", { type: "checkbox", id: "conv-held" });
  const since = h("input", { class: "input input--inline", type: "date", id: "conv-since", "aria-label": "From" });
  const until = h("input", { class: "input input--inline", type: "date", id: "conv-until", "aria-label": "To" });
  const dayStart = (value, days = 0) => {
    if (!value) return undefined;
    const date = new Date(`${value}T00:00`);
    date.setDate(date.getDate() + days);
    return date.toISOString();
  };
  const filters = () => ({
    q: search.value.trim(), protocol: protocol.value, engine: engine.value,
    below: low.checked ? LOW : undefined, held: held.checked ? "true" : undefined,
    since: dayStart(since.value), until: dayStart(until.value, 1),
  });
  const list = h("ul", { class: "sessions", id: "sessions" });
  const more = button("Load more", () => loadList(true), "quiet", { hidden: true });
  const transcript = h("div", { class: "transcript-box", id: "transcript" },
    empty("No conversation open", "Choose one on the left to read it and take it over."));
  let next = null;
  let timers = [];
  let shownCount = 0;

  async function loadList(append = false) {
    const query = filters();
    try {
      const found = await api(`${base}/conversations`, { query: { ...query, limit: 30, cursor: append ? next : undefined } });
      const items = found.items || [];
      next = found.next;
      more.hidden = !next;
      if (!append) { list.replaceChildren(); shownCount = 0; }
      list.append(...items.map(sessionRow));
      shownCount += items.length;
      if (!shownCount) fill(list, empty(Object.values(query).some(Boolean) ? "Nothing matches" : "No conversations yet",
        query.q ? "Search looks in what users and the bot said." : "Chat on the Try it page, or connect a client."));
    } catch (err) { fill(list, errorBox(err)); }
  }

  function sessionRow(s) {
    // A held conversation with news since this tab last opened it: the operator should look.
    const seen = store.seen(project.key, s.session_id);
    const unread = Boolean(s.handoff) && s.session_id !== selected && (!seen || new Date(s.last_at) > new Date(seen));
    return h("li", {},
      h("a", { href: `#/p/${project.key}/conversations/${encodeURIComponent(s.session_id)}`, class: ["session", s.session_id === selected && "session--active"], dataset: { session: s.session_id, unread: String(unread) } },
        h("div", { class: "session__head" },
          unread ? h("span", { class: "unread-dot", title: "New messages since you last looked" }) : null,
          h("code", { class: "session__id" }, s.session_id), badge(s.protocol || "?", "muted"),
          s.handoff ? badge(`with ${s.handoff}`, "bad", { title: "Taken over by an operator" }) : null,
          h("span", { class: "muted small session__when" }, ago(s.last_at))),
        h("p", { class: "session__text", title: s.last_text || "" }, plain(s.last_text) || "…"),
        h("span", { class: "muted small" }, s.turns === undefined || s.turns === null ? "? turns" : plural(s.turns, "turn"))));
  }

  async function loadTranscript() {
    if (!selected) return;
    try {
      // Oldest first, a page at a time: follow `next` so the newest turns are shown too.
      const path = `${base}/conversations/${encodeURIComponent(selected)}`;
      const found = await api(path, { query: { limit: 200 } });
      let { next } = found;
      const items = [...(found.items || [])];
      while (next && items.length < MAX_TURNS) {
        const more = await api(path, { query: { limit: 200, cursor: next } });
        items.push(...(more.items || []));
        next = more.next;
      }
      showTranscript({ ...found, items });
    } catch (err) { fill(transcript, errorBox(err)); }
  }

  // Built once per open conversation, so a refresh never loses what the operator is typing.
  const head = h("header", { class: "transcript__head" });
  const turnsBox = h("div", { class: "transcript" });
  const input = h("input", { class: "input", id: "operator-text", autocomplete: "off", "aria-label": "Operator message" });
  const sendButton = h("button", { type: "submit", class: "button button--primary", id: "operator-send" }, "Send");
  const composer = writes(h("form", { class: "composer-bar" }, input, sendButton));
  composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    try {
      await say(text);
      input.value = "";
      loadTranscript();
    } catch (err) { toast(err.detail || String(err), "bad"); }
  });

  function showTranscript(found) {
    const session = found.session || found;
    const turns = found.turns || found.transcript || found.items || found.messages || [];
    if (session.last_at) {
      store.setSeen(project.key, selected, session.last_at); // read: no longer unread
      ctx.inbox?.refresh();
    }
    if (!transcript.contains(turnsBox)) fill(transcript, head, turnsBox, composer);
    const pinned = turnsBox.scrollHeight - turnsBox.scrollTop - turnsBox.clientHeight < 40;
    const operator = session.handoff ?? session.operator ?? null;
    fill(head,
      h("div", {}, h("code", {}, selected), " ", badge(session.protocol || "?", "muted"), " ",
        operator ? badge(`taken over by ${operator}`, "bad", { id: "handoff-state" }) : badge("bot answering", "ok", { id: "handoff-state" })),
      h("div", { class: "toolbar" },
        writes(operator ? button("Hand back to the bot", () => handoff("DELETE"), "", { id: "hand-back" })
          : button("Take over", () => handoff("POST"), "warn", { id: "take-over" }))));
    // Redrawn only when something was said (charts in it would flicker on every refresh).
    const shown = `${turns.length}:${turns.at(-1)?.at ?? ""}:${turns.at(-1)?.text ?? ""}`;
    if (shown !== turnsBox.dataset.shown) {
      turnsBox.dataset.shown = shown;
      entries = turns;
      fill(turnsBox, turns.length ? turns.map(turnRow) : h("p", { class: "muted" }, "No turns yet."));
    }
    input.disabled = sendButton.disabled = !operator;
    input.placeholder = operator ? "Answer as the operator…" : "Take over to answer as a person";
    if (pinned) turnsBox.scrollTop = turnsBox.scrollHeight;
  }

  let entries = [];

  /** A bot's plotly part, drawn small (plotly loads on the first one). */
  function drawPart(el, figure) {
    loadPlotly(ctx.config.plotly_version).then((Plotly) => Plotly.newPlot(el, figure.data || [], {
      ...(figure.layout || {}), height: 220, margin: { l: 40, r: 10, t: 30, b: 30 }, paper_bgcolor: "rgba(0,0,0,0)",
    }, { displayModeBar: false, responsive: true })).then(() => { el.dataset.rendered = "true"; })
      .catch(() => { el.textContent = "(the chart could not be drawn)"; });
  }

  function turnRow(t, n) {
    const author = t.author || "bot";
    const unsure = typeof t.confidence === "number" && t.confidence < LOW;
    // The bot's and operators' words are Markdown (sanitized); the user's are shown as typed.
    const text = author === "user" ? h("div", { class: "turn__text" }, t.text ?? "")
      : t.parts && t.parts.length ? h("div", { class: "turn__text turn__parts" }, renderParts(t.parts, drawPart))
        : rich(t.text, { class: "turn__text" });
    const answer = author === "user" ? entries.slice(n + 1).find((e) => e.author !== "user") : null;
    return h("div", { class: ["turn", `turn--${author}`, unsure && "turn--unsure"], dataset: { author, engine: t.engine || "" } },
      text,
      h("div", { class: "turn__meta" },
        h("span", {}, author === "operator" ? t.operator || "operator" : author),
        t.engine && author !== "user" ? badge(t.engine, t.engine === "operator" ? "bad" : t.engine === "fallback" ? "warn" : "info") : null,
        t.intent ? badge(`intent ${t.intent}`, "muted", { class: "badge badge--muted turn__intent" }) : null,
        typeof t.confidence === "number" ? h("span", { class: "turn__confidence", title: "How sure the engine was" }, `${Math.round(t.confidence * 100)} %`) : null,
        t.gid ? h("span", { class: "turn__faq", title: t.candidate ? `Closest paraphrase: ${t.candidate}` : "" }, `FAQ ${t.gid}`) : null,
        t.stage ? h("span", {}, t.stage + (t.version ? ` v${t.version}` : "")) : null,
        clock(t.at),
        author === "user" && t.event === "text" ? writes(button("Add as paraphrase", () => addParaphrase(t.text, answer), "link", { class: "button button--link turn__add" })) : null));
  }

  /** One click: the user's words become a paraphrase of an FAQ group (a new test version). */
  async function addParaphrase(question, answer) {
    let faq;
    try { faq = await api(`${base}/faq`, { query: { stage: "test", format: "json" } }); }
    catch (err) { toast(err.detail || String(err), "bad"); return; }
    const groups = faq.groups || [];
    if (!groups.length) { toast("This project has no FAQ yet: add groups on the Content page first.", "info"); return; }
    const gid = await modal("Add as a paraphrase", (close) => {
      const select = h("select", { class: "input", id: "paraphrase-group" }, groups.map((g) =>
        h("option", { value: g.gid, selected: answer && g.gid === answer.gid }, `${g.gid}: ${g.questions[0]}`)));
      return h("form", { class: "form", onsubmit: (event) => { event.preventDefault(); close(select.value); } },
        h("p", {}, "“", h("strong", {}, question), "” will be one more way to ask the group you choose, in a new version on the test stage."),
        field("FAQ group", select, answer && answer.gid ? "Preselected: the group the bot answered from" : "The group that should have answered"),
        h("div", { class: "modal__actions" },
          button("Cancel", () => close(null), "quiet"),
          h("button", { type: "submit", class: "button button--primary", id: "paraphrase-add" }, "Add")));
    });
    if (!gid) return;
    const group = groups.find((g) => g.gid === gid);
    if (group.questions.some((q) => q.trim().toLowerCase() === question.trim().toLowerCase())) {
      toast(`${gid} already has this question.`, "info");
      return;
    }
    group.questions.push(question);
    try {
      const saved = await api(`${base}/faq`, { method: "PUT", json: faq });
      toast(`Added to ${gid}: version ${saved.version} on the test stage.`);
    } catch (err) { toast(err.detail || String(err), "bad"); }
  }

  async function say(text) {
    const path = `${base}/conversations/${encodeURIComponent(selected)}/messages`;
    try {
      await api(path, { method: "POST", json: { text } });
    } catch (err) {
      if (err.status !== 404 || err.detail !== "Not Found") throw err;
      // a gateway without the conversations routes: the older alias
      await api(`${base}/sessions/${encodeURIComponent(selected)}/messages`, { method: "POST", json: { text } });
    }
  }

  async function handoff(method) {
    try {
      await api(`${base}/conversations/${encodeURIComponent(selected)}/handoff`, { method });
      toast(method === "POST" ? "You have the conversation: the bot is silent." : "Handed back to the bot.");
      await loadTranscript();
      loadList();
    } catch (err) { toast(err.detail || String(err), "bad"); }
  }

  async function exportAs(format) {
    try {
      const text = await api(`${base}/conversations/export`, { query: { format, ...filters() } });
      const blob = new Blob([typeof text === "string" ? text : JSON.stringify(text, null, 2)], { type: format === "csv" ? "text/csv" : "application/json" });
      const link = h("a", { href: URL.createObjectURL(blob), download: `conversations-${project.name}.${format}` });
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (err) { toast(err.detail || String(err), "bad"); }
  }

  let typing = 0;
  search.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => loadList(), 300); });
  for (const control of [protocol, engine, low, held, since, until]) control.addEventListener("change", () => loadList());
  fill(view, h("div", { class: "columns columns--list" },
    card("Sessions", h("div", { class: "toolbar" }, button("CSV", () => exportAs("csv"), "link", { title: "Export the matching turns as CSV" }), button("JSON", () => exportAs("json"), "link")),
      h("div", { class: "filters" }, search, protocol, engine,
        h("label", { class: "check" }, low, " Low confidence"), h("label", { class: "check" }, held, " Taken over"),
        h("span", { class: "filters__dates" }, since, "–", until)), list, more),
    card(null, null, transcript)));
  if (selected) fill(transcript, spinner());
  loadList();
  loadTranscript();
  timers.push(setInterval(() => { if (!next || shownCount <= 30) loadList(); }, LIST_EVERY_MS));
  if (selected) timers.push(setInterval(loadTranscript, TRANSCRIPT_EVERY_MS));
  return () => { timers.forEach(clearInterval); timers = []; };
}
