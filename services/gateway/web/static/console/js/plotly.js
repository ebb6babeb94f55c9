/* Plotly, loaded on first use: the bundle is large (1.4 MB gzipped) and only the robot pages
   need it. It is the gateway's copy of the installed plotly package's bundle (no CDN). */

let loading = null;

export function loadPlotly(version) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = `vendor/plotly.min.js?v=${encodeURIComponent(version || "0")}`;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => { loading = null; reject(new Error("The chart library could not be loaded.")); };
      document.head.append(script);
    });
  }
  return loading;
}

const FONT = { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 12, color: "#475467" };

const COLORS = ["#2f5bd3", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#0b7285"];

/**
 * Bucket averages with a null wherever buckets are missing, so plotly breaks the line there:
 * a robot that was silent for a while is drawn as a gap, not as a smooth line across it.
 */
export function withGaps(buckets, bucketS) {
  const x = [];
  const rows = [];
  let previous = null;
  for (const b of buckets) {
    const at = new Date(b.start).getTime();
    if (previous !== null && at - previous > bucketS * 1000 * 1.5) {
      x.push(new Date(previous + bucketS * 1000).toISOString());
      rows.push(null);
    }
    x.push(b.start);
    rows.push(b);
    previous = at;
  }
  return { x, rows };
}

/**
 * Metrics over a time window, redrawn in place. `series` is [{metric, buckets}]: one metric gets
 * its min-max band under the average line, several get one line each. The x-axis always spans
 * the window (`range` = {start, end, bucketS}), and an empty window says "No data" on the plot.
 */
export function drawTelemetry(Plotly, el, series, range) {
  const single = series.length === 1;
  const traces = [];
  series.forEach(({ metric, buckets }, n) => {
    const { x, rows } = withGaps(buckets || [], range.bucketS);
    const pick = (f) => rows.map((b) => (b ? f(b) : null));
    const color = COLORS[n % COLORS.length];
    if (single) {
      const band = "rgba(47, 91, 211, 0.12)";
      traces.push({ x, y: pick((b) => b.max), mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false, connectgaps: false });
      traces.push({ x, y: pick((b) => b.min), mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: band, hoverinfo: "skip", showlegend: false, connectgaps: false });
    }
    traces.push({
      x, y: pick((b) => b.avg), mode: "lines+markers", name: metric, connectgaps: false,
      line: { color, width: 2.5 }, marker: { size: 4, color },
      customdata: rows.map((b) => (b ? [b.min, b.max, b.count] : [null, null, 0])),
      hovertemplate: `${metric} %{y:.2f} (min %{customdata[0]:.2f}, max %{customdata[1]:.2f}, %{customdata[2]} samples)<extra></extra>`,
    });
  });
  const samples = series.reduce((sum, s) => sum + (s.buckets || []).reduce((t, b) => t + b.count, 0), 0);
  const layout = {
    margin: { l: 52, r: 16, t: 12, b: 40 }, height: 290, font: FONT,
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    xaxis: { type: "date", gridcolor: "#eef0f4", linecolor: "#d0d5dd", range: [range.start.toISOString(), range.end.toISOString()], autorange: false },
    yaxis: { title: { text: single ? series[0].metric : "" }, gridcolor: "#eef0f4", zerolinecolor: "#d0d5dd", rangemode: "tozero" },
    hovermode: "x unified", showlegend: !single, legend: { orientation: "h", y: 1.12 },
    uirevision: series.map((s) => s.metric).join(","),
    annotations: samples ? [] : [{
      text: "No data in this window", xref: "paper", yref: "paper", x: 0.5, y: 0.5,
      showarrow: false, font: { size: 15, color: "#667085" },
    }],
  };
  const config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d", "toImage"] };
  return Plotly.react(el, traces, layout, config).then(() => {
    // What tests (and curious operators) read: how much is plotted, and the newest value.
    const last = (series[0]?.buckets || []).at(-1);
    el.dataset.points = String((series[0]?.buckets || []).length);
    el.dataset.samples = String(samples);
    el.dataset.empty = String(!samples);
    el.dataset.metrics = series.map((s) => s.metric).join(",");
    el.dataset.last = last ? String(last.avg) : "";
    el.dataset.rendered = "true";
  });
}
