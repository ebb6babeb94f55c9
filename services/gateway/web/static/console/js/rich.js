/* What the bot and operators say, rendered as the chat page renders it: Markdown through marked,
   then DOMPurify in an inert document, so a bot's (or a user's) markup can never run here. The
   two libraries are the chat page's vendored copies (../chat/vendor/), loaded by index.html. */

import { h } from "./dom.js";

// A bot's HTML may not restyle the page nor pose as the console's own inputs.
const UNSAFE_TAGS = ["style", "form", "input", "button", "textarea", "select"];
// As on the chat page: no parser ever sees an on* attribute name (Chromium reports a CSP
// violation when it parses one, even inertly), so "o" before "n" where a name can start
// becomes "&#111;", which DOMPurify then drops as an unknown attribute.
const HANDLER_NAME_START = /(?<=[\t\n\f\r "']|[^<]\/)o(?=n)/gi;

/** `text` as sanitized Markdown in a div.rich (plain text when the libraries are missing). */
export function rich(text, attrs = {}) {
  const box = h("div", { ...attrs, class: ["rich", attrs.class] });
  const source = String(text ?? "");
  if (!window.marked || !window.DOMPurify) { box.textContent = source; return box; }
  const html = window.marked.parse(source, { gfm: true, breaks: true, async: false });
  box.append(window.DOMPurify.sanitize(html.replace(HANDLER_NAME_START, (o) => `&#${o.charCodeAt(0)};`), {
    FORBID_TAGS: UNSAFE_TAGS, RETURN_DOM_FRAGMENT: true,
  }));
  for (const link of box.querySelectorAll("a[href]")) { link.target = "_blank"; link.rel = "noopener noreferrer"; }
  return box;
}

/** The safe HTML of a bot's `html` part (as the chat page shows it). */
function html(source, attrs = {}) {
  const box = h("div", { ...attrs, class: ["rich", attrs.class] });
  if (!window.DOMPurify) { box.textContent = source; return box; }
  box.append(window.DOMPurify.sanitize(String(source).replace(HANDLER_NAME_START, (o) => `&#${o.charCodeAt(0)};`), {
    FORBID_TAGS: UNSAFE_TAGS, RETURN_DOM_FRAGMENT: true,
  }));
  return box;
}

const cell = (value) => (value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value));

/**
 * A bot answer's parts as the chat page renders them: Markdown and HTML (sanitized), options,
 * tables, plotly charts (drawn by `drawChart(el, figure)`), images, files and locations.
 */
export function renderParts(parts, drawChart) {
  return parts.map((part) => {
    switch (part.kind) {
      case "markdown": return rich(part.text, { class: "part" });
      case "html": return html(part.text, { class: "part" });
      case "str": return h("div", { class: "part part--text" }, part.text);
      case "options": return h("div", { class: "part part--options" }, (part.options || []).map((o) => h("span", { class: "chip" }, o)));
      case "dataframe": {
        const columns = Object.keys(part.columns || {});
        const rows = Math.max(0, ...columns.map((c) => (part.columns[c] || []).length));
        return h("div", { class: "part table-wrap" }, h("table", { class: "table table--compact part--table" },
          h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c)))),
          h("tbody", {}, Array.from({ length: rows }, (_, n) => h("tr", {}, columns.map((c) => h("td", {}, cell(part.columns[c][n]))))))));
      }
      case "plotly": {
        const el = h("div", { class: "part part--chart", role: "img", "aria-label": part.figure?.layout?.title?.text || "Chart" });
        drawChart(el, part.figure || {});
        return el;
      }
      case "image": return h("img", { class: "part part--image", alt: "Image from the bot", src: `data:image/png;base64,${part.base64}` });
      case "file": return h("a", { class: "part part--file", download: part.name, href: `data:${part.type};base64,${part.base64}` }, `File: ${part.name}`);
      case "location": {
        const where = `${part.latitude}, ${part.longitude}`;
        return h("a", { class: "part part--location", target: "_blank", rel: "noopener noreferrer",
          href: `https://www.openstreetmap.org/?mlat=${part.latitude}&mlon=${part.longitude}#map=16/${part.latitude}/${part.longitude}` }, `Location: ${where}`);
      }
      default: return h("div", { class: "part muted" }, `(${part.kind})`);
    }
  });
}

/** A preview of Markdown/HTML as the words a reader sees ("**Paris**: <small>x</small>" →
    "Paris: x"), for one-line snippets: parsed inertly and sanitized, never shown as markup. */
export function plain(text) {
  return rich(text).textContent.replace(/\s+/g, " ").trim();
}
