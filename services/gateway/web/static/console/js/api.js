/* The admin HTTP API: bearer token, problem+json errors, the paging convention, and the live
   event stream (Server-Sent Events read with fetch, because EventSource cannot send the
   Authorization header). */

import { h } from "./dom.js";
import { store } from "./store.js";

/** A refused or failed request, with the problem document's members. */
export class ApiError extends Error {
  constructor(status, body) {
    const doc = body && typeof body === "object" ? body : { detail: String(body || "") };
    super(doc.detail || doc.message || doc.title || `HTTP ${status}`);
    this.status = status;
    this.title = doc.title || (status ? `HTTP ${status}` : "No answer");
    this.detail = this.message;
    this.problems = Array.isArray(doc.problems) ? doc.problems : [];
    this.errors = Array.isArray(doc.errors) ? doc.errors : [];
  }
}

const listeners = new Set();
/** Called with the error whenever the token is refused (401), to send the operator to login. */
export function onUnauthorized(listener) { listeners.add(listener); }

export function url(path, query = {}) {
  const target = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) target.searchParams.append(name, one);
  }
  return target.pathname + target.search;
}

/**
 * Call the API. `json` sends a JSON body; `body` + `type` send anything else (a file).
 * Answers the parsed JSON, the text, or null (204); throws ApiError.
 */
export async function api(path, { method = "GET", query, json, body, type, signal, token } = {}) {
  const headers = { Accept: "application/json, application/problem+json, */*" };
  const secret = token ?? store.token;
  if (secret) headers.Authorization = `Bearer ${secret}`;
  if (json !== undefined) {
    body = JSON.stringify(json);
    type = "application/json";
  }
  if (type) headers["Content-Type"] = type;
  let response;
  try {
    response = await fetch(url(path, query), { method, headers, body, signal, cache: "no-store" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { title: "No answer", detail: "The gateway did not answer. Is it running, and is this network up?" });
  }
  const parsed = await parse(response);
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401 && token === undefined) listeners.forEach((f) => f(error));
    throw error;
  }
  return parsed;
}

async function parse(response) {
  if (response.status === 204) return null;
  const kind = response.headers.get("content-type") || "";
  if (/zip|octet-stream/.test(kind)) return response.blob(); // e.g. several AIML files
  const text = await response.text();
  if (kind.includes("json")) {
    try { return JSON.parse(text); } catch { return text; }
  }
  return text;
}

/** One page of a list route: {items, next, ...}. */
export function page(path, { limit = 50, cursor, query = {}, signal } = {}) {
  return api(path, { query: { ...query, limit, cursor }, signal });
}

/** Every item of a list route, following `next` (capped, for menus such as the switcher). */
export async function all(path, { query = {}, max = 2000 } = {}) {
  const items = [];
  let cursor;
  do {
    const found = await page(path, { limit: 200, cursor, query });
    items.push(...(found.items || []));
    cursor = found.next;
  } while (cursor && items.length < max);
  return items;
}

const THINGS = { groups: "FAQ group", intents: "intent", entities: "entity", states: "state", sentences: "example sentence",
  questions: "question", slots: "slot", values: "value", synonyms: "synonym", transitions: "transition", steps: "step" };

/** A content path in words: "groups[2].questions" → "FAQ group 3, questions". */
export function inWords(path) {
  return String(path).split(".").map((part) => {
    const indexed = /^(\w+)\[(\d+)\]$/.exec(part);
    if (indexed) return `${THINGS[indexed[1]] || indexed[1]} ${Number(indexed[2]) + 1}`;
    return part;
  }).join(", ");
}

/** Pydantic's wording, as an operator would say it. */
export function friendly(message) {
  const text = String(message || "");
  const rules = [
    [/^List should have at least (\d+) items? after validation, not 0$/, (m) => (m[1] === "1" ? "is empty: give at least one" : `needs at least ${m[1]}`)],
    [/^List should have at least (\d+) items? after validation, not (\d+)$/, (m) => `needs at least ${m[1]} (it has ${m[2]})`],
    [/^List should have at most (\d+) items? after validation.*$/, (m) => `has too many: at most ${m[1]}`],
    [/^String should have at least 1 character$/, () => "is empty: write something"],
    [/^String should have at most (\d+) characters?$/, (m) => `is too long: at most ${m[1]} characters`],
    [/^String should match pattern '\^\[A-Za-z0-9_.:-\]\+\$'$/, () => "may only use letters, digits and . _ : - (no spaces)"],
    [/^String should match pattern '\^\[A-Za-z_\]\[A-Za-z0-9_\]\*\$'$/, () => "may only use letters, digits and _ (not starting with a digit)"],
    [/^Field required$/, () => "is missing"],
    [/^Input should be a valid string$/, () => "should be text"],
    [/^Value error, (.*)$/, (m) => m[1]],
  ];
  for (const [pattern, say] of rules) {
    const found = pattern.exec(text);
    if (found) return say(found);
  }
  return text;
}

/** Where a problem is: "faq.csv, line 3, column 7, FAQ group 1, questions". */
export function where(problem) {
  const parts = [];
  if (problem.file) parts.push(problem.file);
  if (problem.line) parts.push(`line ${problem.line}${problem.column ? `, column ${problem.column}` : ""}`);
  if (problem.item) parts.push(inWords(problem.item));
  if (problem.loc) parts.push(inWords(problem.loc.filter((p) => p !== "body").map((p, n, all) => (typeof p === "number" && n ? `[${p}]` : p)).join(".").replace(/\.\[/g, "[")));
  return parts.join(", ");
}

/**
 * An error as the operator should see it: the title, the detail, and each problem by line.
 * `onProblem(problem)` makes each located problem a button (to jump to its line).
 */
export function errorBox(err, onProblem) {
  if (!(err instanceof ApiError)) {
    return h("div", { class: "alert alert--error", role: "alert" },
      h("strong", {}, "Something went wrong in the console"), h("p", {}, String(err?.message || err)));
  }
  const rows = [...err.problems, ...err.errors.map((e) => ({ loc: e.loc, message: e.message }))];
  const status = err.status ? ` (${err.status})` : "";
  return h("div", { class: "alert alert--error", role: "alert", dataset: { status: err.status } },
    h("strong", { class: "alert__title" }, `${err.title}${status}`),
    h("p", { class: "alert__detail" }, err.detail),
    rows.length > 1 || (rows.length === 1 && where(rows[0])) ? h("ul", { class: "problems" },
      rows.slice(0, 50).map((p) => {
        const place = where(p);
        const label = place ? h("span", { class: "problems__where" }, place) : null;
        const item = h("li", { class: "problems__item", dataset: { line: p.line || "" } },
          label, h("span", { class: "problems__message", title: p.message || "" }, friendly(p.message)));
        if (onProblem && p.line) {
          item.classList.add("problems__item--link");
          item.tabIndex = 0;
          item.title = "Show this line";
          item.addEventListener("click", () => onProblem(p));
          item.addEventListener("keydown", (e) => { if (e.key === "Enter") onProblem(p); });
        }
        return item;
      })) : null);
}

/**
 * Follow a Server-Sent Events route. `onEvent({event, data})` gets each event (data parsed as
 * JSON when it is JSON); `onState(state, error?)` hears "open", "retrying", "failed", "closed".
 * Reconnects with backoff, except after a 4xx (the token or project is wrong: retrying won't help).
 */
export function eventStream(path, { onEvent, onState = () => {} }) {
  const controller = new AbortController();
  let attempt = 0;
  let closed = false;

  async function run() {
    while (!closed) {
      try {
        const response = await fetch(url(path), {
          headers: { Accept: "text/event-stream", Authorization: `Bearer ${store.token}` },
          signal: controller.signal, cache: "no-store",
        });
        if (!response.ok) {
          const error = new ApiError(response.status, await parse(response));
          if (response.status < 500) { onState("failed", error); return; }
          throw error;
        }
        attempt = 0;
        onState("open");
        await readEvents(response.body, onEvent, () => onState("open"));
        if (!closed) throw new Error("the stream ended");
      } catch (err) {
        if (closed || err.name === "AbortError") return;
        attempt += 1;
        onState("retrying", err);
        await new Promise((r) => setTimeout(r, Math.min(15000, 500 * 2 ** attempt)));
      }
    }
  }
  run();
  return { close() { closed = true; controller.abort(); onState("closed"); } };
}

async function readEvents(stream, onEvent, onPing) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    const blocks = buffer.split(/\r?\n\r?\n/);
    buffer = blocks.pop();
    for (const block of blocks) {
      let event = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(":")) { onPing(); continue; }
        const [name, ...rest] = line.split(":");
        const text = rest.join(":").replace(/^ /, "");
        if (name === "event") event = text;
        else if (name === "data") data.push(text);
      }
      if (!data.length) continue;
      const raw = data.join("\n");
      let parsed = raw;
      try { parsed = JSON.parse(raw); } catch { /* plain text data */ }
      onEvent({ event, data: parsed });
    }
  }
}
