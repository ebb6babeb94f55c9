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

/** A metric's min/avg/max buckets as a line with a shaded band, redrawn in place. */
export function drawTelemetry(Plotly, el, range, metric) {
  const buckets = range.buckets || [];
  const x = buckets.map((b) => b.start);
  const band = "rgba(47, 91, 211, 0.12)";
  const traces = [
    { x, y: buckets.map((b) => b.max), mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false },
    { x, y: buckets.map((b) => b.min), mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: band, hoverinfo: "skip", showlegend: false },
    {
      x, y: buckets.map((b) => b.avg), mode: "lines+markers", name: metric,
      line: { color: "#2f5bd3", width: 2.5, shape: "spline", smoothing: 0.6 }, marker: { size: 5, color: "#2f5bd3" },
      customdata: buckets.map((b) => [b.min, b.max, b.count]),
      hovertemplate: "%{y:.2f} (min %{customdata[0]:.2f}, max %{customdata[1]:.2f}, %{customdata[2]} samples)<extra></extra>",
    },
  ];
  const layout = {
    margin: { l: 52, r: 16, t: 12, b: 40 }, height: 290, font: FONT,
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    xaxis: { type: "date", gridcolor: "#eef0f4", linecolor: "#d0d5dd" },
    yaxis: { title: { text: metric }, gridcolor: "#eef0f4", zerolinecolor: "#d0d5dd", rangemode: "tozero" },
    hovermode: "x unified", showlegend: false, uirevision: metric,
  };
  const config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d", "toImage"] };
  return Plotly.react(el, traces, layout, config).then(() => {
    // What tests (and curious operators) read: how much is plotted, and the newest value.
    el.dataset.points = String(buckets.length);
    el.dataset.samples = String(buckets.reduce((sum, b) => sum + b.count, 0));
    el.dataset.last = buckets.length ? String(buckets[buckets.length - 1].avg) : "";
    el.dataset.rendered = "true";
  });
}
