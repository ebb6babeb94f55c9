/* Replicas and queues: the gateway replica that answers (its sockets per protocol, its NATS
   server) and JetStream's streams with the consumers most behind - where to look when answers
   slow down or a robot's commands wait. Refreshes every few seconds. */

import { api, errorBox } from "../api.js";
import { h, fill, card, badge, size } from "../dom.js";

const EVERY_MS = 3000;

export function render(ctx) {
  const { view, setTitle } = ctx;
  setTitle("Replicas and queues", [{ text: "Switchboard" }]);
  const replica = h("div", { id: "replica" });
  const streams = h("div", { id: "streams", class: "stack" });
  fill(view, h("div", { class: "stack" }, card("This gateway replica", null, replica), streams));
  let stopped = false;

  async function refresh() {
    try {
      const found = await api("/admin/cluster");
      if (stopped) return;
      const r = found.replica;
      const sockets = Object.entries(r.sockets).sort();
      fill(replica, h("dl", { class: "facts" },
        h("dt", {}, "Host"), h("dd", {}, h("code", {}, `${r.host} (pid ${r.pid})`), ` · up ${Math.round(r.uptime_s / 60)} min`),
        h("dt", {}, "NATS"), h("dd", {}, h("code", {}, r.nats), r.nats_version ? ` · v${r.nats_version}` : ""),
        h("dt", {}, "Sockets"), h("dd", { id: "sockets" }, sockets.length
          ? sockets.map(([protocol, n]) => h("span", { class: "mini-stat inline-stat", dataset: { protocol } }, h("span", { class: "muted" }, protocol), h("strong", {}, String(n))))
          : h("span", { class: "muted" }, "none open"))));
      fill(streams, found.streams.map((s) => card(s.name, h("span", { class: "muted small" }, `${s.messages} messages · ${size(s.bytes)} · ${s.consumers} consumers`),
        h("div", { class: "table-wrap" }, h("table", { class: "table table--compact", dataset: { stream: s.name } },
          h("thead", {}, h("tr", {}, ["Consumer", "Not delivered", "Not acknowledged", "Redelivered", "Replicas waiting"].map((t) => h("th", {}, t)))),
          h("tbody", {}, s.lagging.length ? s.lagging.map((c) => h("tr", { dataset: { consumer: c.name } },
            h("td", {}, h("code", {}, c.name)),
            h("td", {}, c.pending ? badge(String(c.pending), c.pending > 100 ? "bad" : "warn") : "0"),
            h("td", {}, String(c.ack_pending)), h("td", {}, String(c.redelivered)), h("td", {}, String(c.waiting))))
            : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No consumers."))))))));
    } catch (err) { if (!stopped) fill(replica, errorBox(err)); }
  }
  refresh();
  const timer = setInterval(() => { if (!document.hidden) refresh(); }, EVERY_MS);
  return () => { stopped = true; clearInterval(timer); };
}
