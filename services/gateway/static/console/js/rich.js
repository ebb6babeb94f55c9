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
