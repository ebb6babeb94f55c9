/* The console's shell: sign-in state, the project switcher, the navigation and the hash router.
   Each page is a module whose render(ctx) fills the view and may return a cleanup function
   (to stop its timers and streams when the operator goes elsewhere): no page ever reloads. */

import { api, all, errorBox, onUnauthorized } from "./api.js";
import { h, fill, spinner, plural } from "./dom.js";
import { store } from "./store.js";
import * as login from "./pages/login.js";
import * as projects from "./pages/projects.js";
import * as settings from "./pages/settings.js";
import * as content from "./pages/content.js";
import * as documents from "./pages/documents.js";
import * as tryit from "./pages/tryit.js";
import * as conversations from "./pages/conversations.js";
import * as robots from "./pages/robots.js";
import * as events from "./pages/events.js";
import * as inbox from "./pages/inbox.js";
import * as audit from "./pages/audit.js";
import * as cluster from "./pages/cluster.js";
import { watchInbox } from "./inbox_watch.js";

/** Pages of one project, in the order the navigation lists them. */
const PROJECT_PAGES = [
  ["content", "Content", content],
  ["documents", "Documents", documents],
  ["try", "Try it", tryit],
  ["inbox", "Inbox", inbox],
  ["conversations", "Conversations", conversations],
  ["robots", "Robots", robots],
  ["events", "Live events", events],
  ["settings", "Settings", settings],
  ["audit", "Audit log", audit],
];

const $ = (id) => document.getElementById(id);
const state = { me: null, projects: [], config: {}, cleanup: null, route: 0, title: "Switchboard console", unread: 0, inbox: null };

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function showTitleOf(title, crumbs = []) {
  $("title").textContent = title;
  state.title = title;
  showTitle();
  fill($("crumbs"), crumbs.flatMap((c, i) => [i ? h("span", { class: "crumbs__sep" }, "/") : null,
    c.href ? h("a", { href: c.href }, c.text) : h("span", {}, c.text)]));
}

/** The tab's title, with the number of unread inbox sessions in front: "(2) Robots · ...". */
function showTitle() {
  document.title = `${state.unread ? `(${state.unread}) ` : ""}${state.title} · Switchboard console`;
}

function showUnread(count) {
  state.unread = count;
  showTitle();
  const badge = $("inbox-count");
  if (badge) { badge.textContent = String(count); badge.hidden = !count; }
}

/** Watch the inbox of the open project (one at a time). */
function watch(key) {
  if (state.inbox && state.inbox.project === key) return;
  if (state.inbox) state.inbox.stop();
  state.inbox = key ? watchInbox(key, showUnread) : null;
  if (!key) showUnread(0);
}

async function loadProjects() {
  state.projects = await all("/admin/projects");
  renderSwitcher();
  return state.projects;
}

function renderSwitcher() {
  const select = $("switcher");
  const current = currentProjectKey();
  fill(select,
    h("option", { value: "" }, state.projects.length ? "Choose a project…" : "No projects yet"),
    state.projects.map((p) => h("option", { value: p.key, selected: p.key === current }, p.title || p.name)));
  $("switcher-wrap").hidden = false;
}

function currentProjectKey() {
  const [, first, key] = location.hash.replace(/^#/, "").split("/");
  return first === "p" ? key : null;
}

function renderNav(key, page) {
  const link = (href, text, active, extra = {}) =>
    h("a", { href, class: ["nav__link", active && "nav__link--active"], "aria-current": active ? "page" : null, ...extra }, text);
  const items = [link("#/projects", "All projects", page === "projects", { dataset: { page: "projects" } }),
    link("#/cluster", "Replicas and queues", page === "cluster", { dataset: { page: "cluster" } })];
  if (key) {
    const project = state.projects.find((p) => p.key === key);
    items.push(h("p", { class: "nav__section" }, project ? project.title || project.name : "Project"));
    for (const [slug, text] of PROJECT_PAGES) {
      const count = slug === "inbox" ? h("span", { class: "nav__badge", id: "inbox-count", hidden: !state.unread, "aria-label": "unread" }, String(state.unread)) : null;
      items.push(link(`#/p/${key}/${slug}`, [text, count], page === slug, { dataset: { page: slug } }));
    }
  }
  fill($("nav"), items);
}

async function route() {
  if (state.cleanup) { try { state.cleanup(); } catch (err) { console.warn(err); } }
  state.cleanup = null;
  $("sidebar").dataset.open = "false";
  $("menu-toggle").setAttribute("aria-expanded", "false");
  // Each route fills its own element: a page still loading when the operator moved on (the
  // projects list after sign-in, say) fills an element no longer shown, and its title is
  // ignored, so one page's content never appears under another page's title.
  const generation = ++state.route;
  const view = h("div", { class: "page" });
  fill($("view"), view);
  const setTitle = (...args) => { if (generation === state.route) showTitleOf(...args); };
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (!store.token || !state.me) {
    $("shell").dataset.signedIn = "false";
    watch(null);
    state.cleanup = login.render({ view, setTitle, signIn });
    return;
  }
  $("shell").dataset.signedIn = "true";
  const readOnly = state.me.role === "viewer";
  let ctx = { view, setTitle, go, me: state.me, readOnly, config: state.config, reloadProjects: loadProjects };
  if (parts[0] === "p" && parts[1]) {
    const project = state.projects.find((p) => p.key === parts[1]);
    const found = PROJECT_PAGES.find(([slug]) => slug === parts[2]);
    if (!found) return go(`#/p/${parts[1]}/content`);
    renderNav(parts[1], found[0]);
    $("switcher").value = parts[1];
    if (!project) {
      fill(view, errorBox(new Error(`No project ${parts[1]} here: it was deleted, or this token does not cover it.`)));
      return setTitle("Project not found");
    }
    store.lastProject = project.key;
    watch(project.key);
    ctx = { ...ctx, project, args: parts.slice(3), inbox: state.inbox };
    fill(view, spinner());
    const cleanup = await found[2].render(ctx);
    if (generation === state.route) state.cleanup = cleanup;
    else if (typeof cleanup === "function") cleanup(); // the operator already moved on
  } else if (parts[0] === "cluster") {
    renderNav(null, "cluster");
    $("switcher").value = "";
    watch(null);
    state.cleanup = cluster.render(ctx);
  } else {
    if (parts[0] !== "projects") return go("#/projects");
    renderNav(null, "projects");
    $("switcher").value = "";
    watch(null);
    const cleanup = await projects.render({ ...ctx, projects: state.projects });
    if (generation === state.route) state.cleanup = cleanup;
    else if (typeof cleanup === "function") cleanup();
  }
  if (generation === state.route) $("view").focus({ preventScroll: true });
}

/** Check a token with GET /admin/me; on success keep it and load the projects it covers. */
async function signIn(token) {
  const me = await api("/admin/me", { token });
  store.token = token;
  state.me = me;
  await loadProjects();
  const readOnly = me.role === "viewer"; // the server is the guard; this hides what it refuses
  $("shell").dataset.readOnly = String(readOnly);
  $("readonly-note").hidden = !readOnly;
  $("whoami").hidden = false;
  fill($("whoami"), h("span", { class: "muted" }, "Signed in as "), h("strong", {}, me.name),
    h("br"), h("span", { class: "muted" }, me.projects === null ? "All projects" : plural(me.projects.length, "project")),
    readOnly ? [h("br"), h("span", { class: "muted", id: "role" }, "Read-only (viewer)")] : null);
  $("signout").hidden = false;
  const last = store.lastProject;
  const target = location.hash && !location.hash.startsWith("#/login") ? location.hash
    : last && state.projects.some((p) => p.key === last) ? `#/p/${last}/content` : "#/projects";
  go(target);
}

function signOut(message) {
  watch(null);
  store.clear();
  state.me = null;
  state.projects = [];
  delete $("shell").dataset.readOnly;
  $("readonly-note").hidden = true;
  $("whoami").hidden = true;
  $("signout").hidden = true;
  $("switcher-wrap").hidden = true;
  fill($("nav"));
  if (message) sessionStorage.setItem("switchboard.console.notice", message);
  go("#/login");
}

async function start() {
  try {
    state.config = await (await fetch("config.json", { cache: "no-cache" })).json();
  } catch { state.config = {}; }
  onUnauthorized((err) => signOut(`Signed out: ${err.detail}`));
  $("signout").addEventListener("click", () => signOut("Signed out."));
  $("menu-toggle").addEventListener("click", () => {
    const open = $("sidebar").dataset.open !== "true";
    $("sidebar").dataset.open = String(open);
    $("menu-toggle").setAttribute("aria-expanded", String(open));
  });
  $("switcher").addEventListener("change", (event) => {
    const key = event.target.value;
    if (!key) return go("#/projects");
    const [, first, , page] = location.hash.replace(/^#/, "").split("/");
    go(`#/p/${key}/${first === "p" && page ? page : "content"}`);
  });
  window.addEventListener("hashchange", route);
  if (store.token) {
    fill($("view"), spinner("Signing in…"));
    try { await signIn(store.token); return; } catch { store.token = null; }
  }
  route();
}

start();
