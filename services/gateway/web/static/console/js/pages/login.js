/* Sign in: paste an admin token (made with `switchboard admin-token create`); GET /admin/me
   checks it. The token is kept in sessionStorage only, so closing the tab signs out. */

import { errorBox } from "../api.js";
import { h, fill } from "../dom.js";

export function render({ view, setTitle, signIn }) {
  setTitle("Sign in");
  const notice = sessionStorage.getItem("switchboard.console.notice");
  sessionStorage.removeItem("switchboard.console.notice");
  const input = h("input", {
    type: "password", id: "token", name: "token", autocomplete: "off", spellcheck: "false",
    placeholder: "Admin token", required: true, class: "input input--mono",
  });
  const status = h("div", { class: "login__status", "aria-live": "polite" },
    notice ? h("p", { class: "alert alert--info" }, notice) : null);
  const submit = h("button", { type: "submit", class: "button button--primary button--wide" }, "Sign in");
  const form = h("form", { class: "login__form", novalidate: true },
    h("label", { class: "field" }, h("span", { class: "field__label" }, "Admin token"), input,
      h("span", { class: "field__hint" }, "Create one on the server with ",
        h("code", {}, "switchboard admin-token create <name>"),
        " (add ", h("code", {}, "--read-only"), " for a token that can only look).")),
    status, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      fill(status, h("p", { class: "alert alert--error" }, "Paste an admin token first."));
      return input.focus();
    }
    submit.disabled = true;
    submit.textContent = "Checking…";
    try {
      await signIn(token);
    } catch (err) {
      fill(status, errorBox(err));
      submit.disabled = false;
      submit.textContent = "Sign in";
      input.select();
    }
  });
  fill(view, h("div", { class: "login" },
    h("div", { class: "login__card" },
      h("img", { src: "favicon.svg", alt: "", width: 48, height: 48, class: "login__logo" }),
      h("h2", { class: "login__title" }, "Switchboard console"),
      h("p", { class: "muted" }, "Projects, bot content, conversations and robots, in one place."),
      form)));
  input.focus();
}
