/* A plain-text editor with line numbers: a textarea and a gutter that scrolls with it. Problems
   the API reports by line are marked in the gutter, and showLine() jumps to one. */

import { h } from "./dom.js";

const LINE_PX = 20; // keep in step with .editor line-height in console.css

export function createEditor({ placeholder = "", id } = {}) {
  const gutter = h("div", { class: "editor__gutter", "aria-hidden": "true" });
  const area = h("textarea", {
    class: "editor__text", spellcheck: "false", wrap: "off", placeholder, id,
    "aria-label": "Content", autocomplete: "off",
  });
  const root = h("div", { class: "editor" }, gutter, area);
  let marked = new Set();
  let lines = 0;
  let edited = false; // typed into since the last load: a slow load must not overwrite it

  function renderGutter() {
    const count = area.value.split("\n").length;
    if (count === lines && !gutter.dataset.dirty) return;
    lines = count;
    delete gutter.dataset.dirty;
    const numbers = [];
    for (let n = 1; n <= count; n += 1) {
      numbers.push(h("span", { class: marked.has(n) ? "editor__line editor__line--bad" : "editor__line" }, n));
    }
    gutter.replaceChildren(...numbers);
    gutter.scrollTop = area.scrollTop;
  }

  area.addEventListener("input", () => { edited = true; renderGutter(); });
  area.addEventListener("scroll", () => { gutter.scrollTop = area.scrollTop; });
  area.addEventListener("keydown", (event) => {
    if (event.key !== "Tab" || event.shiftKey) return; // Shift+Tab still leaves the editor
    event.preventDefault();
    area.setRangeText("  ", area.selectionStart, area.selectionEnd, "end");
    renderGutter();
  });

  return {
    root,
    get value() { return area.value; },
    set value(text) { area.value = text; area.scrollTop = 0; edited = false; renderGutter(); },
    get edited() { return edited; },
    /** Set by the page once the stored content is in (tests and operators wait for it). */
    set ready(flag) { root.dataset.ready = String(flag); },
    set disabled(flag) { area.disabled = flag; root.classList.toggle("editor--disabled", flag); },
    /** Shown, selectable and scrollable, but not editable (a viewer's token). */
    set readOnly(flag) { area.readOnly = flag; },
    /** Mark these 1-based lines as having problems (an empty list clears the marks). */
    mark(lineNumbers) { marked = new Set(lineNumbers); gutter.dataset.dirty = "1"; renderGutter(); },
    /** Select a whole line (the column alone is easy to miss) and scroll it into view. */
    showLine(line) {
      const rows = area.value.split("\n");
      const index = Math.max(0, Math.min(line, rows.length) - 1);
      const start = rows.slice(0, index).reduce((sum, row) => sum + row.length + 1, 0);
      area.focus();
      area.setSelectionRange(start, start + rows[index].length);
      area.scrollTop = Math.max(0, (index - 5) * LINE_PX);
    },
    focus() { area.focus(); },
  };
}
