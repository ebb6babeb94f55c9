/* "Try it": chat with the bot as a client would, on the test stage (what was saved, not yet
   published) or the release stage. An admin token asks through POST /admin/.../try (the RSVP
   turn, signed in as the operator: no project secret), and each answer shows why: the engine,
   the intent and its confidence, the FAQ's candidates. A read-only token cannot chat through
   the admin API, so it uses the RSVP route with the project secret (kept in this tab). */

import { api, url } from "../api.js";
import { h, fill, card, button, badge, field } from "../dom.js";
import { store } from "../store.js";
import { rich } from "../rich.js";

const ENGINE_TONES = { aiml: "info", faq: "ok", nlu_skill: "warn", fallback: "muted", operator: "bad" };

export function render(ctx) {
  const { view, setTitle, project, config } = ctx;
  setTitle("Try it", [{ text: project.title || project.name, href: `#/p/${project.key}/settings` }, { text: "Try it" }]);
  const asAdmin = !ctx.readOnly;
  if (!asAdmin && !store.secret(project.key)) return askSecret(ctx);
  let uid = store.tryUid(project.key) || newUid();
  store.setTryUid(project.key, uid);
  let stageName = "test";
  const log = h("div", { class: "chat-log", id: "try-log", role: "log", "aria-live": "polite" },
    h("p", { class: "chat-log__hint" }, "Say something to the bot. Answers come from the ", h("strong", {}, "test"), " stage: what was saved, even if not published."));
  const input = h("input", { class: "input", id: "try-input", placeholder: "Type a message…", autocomplete: "off", "aria-label": "Message" });
  const send = h("button", { type: "submit", class: "button button--primary", id: "try-send" }, "Send");
  const form = h("form", { class: "composer-bar" }, input, send);
  const sessionInfo = h("code", { id: "try-session" }, uid);
  const stageSwitch = h("div", { class: "segmented", role: "group", "aria-label": "Stage" },
    ["test", "release"].map((name) => h("button", {
      type: "button", class: ["segmented__item", name === stageName && "segmented__item--on"], dataset: { stage: name },
      onclick: (event) => {
        stageName = name;
        for (const b of event.target.parentElement.children) b.classList.toggle("segmented__item--on", b.dataset.stage === name);
      },
    }, name === "test" ? "Test stage" : "Release stage")));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    log.querySelector(".chat-log__hint")?.remove();
    bubble(log, "user", text, badge(stageName, stageName === "test" ? "info" : "ok"));
    const waiting = bubble(log, "bot pending", "…");
    send.disabled = true;
    try {
      if (asAdmin) {
        try {
          const answer = await api(`/admin/projects/${project.key}/try`, { method: "POST", json: { uid, q: text, stage: stageName } });
          waiting.remove();
          for (const said of answer.said_before || []) bubble(log, "bot", rich(said, { class: "bubble__text" }), badge("operator", "bad"));
          if (answer.engine === "none") { bubble(log, "error", "An operator holds this conversation: the bot stays silent."); return; }
          bubble(log, "bot", rich(answer.text || "(an empty answer)", { class: "bubble__text" }),
            [badge(answer.engine, ENGINE_TONES[answer.engine] || "muted", { title: "The engine that answered" }), why(answer)]);
        } catch (err) { waiting.remove(); bubble(log, "error", err.detail || String(err)); }
        return;
      }
      const answer = await ask(config, project, uid, text, stageName);
      waiting.remove();
      if (answer.status === 401) return askSecret(ctx, answer.message);
      if (answer.error) { bubble(log, "error", answer.message); return; }
      bubble(log, "bot", rich(answer.message || "(an empty answer)", { class: "bubble__text" }), badge(answer.topic, ENGINE_TONES[answer.topic] || "muted", { title: "The engine that answered" }));
    } finally {
      send.disabled = false;
      input.focus();
    }
  });

  const restart = button("New conversation", () => {
    uid = newUid();
    store.setTryUid(project.key, uid);
    sessionInfo.textContent = uid;
    fill(log, h("p", { class: "chat-log__hint" }, "A new conversation: the bot does not remember the previous one."));
  }, "quiet", { id: "try-new" });
  const forget = button("Forget the secret", () => { store.setSecret(project.key, null); ctx.go(location.hash); }, "link");

  fill(view, h("div", { class: "columns columns--wide-left" },
    card("Chat", h("div", { class: "toolbar" }, stageSwitch, restart), h("div", { class: "chat-panel" }, log, form)),
    h("div", { class: "stack" },
      card("About this chat", null,
        h("p", {}, "This page talks to the bot exactly like a client would, through the RSVP chat route (", h("code", {}, `/${config.rsvp_endpoint || "sandbox"}/chat`), ")."),
        h("dl", { class: "facts" },
          h("dt", {}, "Session"), h("dd", {}, sessionInfo),
          asAdmin ? [h("dt", {}, "Signed in"), h("dd", {}, `as ${ctx.me.name}: no project secret needed`)]
            : [h("dt", {}, "Secret"), h("dd", {}, "kept in this tab · ", forget)]),
        h("p", {}, h("a", { href: `#/p/${project.key}/conversations`, id: "try-conversations" }, "See it in Conversations →"))),
      card("Stages", null,
        h("p", { class: "muted" }, h("strong", {}, "Test"), " answers from the newest saved version; ", h("strong", {}, "Release"), " from the published one. Publish on the Content page.")))));
  input.focus();
  return undefined;
}

function newUid() {
  const random = crypto.getRandomValues(new Uint8Array(6));
  return `console-${Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Why the bot answered so: the intent and its confidence, the FAQ's candidates, the slots. */
function why(answer) {
  const pct = (score) => `${Math.round(score * 100)} %`;
  const lines = [];
  if (answer.intent) {
    const best = answer.intent.candidates?.[0];
    lines.push(h("span", { class: "why__intent" }, "Intent ", h("strong", {}, answer.intent.name), best ? ` · confidence ${pct(best.score)}` : ""));
    const slots = Object.entries(answer.intent.slots || {}).map(([name, values]) => `${name} = ${(values || []).map((v) => v.key ?? JSON.stringify(v.value)).join(", ")}`);
    if (slots.length) lines.push(h("span", {}, `Slots: ${slots.join("; ")}`));
  }
  if (answer.faq) {
    lines.push(h("span", { class: "why__faq" }, "FAQ candidates:"), h("ol", {}, answer.faq.candidates.slice(0, 3).map((c) =>
      h("li", { dataset: { gid: c.gid } }, `${c.question} (${c.gid}) · ${pct(c.score)}`))));
  }
  return lines.length ? h("div", { class: "why" }, lines) : null;
}

function bubble(log, who, text, tag) {
  const row = h("div", { class: `bubble bubble--${who.split(" ").join(" bubble--")}` },
    text instanceof Node ? text : h("div", { class: "bubble__text" }, text), tag ? h("div", { class: "bubble__meta" }, tag) : null);
  log.append(row);
  log.scrollTop = log.scrollHeight;
  return row;
}

/** One turn over RSVP: {message, topic} or {error, status, message}. */
async function ask(config, project, uid, q, stageName) {
  const query = { botid: project.key, token: store.secret(project.key), uid, q, stage: stageName };
  let response;
  try {
    response = await fetch(url(`/${config.rsvp_endpoint || "sandbox"}/chat`, query), { cache: "no-store" });
  } catch {
    return { error: true, message: "The gateway did not answer. Is it running?" };
  }
  let body = {};
  try { body = await response.json(); } catch { /* not JSON: described below */ }
  if (response.status === 401) return { error: true, status: 401, message: body.message || "The secret was refused." };
  if (!response.ok || body.status !== 0) {
    return { error: true, message: body.message || `The chat route answered HTTP ${response.status}.` };
  }
  const message = (body.stage || []).map((part) => part.message).filter(Boolean).join("\n");
  return { message, topic: body.topic || "answer" };
}

function askSecret(ctx, problem) {
  const { view, project } = ctx;
  const input = h("input", { class: "input input--mono", type: "password", id: "secret-input", autocomplete: "off", placeholder: "Project secret" });
  const form = h("form", { class: "form" },
    problem ? h("div", { class: "alert alert--error", role: "alert" }, problem) : null,
    field("Project secret", input, "Shown once when the project was created or its secret rotated. Kept in this tab only."),
    h("div", { class: "form__actions" },
      h("button", { type: "submit", class: "button button--primary", id: "secret-use" }, "Use this secret"),
      h("a", { href: `#/p/${project.key}/settings`, class: "button button--quiet" }, "Rotate it in Settings")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!input.value.trim()) return input.focus();
    store.setSecret(project.key, input.value.trim());
    ctx.go(location.hash);
  });
  fill(view, h("div", { class: "narrow" }, card("The project secret is needed", null,
    h("p", { class: "muted" }, "“Try it” chats as a client, and clients prove who they are with the project's secret."), form)));
  input.focus();
  return undefined;
}
