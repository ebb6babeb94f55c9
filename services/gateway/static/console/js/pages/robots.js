/* Robots: every robot of the project with its online state and last sign of life; one robot's
   latest figures, a telemetry chart over time (refreshing), and its command console. */

import { api, errorBox } from "../api.js";
import { h, fill, card, badge, ago, empty } from "../dom.js";
import { loadPlotly, drawTelemetry } from "../plotly.js";
import { commandConsole } from "./commands.js";

const LIST_EVERY_MS = 5000;
const CHART_EVERY_MS = 3000;
/** Time windows of the chart: [label, seconds, bucket width] (about 60 to 150 points each). */
const WINDOWS = [["5 min", 300, 5], ["15 min", 900, 10], ["1 hour", 3600, 30], ["6 hours", 21600, 180], ["24 hours", 86400, 600]];

export function render(ctx) {
  return ctx.args[0] ? robotPage(ctx, ctx.args[0]) : robotList(ctx);
}

export function presence(robot) {
  if (!robot) return badge("unknown", "muted");
  if (robot.online) return badge("online", "ok", { dataset: { online: "true" } });
  if (robot.connected) return badge("silent", "warn", { title: "Its socket is open but it has not been heard from lately" });
  return badge("offline", "muted", { dataset: { online: "false" } });
}

function robotList(ctx) {
  const { view, setTitle, project } = ctx;
  const base = `/admin/projects/${project.key}`;
  setTitle("Robots", [{ text: project.title || project.name, href: `#/p/${project.key}/settings` }, { text: "Robots" }]);
  const grid = h("div", { class: "robot-grid", id: "robots" });
  const counts = h("span", { class: "muted" });
  fill(view, card("Robots", counts, grid));

  async function refresh() {
    try {
      const [found, latest] = await Promise.all([api(`${base}/robots`), api(`${base}/telemetry/latest`).catch(() => ({ samples: [] }))]);
      const robots = found.robots || found.items || [];
      const figures = Object.fromEntries((latest.samples || []).map((s) => [s.robot_id, s.metrics]));
      counts.textContent = `${robots.filter((r) => r.online).length} online of ${robots.length}`;
      fill(grid, robots.length ? robots.map((r) => robotCard(project, r, figures[r.robot_id])) : empty("No robots yet",
        "A robot appears here once it connects with the project's secret (XPARO robot API) or sends telemetry."));
    } catch (err) { fill(grid, errorBox(err)); }
  }
  refresh();
  const timer = setInterval(refresh, LIST_EVERY_MS);
  return () => clearInterval(timer);
}

function robotCard(project, robot, metrics = {}) {
  const shown = Object.entries(metrics || {}).slice(0, 3);
  return h("a", { class: "robot-card", href: `#/p/${project.key}/robots/${encodeURIComponent(robot.robot_id)}`, dataset: { robot: robot.robot_id } },
    h("div", { class: "robot-card__head" }, h("strong", { class: "robot-card__name" }, robot.robot_id), presence(robot)),
    h("p", { class: "muted small" }, `Last seen ${ago(robot.last_seen)}`, robot.protocol ? ` · ${robot.protocol}` : ""),
    shown.length ? h("div", { class: "mini-stats" }, shown.map(([name, value]) =>
      h("span", { class: "mini-stat" }, h("span", { class: "muted" }, name), h("strong", {}, format(value))))) : null);
}

function format(value) {
  return typeof value === "number" ? (Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1)) : String(value);
}

function robotPage(ctx, robotId) {
  const { view, setTitle, project, config } = ctx;
  const base = `/admin/projects/${project.key}`;
  setTitle(robotId, [{ text: project.title || project.name, href: `#/p/${project.key}/settings` }, { text: "Robots", href: `#/p/${project.key}/robots` }, { text: robotId }]);
  const state = { metric: null, window: WINDOWS[0], plotly: null, stopped: false };
  const status = h("div", { class: "robot-status" });
  const tiles = h("div", { class: "tiles", id: "metrics" });
  const chart = h("div", { class: "chart", id: "telemetry-chart", role: "img", "aria-label": "Telemetry chart" });
  const chartNote = h("p", { class: "muted small", id: "chart-note" });
  const windows = h("div", { class: "segmented", role: "group", "aria-label": "Time window" }, WINDOWS.map((w) =>
    h("button", { type: "button", class: ["segmented__item", w === state.window && "segmented__item--on"], dataset: { window: w[0] },
      onclick: (event) => {
        state.window = w;
        for (const b of windows.children) b.classList.toggle("segmented__item--on", b === event.target);
        drawChart();
      } }, w[0])));
  const commands = commandConsole(ctx, robotId);
  fill(view, h("div", { class: "stack" },
    h("div", { class: "robot-header" }, h("a", { href: `#/p/${project.key}/robots`, class: "button button--quiet" }, "← All robots"), status),
    tiles,
    card("Telemetry", windows, chart, chartNote),
    h("div", { class: "columns" }, commands.form, commands.history)));

  async function refreshStatus() {
    try {
      const [found, latest] = await Promise.all([api(`${base}/robots`), api(`${base}/telemetry/latest`, { query: { robot_id: robotId } })]);
      if (state.stopped) return;
      const robot = (found.robots || found.items || []).find((r) => r.robot_id === robotId);
      fill(status, presence(robot), h("span", { class: "muted" }, robot ? ` Last seen ${ago(robot.last_seen)}${robot.protocol ? ` over ${robot.protocol}` : ""}` : " Not seen yet"));
      const sample = (latest.samples || [])[0];
      const metrics = sample ? sample.metrics : {};
      const names = Object.keys(metrics).sort();
      if (!state.metric || !names.includes(state.metric)) {
        state.metric = names.includes("cpu_usage") ? "cpu_usage" : names[0] || null;
      }
      fill(tiles, names.length ? names.map((name) => h("button", {
        type: "button", class: ["tile", name === state.metric && "tile--on"], dataset: { metric: name },
        onclick: () => { state.metric = name; refreshStatus(); drawChart(); },
      }, h("span", { class: "tile__label" }, name), h("strong", { class: "tile__value" }, format(metrics[name])))) : null);
      if (sample) chartNote.textContent = `Newest sample ${ago(sample.received_at)}. Line: average per bucket; band: min to max.`;
    } catch (err) { fill(status, errorBox(err)); }
  }

  /** Replace the chart by a message (plotly must let go of the element first). */
  function chartMessage(message) {
    if (state.plotly && chart.dataset.rendered) state.plotly.purge(chart);
    delete chart.dataset.rendered;
    fill(chart, message);
  }

  async function drawChart() {
    if (!state.metric) {
      chartMessage(empty("No telemetry yet", "Charts appear once the robot sends samples (typed API `telemetry` frames, or POST /telemetry/)."));
      return;
    }
    const [, seconds, bucket] = state.window;
    const now = Date.now();
    const start = new Date(Math.floor((now - seconds * 1000) / (bucket * 1000)) * bucket * 1000); // stable buckets between refreshes
    const end = new Date(now + 1000);
    try {
      const range = await api(`${base}/robots/${encodeURIComponent(robotId)}/telemetry`, {
        query: { metric: state.metric, start: start.toISOString(), end: end.toISOString(), bucket_s: bucket },
      });
      state.plotly = state.plotly || await loadPlotly(config.plotly_version);
      if (state.stopped) return;
      if (!chart.dataset.rendered) chart.replaceChildren();
      await drawTelemetry(state.plotly, chart, range, state.metric);
    } catch (err) { chartMessage(errorBox(err)); }
  }

  (async () => { await refreshStatus(); await drawChart(); })();
  const timers = [
    setInterval(refreshStatus, LIST_EVERY_MS),
    setInterval(() => { if (!document.hidden) drawChart(); }, CHART_EVERY_MS),
  ];
  return () => {
    state.stopped = true;
    timers.forEach(clearInterval);
    commands.stop();
    if (state.plotly && chart.dataset.rendered) state.plotly.purge(chart);
  };
}
