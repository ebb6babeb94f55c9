/* Versions of a project's content: which one each stage answers from, publishing test →
   release (or an older version: a rollback), restoring an old version to test, and the diff
   between any two (per part: each AIML file, FAQ, intents, machine, chain, each tree). */

import { api, errorBox } from "../api.js";
import { h, fill, card, button, badge, ago, confirmBox, modal, toast, empty, writes } from "../dom.js";

export function versionsPanel(ctx) {
  const base = `/admin/projects/${ctx.project.key}`;
  const summary = h("div", { class: "stages", id: "stages" });
  const list = h("ol", { class: "versions", id: "versions" });
  const publish = writes(button("Publish test → release", () => publishVersion(), "primary", { id: "publish", disabled: true }));
  const compare = button("Compare", () => showDiff("release", "test"), "quiet", { id: "compare", disabled: true });
  const root = card("Versions", h("div", { class: "toolbar" }, compare, publish), summary, list);
  let state = null;
  let stopped = false;

  async function refresh() {
    try {
      state = await api(`${base}/versions`, { query: { limit: 30 } });
    } catch (err) { if (!stopped) fill(list, errorBox(err)); return; }
    if (stopped) return;
    const { test, release } = state;
    fill(summary,
      stage("Test", test, "info", "What “Try it” and ?stage=test clients get"),
      stage("Release", release, "ok", "What every other client gets"));
    publish.disabled = !test || test === release;
    compare.disabled = !test;
    publish.textContent = !test ? "Nothing to publish" : test !== release ? `Publish v${test} → release` : "Release is up to date";
    const versions = state.versions || [];
    fill(list, versions.length ? versions.map(row) : empty("No content yet", "Save something on the left: it becomes version 1."));
  }

  function row(v) {
    const tags = [
      v.version === state.test ? badge("test", "info") : null,
      v.version === state.release ? badge("release", "ok") : null,
    ];
    const counts = [
      v.categories && `${v.categories} categories`, v.faq_groups && `${v.faq_groups} FAQ`,
      v.intents && `${v.intents} intents`, v.machine_states && `${v.machine_states} states`,
    ].filter(Boolean).join(" · ");
    return h("li", { class: "version", dataset: { version: v.version } },
      h("div", { class: "version__head" },
        h("strong", {}, `v${v.version}`), tags, h("span", { class: "version__change" }, v.change),
        h("span", { class: "muted small version__when", title: v.created_at || "" }, ago(v.created_at))),
      counts ? h("div", { class: "muted small" }, counts) : null,
      h("div", { class: "version__actions" },
        button("Diff vs release", () => showDiff("release", String(v.version)), "link"),
        v.version !== state.release ? writes(button(v.version < state.release ? "Roll back release to this" : "Publish this", () => publishVersion(v.version), "link")) : null,
        v.version !== state.test ? writes(button("Restore to test", () => restore(v.version), "link")) : null));
  }

  async function publishVersion(version = state?.test) {
    const rollback = state && version < state.release;
    const ok = await confirmBox(rollback ? `Roll the release back to v${version}?` : `Publish v${version}?`,
      `Clients on the release stage (widgets, robots, apps) answer from version ${version} from now on.`,
      rollback ? "Roll back" : "Publish");
    if (!ok) return;
    try {
      const done = await api(`${base}/publish`, { method: "POST", json: { version } });
      toast(`Release now answers from v${done.version}.`);
      refresh();
    } catch (err) { toast(err.detail || String(err), "bad"); }
  }

  async function restore(version) {
    if (!(await confirmBox(`Restore v${version}?`, "It is copied into a new version, which the test stage answers from. The release is unchanged.", "Restore"))) return;
    try {
      const done = await api(`${base}/versions/${version}/restore`, { method: "POST" });
      toast(`v${version} restored as v${done.version} on test.`);
      ctx.go(location.hash); // reload the editor with the restored content
    } catch (err) { toast(err.detail || String(err), "bad"); }
  }

  async function showDiff(from, to) {
    let found;
    try { found = await api(`${base}/diff`, { query: { from, to } }); }
    catch (err) { found = err; }
    await modal(`Changes from ${label(from)} to ${label(to)}`, (close) => h("div", { class: "diff-modal" },
      found instanceof Error ? errorBox(found) : diffView(found),
      h("div", { class: "modal__actions" },
        button("Close", () => close(), "quiet"),
        to === "test" && from === "release" && state && state.test !== state.release
          ? writes(button(`Publish v${state.test}`, () => { close(); publishVersion(); }, "primary")) : null)));
  }

  return { root, refresh, stop() { stopped = true; } };
}

function label(stageOrVersion) {
  return /^\d+$/.test(stageOrVersion) ? `v${stageOrVersion}` : stageOrVersion;
}

function stage(name, version, tone, hint) {
  return h("div", { class: "stage", title: hint, dataset: { stage: name.toLowerCase() } },
    h("span", { class: "stage__name" }, name), badge(version ? `v${version}` : "none", version ? tone : "muted"));
}

/** The parts of a diff answer, whatever the exact member names: [{name, diff}]. */
function parts(found) {
  const list = found?.parts ?? found?.items ?? found?.changes ?? found?.files ?? found?.diffs;
  if (Array.isArray(list)) {
    return list.map((p) => ({
      change: p.change,
      name: p.part ?? p.name ?? p.file ?? p.path ?? "content",
      diff: Array.isArray(p.diff) ? p.diff.join("\n") : p.diff ?? p.unified ?? p.patch ?? p.text ?? "",
    }));
  }
  if (list && typeof list === "object") return Object.entries(list).map(([name, diff]) => ({ name, diff: String(diff) }));
  return [];
}

/** A unified diff per part, added lines green and removed lines red. */
export function diffView(found) {
  const changed = parts(found);
  if (!changed.length) return empty("No differences", "Both sides hold the same content.");
  return h("div", { class: "diff", id: "diff" }, changed.map(({ name, diff, change }) => {
    const lines = diff.replace(/\n$/, "").split("\n");
    const added = lines.filter((l) => l.startsWith("+") && !l.startsWith("+++")).length;
    const removed = lines.filter((l) => l.startsWith("-") && !l.startsWith("---")).length;
    return h("details", { class: "diff__part", open: true },
      h("summary", {}, h("code", {}, name), change ? badge(change, { added: "ok", removed: "bad" }[change] || "info") : null,
        badge(`+${added}`, "ok"), badge(`−${removed}`, "bad")),
      h("pre", { class: "diff__body" }, lines.map((line) => h("span", { class: `diff__line ${lineClass(line)}` }, `${line}\n`))));
  }));
}

function lineClass(line) {
  if (line.startsWith("+++") || line.startsWith("---")) return "diff__line--file";
  if (line.startsWith("@@")) return "diff__line--hunk";
  if (line.startsWith("+")) return "diff__line--add";
  if (line.startsWith("-")) return "diff__line--del";
  return "";
}
