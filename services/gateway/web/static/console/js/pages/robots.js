/* Robots: the fleet overview (every robot with its presence, newest metrics and the alerts its
   metrics raise against the project's thresholds, updating live), and one robot's page: its
   newest value of each metric, a chart of one or several metrics over a window (a preset or a
   custom range), and its command console. */

import { api, errorBox } from "../api.js";
import { h, fill, card, badge, ago, empty, button, field, toast, writes } from "../dom.js";
import { loadPlotly, drawTelemetry } from "../plotly.js";
import { commandConsole } from "./commands.js";

const FLEET_EVERY_MS = 2000;
const STATUS_EVERY_MS = 5000;
const CHART_EVERY_MS = 3000;
/** Time windows of the chart: [label, seconds, bucket width] (about 60 to 150 points each). */
const WINDOWS = [["5 min", 300, 5], ["15 min", 900, 10], ["1 hour", 3600, 30], ["6 hours", 21600, 180], ["24 hours", 86400, 600]];
const CUSTOM = ["Custom", 0, 0];
const POINTS = 150; // a custom range gets buckets wide enough for about this many points

export function render(ctx) {
  return ctx.args[0] ? robotPage(ctx, ctx.args[0]) : fleetPage(ctx);
}

export function presence(robot) {
  if (!robot) return badge("unknown", "muted");
  if (robot.online) return badge("online", "ok", { dataset: { online: "true" } });
  if (robot.connected) return badge("silent", "warn", { title: "Its socket is open but it has not been heard from lately" });
  return badge("offline", "muted", { dataset: { online: "false" } });
}

function format(value) {
  return typeof value === "number" ? (Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1)) : String(value);
}

/** "battery 12.0 < 20": what an alert says. */
export function alertText(alert) {
  return alert.above !== null && alert.above !== undefined
    ? `${alert.metric} ${format(alert.value)} > ${format(alert.above)}`
    : `${alert.metric} ${format(alert.value)} < ${format(alert.below)}`;
}

function fleetPage(ctx) {
  const { view, setTitle, project } = ctx;
  const base = `/admin/projects/${project.key}`;
  setTitle("Robots", [{ text: project.title || project.name, href: `#/p/${project.key}/settings` }, { text: "Robots" }]);
  const counts = h("span", { class: "muted", id: "fleet-counts" });
  const body = h("div", { id: "robots" });
  const rulesBox = h("div", { id: "alert-rules" });
  fill(view, h("div", { class: "stack" }, card("Fleet", counts, body), writes(card("Alert thresholds", null, rulesBox))));
  let stopped = false;
  let rulesShown = false;

  async function refresh() {
    try {
      const fleet = await api(`${base}/fleet`);
      if (stopped) return;
      counts.textContent = `${fleet.online} online of ${fleet.robots.length}${fleet.alerting ? ` · ${fleet.alerting} alerting` : ""}`;
      fill(body, fleet.robots.length ? fleetTable(project, fleet) : empty("No robots yet",
        "A robot appears here once it connects with the project's secret (XPARO robot API) or sends telemetry."));
      if (!rulesShown && !ctx.readOnly) { rulesShown = true; fill(rulesBox, rulesEditor(base, fleet.rules, refresh)); }
    } catch (err) { if (!stopped) fill(body, errorBox(err)); }
  }
  refresh();
  const timer = setInterval(() => { if (!document.hidden) refresh(); }, FLEET_EVERY_MS);
  return () => { stopped = true; clearInterval(timer); };
}

function fleetTable(project, fleet) {
  const watched = fleet.rules.map((r) => r.metric);
  const rows = fleet.robots.map((robot) => {
    const names = Object.keys(robot.metrics).sort();
    const key = [...new Set([...watched.filter((m) => m in robot.metrics), ...names])].slice(0, 4);
    return h("tr", { dataset: { robot: robot.robot_id, alerting: String(robot.alerts.length > 0) }, class: robot.alerts.length ? "row--alert" : null },
      h("td", {}, h("a", { class: "strong", href: `#/p/${project.key}/robots/${encodeURIComponent(robot.robot_id)}` }, robot.robot_id)),
      h("td", {}, presence(robot)),
      h("td", { class: "last-seen", title: robot.last_seen || "" }, ago(robot.last_seen), robot.protocol ? h("span", { class: "muted small" }, ` · ${robot.protocol}`) : null),
      h("td", {}, key.length ? h("div", { class: "mini-stats" }, key.map((name) =>
        h("span", { class: "mini-stat", dataset: { metric: name } }, h("span", { class: "muted" }, name), h("strong", {}, format(robot.metrics[name])))))
        : h("span", { class: "muted" }, "no telemetry")),
      h("td", { class: "alerts" }, robot.alerts.length
        ? robot.alerts.map((a) => badge(alertText(a), "bad", { dataset: { metric: a.metric } }))
        : h("span", { class: "muted" }, "—")));
  });
  return h("div", { class: "table-wrap" }, h("table", { class: "table", id: "fleet" },
    h("thead", {}, h("tr", {}, ["Robot", "Status", "Last seen", "Key metrics", "Alerts"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows)));
}

/** Rows of metric / above / below; saved with PUT /alerts. */
function rulesEditor(base, rules, saved) {
  const list = h("div", { class: "rules" });
  const status = h("div", { id: "alert-status" });
  const row = (rule = {}) => {
    const metric = h("input", { class: "input", name: "metric", value: rule.metric || "", placeholder: "battery", "aria-label": "Metric" });
    const above = h("input", { class: "input", name: "above", type: "number", step: "any", value: rule.above ?? "", placeholder: "—", "aria-label": "Alert above" });
    const below = h("input", { class: "input", name: "below", type: "number", step: "any", value: rule.below ?? "", placeholder: "—", "aria-label": "Alert below" });
    const line = h("div", { class: "rule" }, field("Metric", metric), field("Alert above", above), field("Alert below", below),
      button("Remove", () => line.remove(), "quiet", { class: "button button--quiet rule__remove" }));
    return line;
  };
  fill(list, rules.length ? rules.map(row) : row());
  const save = h("button", { type: "submit", class: "button button--primary", id: "alerts-save" }, "Save thresholds");
  const form = h("form", { class: "form", id: "alerts-form" },
    h("p", { class: "muted small" }, "A robot alerts on the fleet overview while its newest value of a metric is above or below what you set here. Leave a box empty for no bound."),
    list,
    h("div", { class: "form__actions" }, button("Add a threshold", () => list.append(row()), "quiet", { id: "alerts-add" }), save),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = (input) => (input.value.trim() === "" ? null : Number(input.value));
    const found = [...list.querySelectorAll(".rule")].map((line) => ({
      metric: line.querySelector("[name=metric]").value.trim(),
      above: number(line.querySelector("[name=above]")),
      below: number(line.querySelector("[name=below]")),
    })).filter((r) => r.metric || r.above !== null || r.below !== null);
    const missing = found.find((r) => !r.metric);
    if (missing) { fill(status, h("div", { class: "alert alert--error", role: "alert" }, "Each threshold needs the name of the metric it watches.")); return; }
    const unbounded = found.find((r) => r.above === null && r.below === null);
    if (unbounded) { fill(status, h("div", { class: "alert alert--error", role: "alert" }, `Give ${unbounded.metric} a value to stay above or below.`)); return; }
    save.disabled = true;
    try {
      await api(`${base}/alerts`, { method: "PUT", json: { rules: found } });
      fill(status);
      toast("Thresholds saved.");
      saved();
    } catch (err) { fill(status, errorBox(err)); }
    finally { save.disabled = false; }
  });
  return form;
}

/** A `datetime-local` value for a Date (the operator's own clock). */
function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function robotPage(ctx, robotId) {
  const { view, setTitle, project, config } = ctx;
  const base = `/admin/projects/${project.key}`;
  setTitle(robotId, [{ text: project.title || project.name, href: `#/p/${project.key}/settings` }, { text: "Robots", href: `#/p/${project.key}/robots` }, { text: robotId }]);
  const state = { metrics: [], window: WINDOWS[0], custom: null, plotly: null, stopped: false, drawing: 0 };
  const status = h("div", { class: "robot-status" });
  const tiles = h("div", { class: "tiles", id: "metrics" });
  const chart = h("div", { class: "chart", id: "telemetry-chart", role: "img", "aria-label": "Telemetry chart" });
  const chartNote = h("p", { class: "muted small", id: "chart-note" });
  const from = h("input", { class: "input", type: "datetime-local", id: "range-from", "aria-label": "From" });
  const to = h("input", { class: "input", type: "datetime-local", id: "range-to", "aria-label": "To" });
  const rangeStatus = h("span", { class: "small", id: "range-status" });
  const customForm = h("form", { class: "range-form", id: "range-form", hidden: true },
    field("From", from), field("To", to),
    h("button", { type: "submit", class: "button button--primary", id: "range-apply" }, "Show"), rangeStatus);
  customForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const start = new Date(from.value);
    const end = new Date(to.value);
    if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) { rangeStatus.textContent = "Give both a start and an end."; return; }
    if (end <= start) { rangeStatus.textContent = "The end must be after the start."; return; }
    rangeStatus.textContent = "";
    state.custom = { start, end };
    drawChart();
  });
  const windows = h("div", { class: "segmented", role: "group", "aria-label": "Time window" }, [...WINDOWS, CUSTOM].map((w) =>
    h("button", { type: "button", class: ["segmented__item", w === state.window && "segmented__item--on"], dataset: { window: w[0] },
      onclick: (event) => {
        state.window = w;
        for (const b of windows.children) b.classList.toggle("segmented__item--on", b === event.target);
        customForm.hidden = w !== CUSTOM;
        if (w === CUSTOM && !from.value) {
          const now = new Date();
          from.value = localInput(new Date(now.getTime() - 3600 * 1000));
          to.value = localInput(now);
        }
        if (w !== CUSTOM || state.custom) drawChart();
      } }, w[0])));
  const commands = commandConsole(ctx, robotId);
  fill(view, h("div", { class: "stack" },
    h("div", { class: "robot-header" }, h("a", { href: `#/p/${project.key}/robots`, class: "button button--quiet" }, "← All robots"), status),
    tiles,
    card("Telemetry", windows, customForm, chart, chartNote),
    h("div", { class: "columns" }, commands.form, commands.history)));

  /** A click shows one metric; Shift-, Ctrl- or Cmd-click adds it to (or takes it off) the chart. */
  function choose(name, event) {
    if (event.shiftKey || event.ctrlKey || event.metaKey) {
      const on = state.metrics.includes(name);
      if (on && state.metrics.length > 1) state.metrics = state.metrics.filter((m) => m !== name);
      else if (!on) state.metrics = [...state.metrics, name];
    } else {
      state.metrics = [name];
    }
    for (const tile of tiles.children) tile.classList.toggle("tile--on", state.metrics.includes(tile.dataset.metric));
    drawChart();
  }

  async function refreshStatus() {
    try {
      const [found, latest] = await Promise.all([api(`${base}/robots`), api(`${base}/telemetry/latest`, { query: { robot_id: robotId } })]);
      if (state.stopped) return;
      const robot = (found.robots || found.items || []).find((r) => r.robot_id === robotId);
      fill(status, presence(robot), h("span", { class: "muted" }, robot ? ` Last seen ${ago(robot.last_seen)}${robot.protocol ? ` over ${robot.protocol}` : ""}` : " Not seen yet"));
      const sample = (latest.samples || [])[0];
      const metrics = sample ? sample.metrics : {};
      const names = Object.keys(metrics).sort();
      const before = state.metrics.join(",");
      state.metrics = state.metrics.filter((m) => names.includes(m));
      if (!state.metrics.length) {
        const first = names.includes("cpu_usage") ? "cpu_usage" : names[0];
        state.metrics = first ? [first] : [];
      }
      fill(tiles, names.map((name) => h("button", {
        type: "button", class: ["tile", state.metrics.includes(name) && "tile--on"], dataset: { metric: name },
        title: "Click to chart it; Shift-click to add it to the chart", onclick: (event) => choose(name, event),
      }, h("span", { class: "tile__label" }, name), h("strong", { class: "tile__value" }, format(metrics[name])))));
      if (sample) chartNote.textContent = `Newest sample ${ago(sample.received_at)}. ${state.metrics.length > 1 ? "One line per metric (average per bucket)" : "Line: average per bucket; band: min to max"}; gaps are times without samples. Shift-click a tile to compare metrics.`;
      if (state.metrics.join(",") !== before) drawChart();
    } catch (err) { fill(status, errorBox(err)); }
  }

  /** Replace the chart by a message (plotly must let go of the element first). */
  function chartMessage(message) {
    if (state.plotly && chart.dataset.rendered) state.plotly.purge(chart);
    delete chart.dataset.rendered;
    fill(chart, message);
  }

  function currentRange() {
    if (state.window === CUSTOM) {
      const { start, end } = state.custom;
      const bucketS = Math.max(1, Math.ceil((end - start) / 1000 / POINTS));
      return { start, end, bucketS };
    }
    const [, seconds, bucketS] = state.window;
    const now = Date.now();
    // stable buckets between refreshes; the axis still spans the whole window up to now
    const start = new Date(Math.floor((now - seconds * 1000) / (bucketS * 1000)) * bucketS * 1000);
    return { start, end: new Date(now + 1000), bucketS };
  }

  async function drawChart() {
    if (!state.metrics.length) {
      chartMessage(empty("No telemetry yet", "Charts appear once the robot sends samples (typed API `telemetry` frames, or POST /telemetry/)."));
      return;
    }
    if (state.window === CUSTOM && !state.custom) return;
    const drawing = ++state.drawing;
    try {
      state.plotly = state.plotly || await loadPlotly(config.plotly_version); // once per page
    } catch (err) { chartMessage(errorBox(err)); return; }
    const began = performance.now();
    const range = currentRange();
    const metrics = [...state.metrics];
    try {
      const series = await Promise.all(metrics.map(async (metric) => {
        const found = await api(`${base}/robots/${encodeURIComponent(robotId)}/telemetry`, {
          query: { metric, start: range.start.toISOString(), end: range.end.toISOString(), bucket_s: range.bucketS },
        });
        return { metric, buckets: found.buckets || [] };
      }));
      if (state.stopped || drawing !== state.drawing) return;
      if (!chart.dataset.rendered) chart.replaceChildren();
      await drawTelemetry(state.plotly, chart, series, range);
      chart.dataset.drawMs = String(Math.round(performance.now() - began)); // query + plot
      chart.dataset.window = state.window[0];
    } catch (err) { chartMessage(errorBox(err)); }
  }

  (async () => { await refreshStatus(); await drawChart(); })();
  const timers = [
    setInterval(refreshStatus, STATUS_EVERY_MS),
    setInterval(() => { if (!document.hidden && state.window !== CUSTOM) drawChart(); }, CHART_EVERY_MS),
  ];
  return () => {
    state.stopped = true;
    timers.forEach(clearInterval);
    commands.stop();
    if (state.plotly && chart.dataset.rendered) state.plotly.purge(chart);
  };
}
