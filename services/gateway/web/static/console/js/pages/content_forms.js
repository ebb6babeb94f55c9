/* Content without raw text: the FAQ and the intents as forms (checked as the operator types, in
   plain words, before anything is sent), and the state machine drawn as a diagram with the
   state a live session is in highlighted. The text editors stay the power user's path. */

import { api, errorBox } from "../api.js";
import { h, fill, card, button, toast, writes, empty } from "../dom.js";

const GID = /^[A-Za-z0-9_.:-]+$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const lines = (text) => text.split("\n").map((l) => l.trim()).filter(Boolean);
const commas = (text) => text.split(",").map((l) => l.trim()).filter(Boolean);

/** A labelled control with room for its own problem, said under it. */
function slot(label, control, hint) {
  const problem = h("span", { class: "field__error", role: "alert", hidden: true });
  const box = h("label", { class: "field" }, h("span", { class: "field__label" }, label), control,
    hint ? h("span", { class: "field__hint" }, hint) : null, problem);
  return { box, control, say(text) { problem.hidden = !text; problem.textContent = text || ""; box.classList.toggle("field--bad", Boolean(text)); } };
}

async function loadJson(path) {
  try { return await api(path, { query: { stage: "test", format: "json" } }); }
  catch (err) { if (err.status === 404) return null; throw err; }
}

/** Save `document` with PUT; the answer (or the API's problems, in words) goes in `result`. */
async function save(path, document, result, onSaved) {
  fill(result, h("p", { class: "muted" }, "Saving…"));
  try {
    const answer = await api(path, { method: "PUT", json: document });
    fill(result, h("div", { class: "alert alert--ok", dataset: { version: answer.version } },
      h("strong", {}, `Saved as version ${answer.version}.`), " The test stage answers from it now."));
    toast(`Version ${answer.version} saved.`);
    onSaved();
  } catch (err) { fill(result, errorBox(err)); }
}

function problemsBox(problems) {
  return h("div", { class: "alert alert--error", role: "alert", id: "form-problems" },
    h("strong", {}, problems.length === 1 ? "One thing to fix before saving:" : `${problems.length} things to fix before saving:`),
    h("ul", { class: "problems" }, problems.map((p) => h("li", { class: "problems__item" }, p))));
}

export async function faqForm(ctx, base, onSaved) {
  const faq = (await loadJson(`${base}/faq`)) || { groups: [] };
  const list = h("div", { class: "form-groups", id: "faq-groups" });
  const result = h("div", { class: "result", id: "form-result", "aria-live": "polite" });
  const rows = [];

  function addGroup(group = { gid: "", questions: [], answer: "", labels: [] }) {
    const gid = slot("Group id", h("input", { class: "input input--mono", name: "gid", value: group.gid, autocomplete: "off" }), "Letters, digits and . _ : -");
    const questions = slot("Questions", h("textarea", { class: "input textarea", name: "questions", rows: 3 }), "One way of asking per line");
    questions.control.value = (group.questions || []).join("\n");
    const answer = slot("Answer", h("textarea", { class: "input textarea", name: "answer", rows: 2 }), "Markdown works");
    answer.control.value = group.answer || "";
    const labels = slot("Labels", h("input", { class: "input", name: "labels", value: (group.labels || []).join(", ") }), "Optional, comma-separated");
    const row = { group, gid, questions, answer, labels };
    const box = h("fieldset", { class: "form-group", dataset: { gid: group.gid } },
      h("div", { class: "form__row" }, gid.box, labels.box), questions.box, answer.box,
      writes(button("Remove this group", () => { box.remove(); rows.splice(rows.indexOf(row), 1); }, "link")));
    row.box = box;
    for (const part of [gid, questions, answer]) part.control.addEventListener("input", () => check(row));
    rows.push(row);
    list.append(box);
    return row;
  }

  /** The row's problems in words, each shown under its field; [] when it is fine. */
  function check(row) {
    const n = rows.indexOf(row) + 1;
    const id = row.gid.control.value.trim();
    const said = [];
    const sayAbout = (part, text) => { part.say(text); if (text) said.push(`Group ${n}${id ? ` (${id})` : ""}: ${text}`); };
    const duplicate = id && rows.some((other) => other !== row && other.gid.control.value.trim() === id);
    sayAbout(row.gid, !id ? "give the group an id, e.g. visiting_hours" : !GID.test(id) ? "use only letters, digits and . _ : - (no spaces)"
      : duplicate ? `another group already has the id ${id}` : "");
    sayAbout(row.questions, lines(row.questions.control.value).length ? "" : "add at least one question, one per line");
    sayAbout(row.answer, row.answer.control.value.trim() ? "" : "write the answer the bot gives");
    return said;
  }

  (faq.groups || []).forEach((g) => addGroup(g));
  if (!rows.length) addGroup();
  const submit = h("button", { type: "submit", class: "button button--primary", id: "form-save" }, "Save to test");
  const form = h("form", { class: "form", id: "faq-form", novalidate: true }, list, result,
    writes(h("div", { class: "form__actions" }, button("Add a group", () => addGroup().gid.control.focus(), "quiet", { id: "faq-add" }), submit)));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const problems = rows.flatMap(check);
    if (problems.length) { fill(result, problemsBox(problems)); return; }
    const groups = rows.map(({ group, gid, questions, answer, labels }) => ({
      ...group, gid: gid.control.value.trim(), questions: lines(questions.control.value),
      answer: answer.control.value.trim(), labels: commas(labels.control.value),
    }));
    save(`${base}/faq`, { ...faq, groups }, result, onSaved);
  });
  return form;
}

export async function intentsForm(ctx, base, onSaved) {
  const doc = (await loadJson(`${base}/intents`)) || { intents: [], entities: [] };
  const list = h("div", { class: "form-groups", id: "intent-list" });
  const result = h("div", { class: "result", id: "form-result", "aria-live": "polite" });
  const rows = [];
  const entityNames = new Set((doc.entities || []).map((e) => e.name));

  function addIntent(intent = { name: "", sentences: [], response: "", slots: [] }) {
    const name = slot("Intent", h("input", { class: "input input--mono", name: "name", value: intent.name, autocomplete: "off" }), "Letters, digits and _");
    const sentences = slot("Example sentences", h("textarea", { class: "input textarea", name: "sentences", rows: 3 }), "One per line; {slot} marks a value, e.g. book a table for {people}");
    sentences.control.value = (intent.sentences || []).join("\n");
    const response = slot("Response", h("textarea", { class: "input textarea", name: "response", rows: 2 }), "What the bot says; {slot} says a value");
    response.control.value = intent.response || "";
    const slots = slot("Slots", h("textarea", { class: "input textarea input--mono", name: "slots", rows: 2 }), "One per line: name: entity (system_location, system_date, system_time, system_number or yours)");
    slots.control.value = (intent.slots || []).map((s) => `${s.name}: ${s.entity}`).join("\n");
    const row = { intent, name, sentences, response, slots };
    const box = h("fieldset", { class: "form-group", dataset: { intent: intent.name } },
      name.box, sentences.box, slots.box, response.box,
      writes(button("Remove this intent", () => { box.remove(); rows.splice(rows.indexOf(row), 1); }, "link")));
    for (const part of [name, sentences, slots]) part.control.addEventListener("input", () => check(row));
    rows.push(row);
    list.append(box);
    return row;
  }

  function parsedSlots(row) {
    return lines(row.slots.control.value).map((line) => {
      const [slotName, entity] = line.split(":").map((v) => (v || "").trim());
      const kept = (row.intent.slots || []).find((s) => s.name === slotName) || {};
      return { ...kept, name: slotName, entity };
    });
  }

  function check(row) {
    const n = rows.indexOf(row) + 1;
    const id = row.name.control.value.trim();
    const said = [];
    const sayAbout = (part, text) => { part.say(text); if (text) said.push(`Intent ${n}${id ? ` (${id})` : ""}: ${text}`); };
    const duplicate = id && rows.some((other) => other !== row && other.name.control.value.trim() === id);
    sayAbout(row.name, !id ? "give the intent a name, e.g. book_table" : !NAME.test(id) ? "use only letters, digits and _ (no spaces, not starting with a digit)"
      : duplicate ? `another intent is already called ${id}` : "");
    const slotList = parsedSlots(row);
    const known = new Set(slotList.map((s) => s.name));
    const used = lines(row.sentences.control.value).flatMap((s) => [...s.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]));
    const unknown = used.find((u) => !known.has(u));
    sayAbout(row.sentences, !used.length && !lines(row.sentences.control.value).length ? "add at least one example sentence"
      : unknown ? `{${unknown}} is not one of the slots below: add "${unknown}: <entity>" there` : "");
    const badSlot = slotList.find((s) => !s.name || !s.entity);
    const badEntity = slotList.find((s) => s.entity && !s.entity.startsWith("system_") && !entityNames.has(s.entity));
    sayAbout(row.slots, badSlot ? `write each slot as name: entity ("${badSlot.name || "?"}" has no entity)`
      : badEntity ? `no entity called ${badEntity.entity}: add it in the text editor, or use a system_ entity` : "");
    return said;
  }

  (doc.intents || []).forEach((i) => addIntent(i));
  if (!rows.length) addIntent();
  const submit = h("button", { type: "submit", class: "button button--primary", id: "form-save" }, "Save to test");
  const form = h("form", { class: "form", id: "intents-form", novalidate: true }, list, result,
    writes(h("div", { class: "form__actions" }, button("Add an intent", () => addIntent().name.control.focus(), "quiet", { id: "intent-add" }), submit)));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const problems = rows.flatMap(check);
    if (problems.length) { fill(result, problemsBox(problems)); return; }
    const intents = rows.map((row) => {
      const out = { ...row.intent, name: row.name.control.value.trim(), sentences: lines(row.sentences.control.value), slots: parsedSlots(row) };
      const said = row.response.control.value.trim();
      if (said) out.response = said; else delete out.response;
      return out;
    });
    save(`${base}/intents`, { ...doc, intents }, result, onSaved);
  });
  return form;
}

/* ---------- the state machine, drawn ---------- */

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** What a transition waits for, in a few words. */
function trigger(t) {
  switch (t.when) {
    case "intent_matched": return t.intent;
    case "no_intent_matched": return "not understood";
    case "auto": return "";
    case "file_received": return "file";
    case "variable_matches": return `${t.variable} ${t.op} ${t.value}`;
    default: return t.when.replace(/_/g, " ");
  }
}

/** States in columns by distance from the initial one; each transition an arrow with its label. */
export function machineDiagram(machine, current) {
  const names = Object.keys(machine.states || {});
  const depth = new Map([[machine.initial, 0]]);
  const queue = [machine.initial];
  while (queue.length) {
    const at = queue.shift();
    for (const t of machine.states[at]?.transitions || []) {
      if (!depth.has(t.to)) { depth.set(t.to, depth.get(at) + 1); queue.push(t.to); }
    }
  }
  for (const name of names) if (!depth.has(name)) depth.set(name, Math.max(0, ...depth.values()) + 1);
  const columns = [];
  for (const name of names) (columns[depth.get(name)] ||= []).push(name);
  const W = 150; const H = 44; const GX = 130; const GY = 46;
  const place = new Map();
  columns.forEach((col, x) => col.forEach((name, y) => place.set(name, { x: 20 + x * (W + GX), y: 20 + y * (H + GY) })));
  const width = 130 + columns.length * (W + GX) - GX; // room on the right for same-column arrows
  const height = 40 + Math.max(...columns.map((c) => c.length)) * (H + GY) - GY;
  const arrows = s("g", { class: "sm-edges" });
  const boxes = s("g", { class: "sm-states" });
  for (const name of names) {
    const from = place.get(name);
    (machine.states[name].transitions || []).forEach((t, n) => {
      const to = place.get(t.to);
      if (!to) return;
      const label = trigger(t);
      let path; let lx; let ly;
      if (t.to === name) { // a loop above the box
        path = `M ${from.x + W / 2 - 18} ${from.y} C ${from.x + W / 2 - 30} ${from.y - 34}, ${from.x + W / 2 + 30} ${from.y - 34}, ${from.x + W / 2 + 18} ${from.y}`;
        lx = from.x + W / 2; ly = from.y - 30;
      } else if (to.x > from.x) { // on to a later column: right edge to left edge
        const x1 = from.x + W; const y1 = from.y + H / 2; const x2 = to.x; const y2 = to.y + H / 2;
        path = `M ${x1} ${y1} L ${x2} ${y2}`;
        lx = (x1 + x2) / 2; ly = (y1 + y2) / 2 - 6 - (n % 3) * 11;
      } else if (to.x === from.x) { // same column: around the right side
        const x1 = from.x + W; const y1 = from.y + H / 2; const y2 = to.y + H / 2;
        const bend = 30 + Math.abs(y2 - y1) / 6;
        path = `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x1 + bend} ${y2}, ${x1} ${y2}`;
        lx = x1 + bend * 0.75 + 4; ly = (y1 + y2) / 2;
      } else { // back to an earlier column: left edge to the target's bottom
        const x1 = from.x; const y1 = from.y + H / 2; const x2 = to.x + W / 2 + (n % 3) * 12; const y2 = to.y + H;
        path = `M ${x1} ${y1} C ${x1 - 40} ${y1}, ${x2} ${y2 + 40}, ${x2} ${y2}`;
        lx = (x1 + x2) / 2; ly = Math.max(y1, y2) + 14;
      }
      arrows.append(s("path", { d: path, class: "sm-edge", "marker-end": "url(#sm-arrow)", "data-from": name, "data-to": t.to }));
      if (label) arrows.append(s("text", { x: lx, y: ly, class: "sm-label", "text-anchor": "middle" }, label));
    });
    const on = name === current;
    boxes.append(s("g", { class: on ? "sm-state sm-state--current" : "sm-state", "data-state": name },
      s("rect", { x: from.x, y: from.y, width: W, height: H, rx: 10 }),
      s("text", { x: from.x + W / 2, y: from.y + H / 2 + 5, "text-anchor": "middle" }, name),
      name === machine.initial ? s("text", { x: from.x + 8, y: from.y - 6, class: "sm-label" }, "start") : ""));
  }
  const defs = s("defs", {}, s("marker", { id: "sm-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "sm-arrowhead" })));
  return s("svg", { class: "sm", id: "machine-diagram", viewBox: `0 -30 ${width} ${height + 60}`, width, height: height + 60, role: "img", "aria-label": "State machine diagram" }, defs, arrows, boxes);
}

export async function machineView(ctx, base) {
  const machine = await loadJson(`${base}/machine`);
  if (!machine) return empty("No state machine yet", "Write one in the text editor (YAML), or open a file.");
  const box = h("div", { class: "sm-box" });
  const sessions = h("select", { class: "input input--inline", id: "machine-session", "aria-label": "Session" }, h("option", { value: "" }, "Highlight a session's state…"));
  const note = h("span", { class: "muted small", id: "machine-note" });
  let timer = null;
  async function show() {
    let current = null;
    if (sessions.value) {
      try {
        const found = await api(`${base}/conversations/${encodeURIComponent(sessions.value)}`, { query: { limit: 1 } });
        current = found.session.machine_state || machine.initial;
        note.textContent = `${sessions.value} is in ${current}`;
      } catch (err) { note.textContent = err.detail || String(err); }
    } else note.textContent = "";
    fill(box, machineDiagram(machine, current));
  }
  try {
    const recent = await api(`${base}/conversations`, { query: { limit: 30 } });
    for (const c of recent.items || []) sessions.append(h("option", { value: c.session_id }, `${c.session_id} (${c.protocol})`));
  } catch { /* the diagram still shows */ }
  sessions.addEventListener("change", show);
  await show();
  timer = setInterval(() => { if (sessions.value && !document.hidden) show(); }, 3000);
  const root = h("div", { class: "stack" }, h("div", { class: "toolbar" }, sessions, note), box);
  root.stop = () => clearInterval(timer);
  return root;
}

export function formCard(title, body) {
  return card(title, null, body);
}
