/* DOM helpers. Everything the API returns is shown as text nodes, never parsed as HTML:
   bot answers, user turns and robot names come from outside and must not run as markup. */

/** An element: h("button", {class: "button", onclick: fn}, "Save"). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "class") {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    } else if (name === "value" || (name in el && typeof value !== "string")) {
      el[name] = value; // properties such as value, checked, disabled
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A status badge: tone is ok | warn | bad | info | muted. */
export function badge(text, tone = "muted", attrs = {}) {
  return h("span", { class: `badge badge--${tone}`, ...attrs }, text);
}

/** An empty state: what is missing, and what to do about it. */
export function empty(title, hint, ...actions) {
  return h("div", { class: "empty" },
    h("p", { class: "empty__title" }, title),
    hint ? h("p", { class: "empty__hint" }, hint) : null,
    actions.length ? h("div", { class: "empty__actions" }, actions) : null);
}

export function spinner(text = "Loading…") {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "loading__dot" }), text);
}

/** A card with a heading and optional tools on the right of the heading. */
export function card(title, tools, ...body) {
  return h("section", { class: "card" },
    title || tools ? h("header", { class: "card__head" },
      title ? h("h2", { class: "card__title" }, title) : h("span"),
      tools ? h("div", { class: "card__tools" }, tools) : null) : null,
    body);
}

export function button(text, onclick, tone = "", attrs = {}) {
  return h("button", { type: "button", class: `button ${tone ? `button--${tone}` : ""}`, onclick, ...attrs }, text);
}

/** Mark `el` as a control that changes something: a read-only (viewer) token never sees it. */
export function writes(el) {
  el.dataset.write = "";
  return el;
}

/** A labelled form field around `control`. */
export function field(label, control, hint) {
  return h("label", { class: "field" },
    h("span", { class: "field__label" }, label), control,
    hint ? h("span", { class: "field__hint" }, hint) : null);
}

/** "1 turn", "2 turns", "0 turns". */
export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

/** A short-lived message in the corner (tone ok | bad | info). */
export function toast(text, tone = "ok") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast toast--${tone}` }, text);
  box.append(item);
  setTimeout(() => item.classList.add("toast--gone"), 3500);
  setTimeout(() => item.remove(), 4000);
}

const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** "3 minutes ago" for a timestamp (ISO string or Date); "never" when empty. */
export function ago(when) {
  if (!when) return "never";
  const seconds = (new Date(when).getTime() - Date.now()) / 1000;
  const steps = [[60, "second"], [3600, "minute"], [86400, "hour"], [Infinity, "day"]];
  let unit = 1;
  for (const [limit, name] of steps) {
    if (Math.abs(seconds) < limit) return RELATIVE.format(Math.round(seconds / unit), name);
    unit = limit;
  }
  return RELATIVE.format(Math.round(seconds / 86400), "day");
}

/** A timestamp as local date and time, with the exact ISO value as its tooltip. */
export function time(when) {
  if (!when) return h("span", { class: "muted" }, "—");
  const date = new Date(when);
  return h("time", { datetime: date.toISOString(), title: date.toLocaleString() },
    date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }));
}

/** "850 bytes", "12 KB", "3.4 MB". */
export function size(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A time of day ("07:38"), with the full date as its tooltip: for rows of one conversation. */
export function clock(when) {
  if (!when) return h("span", { class: "muted" }, "—");
  const date = new Date(when);
  return h("time", { datetime: date.toISOString(), title: date.toLocaleString() },
    date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" }));
}

/** Copy text to the clipboard (the button says so), falling back to selecting it. */
export async function copy(text, btn) {
  try {
    await navigator.clipboard.writeText(text);
    if (btn) { const was = btn.textContent; btn.textContent = "Copied"; setTimeout(() => { btn.textContent = was; }, 1500); }
  } catch {
    toast("Copy it by hand: the browser refused the clipboard.", "info");
  }
}

/** A modal dialog; resolves with the value its content passes to `close`. */
export function modal(title, build) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "modal" });
    const close = (value) => { dialog.close(); dialog.remove(); resolve(value); };
    dialog.append(h("h2", { class: "modal__title" }, title), build(close));
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); close(undefined); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A simple confirm() replacement that looks like the rest of the console. */
export function confirmBox(title, text, action = "Confirm", tone = "primary") {
  return modal(title, (close) => h("div", {},
    h("p", {}, text),
    h("div", { class: "modal__actions" },
      button("Cancel", () => close(false), "quiet"),
      button(action, () => close(true), tone))));
}
