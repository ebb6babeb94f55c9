/* Switchboard chat page: a client of the BESSER WebSocket platform.
   Frames are {"action", "message", "history"?}; see the gateway's BESSER adapter. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    log: $("log"), status: $("status"), statusText: $("status-text"), form: $("composer"),
    input: $("input"), send: $("send"), file: $("file"), record: $("record"),
    recordText: $("record-text"), reset: $("reset"), typing: $("typing"),
  };
  const page = new URLSearchParams(location.search);
  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
  const MAX_FILE_BYTES = 10 * 1024 * 1024; // base64 grows it by a third; the socket takes 16 MiB
  const MAX_RECORDING_MS = 55000; // the media service transcribes up to 60 s by default
  const TYPING_TIMEOUT_MS = 20000;
  const WAV_RATE = 16000;

  /* ---------- session: one per project per browser, so a reload resumes it ---------- */

  const sessionKey = `switchboard.chat.session.${page.get("project") || "default"}`;
  const storedSession = readStorage(sessionKey);
  let sessionId = storedSession || newSessionId();
  writeStorage(sessionKey, sessionId);

  function readStorage(key) {
    try { return localStorage.getItem(key); } catch { return null; }
  }
  function writeStorage(key, value) {
    try { localStorage.setItem(key, value); } catch { /* private mode: no resume */ }
  }
  function newSessionId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const hex = Array.from(crypto.getRandomValues(new Uint8Array(16)),
      (b) => b.toString(16).padStart(2, "0")).join("");
    const at = [0, 8, 12, 16, 20, 32];
    return at.slice(1).map((end, i) => hex.slice(at[i], end)).join("-");
  }

  /* ---------- connection ---------- */

  let config = {};
  let socket = null;
  let attempt = 0;
  let retryTimer = 0;
  let opened = false;
  let historyWanted = Boolean(storedSession);
  let humanHolds = false; // an operator took the chat over: the bot does not answer
  let replaceOnHistory = false; // after a reconnect: the replay replaces the page (gaps filled)

  async function loadConfig() {
    try {
      const response = await fetch("config.json", { cache: "no-cache" });
      if (response.ok) return await response.json();
    } catch (err) {
      console.warn("switchboard chat: no config.json, using defaults", err);
    }
    return {};
  }

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const override = page.get("ws");
    const url = override
      ? new URL(override, location.href)
      : new URL(`${scheme}//${location.hostname}:${config.besser_port || 8765}/`);
    if (url.protocol === "http:" || url.protocol === "https:") {
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    }
    for (const name of ["project", "token"]) {
      if (page.get(name)) url.searchParams.set(name, page.get(name));
    }
    url.searchParams.set("session_id", sessionId);
    return url.href;
  }

  function connect() {
    clearTimeout(retryTimer);
    setState(attempt ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (err) {
      console.error("switchboard chat: bad socket address", err);
      setState("failed", "Bad socket address");
      return;
    }
    socket = ws;
    ws.addEventListener("open", () => {
      attempt = 0;
      setState("connected");
      if (historyWanted || opened) {
        replaceOnHistory = opened;
        historyWanted = false;
        send({ action: "fetch_user_messages", message: null });
      }
      opened = true;
    });
    ws.addEventListener("message", (event) => handleFrame(event.data));
    ws.addEventListener("close", (event) => {
      if (socket !== ws) return;
      socket = null;
      stopTyping();
      if (event.code === 1008 && event.reason === "session deleted") {
        sessionId = newSessionId(); // deleted by an admin: start a new one
        writeStorage(sessionKey, sessionId);
        opened = false;
        clearLog();
        notice("This conversation was deleted; a new one starts.");
      } else if (event.code === 1008) {
        setState("failed", event.reason || "Access refused: check the project and token");
        return;
      }
      const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)] * (0.8 + Math.random() * 0.4);
      attempt += 1;
      setState("reconnecting", `Reconnecting in ${Math.max(1, Math.round(delay / 1000))} s…`);
      retryTimer = setTimeout(connect, delay);
    });
  }

  const RESET_REST_MS = 3500;
  const STATE_TEXT = {
    connecting: "Connecting…", connected: "Connected", reconnecting: "Reconnecting…",
  };

  function setState(state, text) {
    ui.status.dataset.state = state;
    ui.statusText.textContent = text || STATE_TEXT[state] || state;
    const offline = state !== "connected";
    for (const control of [ui.input, ui.send, ui.file, ui.record, ui.reset]) control.disabled = offline;
    ui.record.disabled = offline && !voice.recorder;
    for (const button of ui.log.querySelectorAll(".options:not(.options--used) button")) {
      button.disabled = offline;
    }
  }

  function send(frame) {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      notice("Not connected: nothing was sent.", "error");
      return false;
    }
    socket.send(JSON.stringify(frame));
    return true;
  }

  function sendText(text) {
    if (!send({ action: "user_message", message: text })) return false;
    bubble("user", { action: "user_message" }).textContent = text;
    if (!humanHolds) startTyping();
    return true;
  }

  /* ---------- incoming frames (BESSER §2.3) ---------- */

  const AGENT = {
    agent_reply_str: (m, body) => { body.textContent = String(m); },
    agent_reply_markdown: (m, body) => setSafeHtml(body, markdown(String(m))),
    agent_reply_html: (m, body) => setSafeHtml(body, String(m)),
    agent_reply_options: renderOptions,
    agent_reply_dataframe: renderTable,
    agent_reply_plotly: renderChart,
    agent_reply_image: renderImage,
    agent_reply_file: renderFile,
    agent_reply_location: renderLocation,
    agent_reply_rag: renderRag,
    agent_reply_audio: renderAudio,
    agent_reply_form: renderForm,
  };
  const USER = {
    user_message: (m, body) => { body.textContent = String(m); },
    user_file: (m, body) => { body.textContent = `File: ${parsePayload(m).name}`; },
    user_voice: (m, body) => { body.textContent = "Voice message"; },
  };

  function handleFrame(data) {
    let frame;
    try { frame = JSON.parse(data); } catch { console.warn("switchboard chat: not JSON", data); return; }
    if (!frame || typeof frame.action !== "string") return;
    const action = frame.action.replace(/^bot_reply_/, "agent_reply_"); // BESSER Bot Framework 1.x
    const history = frame.history === true;
    // A refusal is an agent_reply_str "Error: ..." (what BESSER's own UIs show) with its reason
    // under `error`: shown here as a notice, not as something the bot said.
    if (typeof frame.error === "string") { notice(frame.message || frame.error, "error"); return; }
    const render = AGENT[action] || USER[action];
    if (!render) { console.info("switchboard chat: ignored frame", action, frame); return; }
    // A person (an operator who took the chat over) speaks with `source: "operator"`: shown as
    // theirs, and while they hold the chat nobody "types" after the user's messages (the bot
    // is silent). The bot's next own answer means the chat was handed back.
    const byOperator = frame.source === "operator";
    if (AGENT[action] && !history) {
      stopTyping();
      humanHolds = byOperator;
    }
    if (history && replaceOnHistory) clearLog();
    replaceOnHistory = false;
    const who = byOperator ? "operator" : AGENT[action] ? "bot" : "user";
    const body = bubble(who, { action, history, timestamp: frame.timestamp });
    try {
      render(frame.message, body, { history, messageId: frame.message_id ?? null });
    } catch (err) {
      console.warn("switchboard chat: could not render", action, err);
      body.textContent = "(this message could not be shown)";
      body.classList.add("msg__body--broken");
    }
  }

  // BESSER's timestamps are the server's local time without a zone: shown for history only.
  function bubble(who, { action = "", history = false, timestamp = null } = {}) {
    if (who === "user") retireOptions(); // once the user has spoken, older choices are spent
    const row = el("div", `msg msg--${who}`);
    Object.assign(row.dataset, { action, history: String(history) });
    const body = el("div", "msg__body");
    const stamp = history && typeof timestamp === "string" ? timestamp : "";
    const clock = stamp ? stamp.slice(11, 16) : new Date().toTimeString().slice(0, 5);
    const time = el("time", "msg__time", clock);
    if (stamp) time.title = stamp;
    const spoken = { bot: "Bot says:", operator: "A person says:", user: "You said:" }[who];
    row.append(el("span", "visually-hidden", spoken), who === "operator" ? el("span", "msg__who", "Operator") : "", body, time);
    ui.log.append(row);
    growth.observe(row);
    scrollDown(who === "user");
    return body;
  }

  function notice(text, kind = "info") {
    ui.log.append(el("p", `notice notice--${kind}`, text));
    scrollDown();
  }

  // Follow new messages (and charts or images that grow once drawn) unless the user scrolled up.
  // Only the user unpins (by scrolling up): a scroll event of our own can arrive after more
  // messages were added (a history replay), far from the new bottom, and must not.
  let pinned = true;
  let lastAuto = 0;
  const growth = new ResizeObserver(() => scrollDown());
  ui.log.addEventListener("scroll", () => {
    const near = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 80;
    if (ui.log.scrollTop < lastAuto - 1) pinned = near;
    else if (near) pinned = true;
  });

  function scrollDown(force = false) {
    if (force) pinned = true;
    if (pinned) {
      requestAnimationFrame(() => {
        ui.log.scrollTop = ui.log.scrollHeight;
        lastAuto = ui.log.scrollTop;
      });
    }
  }

  function clearLog() {
    growth.disconnect();
    for (const chart of ui.log.querySelectorAll(".js-plotly-plot")) window.Plotly.purge(chart);
    ui.log.replaceChildren();
  }

  function retireOptions() {
    for (const group of ui.log.querySelectorAll(".options:not(.options--used)")) {
      group.classList.add("options--used");
      for (const button of group.querySelectorAll("button")) button.disabled = true;
    }
  }

  function renderOptions(m, body) {
    const options = parsePayload(m);
    const labels = Array.isArray(options) ? options
      : Object.keys(options).sort((a, b) => Number(a) - Number(b)).map((key) => options[key]);
    const group = el("div", "options");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Choose an answer");
    for (const label of labels.map(String)) {
      const button = el("button", "option", label);
      button.type = "button";
      button.disabled = !socket || socket.readyState !== WebSocket.OPEN;
      button.addEventListener("click", () => {
        if (sendText(label)) button.classList.add("option--chosen");
      });
      group.append(button);
    }
    body.classList.add("msg__body--bare");
    body.append(group);
  }

  function renderTable(m, body) {
    const columns = parsePayload(m);
    const names = Object.keys(columns);
    const rowKeys = [...new Set(names.flatMap((name) => Object.keys(columns[name])))];
    if (rowKeys.every((key) => /^\d+$/.test(key))) rowKeys.sort((a, b) => a - b);
    const withIndex = rowKeys.some((key, i) => key !== String(i));
    const table = el("table", "table");
    const head = table.createTHead().insertRow();
    for (const name of withIndex ? ["", ...names] : names) head.append(el("th", "", name));
    for (const th of head.cells) th.scope = "col";
    const rows = table.createTBody();
    for (const key of rowKeys) {
      const row = rows.insertRow();
      if (withIndex) { const th = el("th", "", key); th.scope = "row"; row.append(th); }
      for (const name of names) row.insertCell().textContent = cellText(columns[name][key]);
    }
    const wrap = el("div", "table-wrap");
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", "Table");
    wrap.append(table);
    body.append(wrap);
  }

  function cellText(value) {
    if (value === null || value === undefined) return "";
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  let plotlyLoading = null;
  function loadPlotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    plotlyLoading ??= new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = `vendor/plotly.min.js?v=${encodeURIComponent(config.plotly_version || "")}`;
      script.addEventListener("load", () => resolve(window.Plotly));
      script.addEventListener("error", () => { plotlyLoading = null; reject(new Error("plotly.min.js")); });
      document.head.append(script);
    });
    return plotlyLoading;
  }

  function renderChart(m, body) {
    const figure = parsePayload(m);
    const layout = { height: 360, ...(figure.layout || {}), autosize: true };
    delete layout.width; // the bubble's width
    const title = layout.title && (layout.title.text ?? layout.title);
    layout.margin ??= { l: 48, r: 16, b: 40, t: title ? 56 : 16 };
    const chart = el("div", "chart");
    chart.setAttribute("role", "img");
    chart.setAttribute("aria-label", typeof title === "string" && title ? `Chart: ${title}` : "Chart");
    body.classList.add("msg__body--wide");
    body.append(chart);
    loadPlotly()
      .then((Plotly) => Plotly.newPlot(chart, figure.data || [], layout,
        { responsive: true, displayModeBar: false }))
      .then(() => { chart.dataset.rendered = "true"; })
      .catch((err) => {
        console.warn("switchboard chat: chart failed", err);
        chart.textContent = "(the chart could not be drawn)";
      });
  }

  function renderImage(m, body) {
    const text = String(m);
    const img = el("img", "image");
    img.src = text.startsWith("data:image/") ? text : `data:image/jpeg;base64,${text.replace(/\s/g, "")}`;
    img.alt = "Image from the bot";
    body.classList.add("msg__body--bare");
    body.append(img);
  }

  function renderFile(m, body) {
    const file = parsePayload(m);
    const type = /^[\w.+-]+\/[\w.+-]+$/.test(file.type || "") ? file.type : "application/octet-stream";
    const bytes = fromBase64(file.base64 || "");
    const link = el("a", "file", `⬇ ${file.name || "file"} (${formatBytes(bytes.length)})`);
    link.href = URL.createObjectURL(new Blob([bytes], { type }));
    link.download = file.name || "file";
    body.append(link);
  }

  function renderLocation(m, body) {
    const { latitude, longitude } = parsePayload(m);
    const lat = Number(latitude);
    const lon = Number(longitude);
    if (!(Math.abs(lat) <= 90 && Math.abs(lon) <= 180)) throw new Error("bad coordinates");
    const place = el("span", "location", `Location: ${lat.toFixed(5)}, ${lon.toFixed(5)}`);
    const link = externalLink(
      `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=14/${lat}/${lon}`,
      "Open in OpenStreetMap");
    body.append(place, " ", link);
  }

  function renderRag(m, body) {
    const rag = parsePayload(m);
    body.classList.add("rich");
    body.append(el("p", "", String(rag.answer ?? "")));
    const docs = Array.isArray(rag.docs) ? rag.docs : [];
    if (!docs.length) return;
    const details = el("details", "sources");
    details.append(el("summary", "", `Sources (${docs.length})`));
    const list = el("ol");
    for (const doc of docs) {
      const meta = doc.metadata || {};
      const where = [meta.source, meta.page !== undefined ? `p. ${meta.page}` : ""].filter(Boolean);
      const item = el("li", "", String(doc.content ?? ""));
      if (where.length) item.append(el("cite", "", ` (${where.join(", ")})`));
      list.append(item);
    }
    details.append(list);
    body.append(details);
  }

  function renderAudio(m, body) {
    const { audio_data_base64: data, metadata = {} } = parsePayload(m);
    if (metadata.dtype !== "float32") throw new Error(`audio dtype ${metadata.dtype}`);
    const samples = new Float32Array(fromBase64(data).buffer);
    const shape = metadata.shape || [samples.length];
    const mono = samples.subarray(0, shape[shape.length - 1]); // [channels, n]: the first channel
    body.append(audioPlayer(encodeWav(mono, Number(metadata.sample_rate) || 16000)));
  }

  // A form the bot asks the user to fill in (agent_reply_form). The page builds it itself (no
  // markup of the bot's becomes an input); sent, it goes back as BESSER's user_gui_event
  // (onSubmit, elementId = the form's id, value = {field: answer}) and cannot be sent twice.
  function renderForm(m, body, { history = false, messageId = null } = {}) {
    const spec = parsePayload(m);
    const fields = Array.isArray(spec.fields) ? spec.fields : [];
    const form = el("form", "gui-form");
    if (spec.title) form.append(el("p", "gui-form__title", String(spec.title)));
    for (const field of fields) {
      const label = el("label", "gui-form__field");
      label.append(el("span", "", String(field.label || field.name)));
      const input = field.type === "choice" ? el("select") : el("input");
      if (field.type === "choice") {
        for (const option of field.options || []) input.append(el("option", "", String(option)));
      } else {
        input.type = field.type === "number" ? "number" : "text";
        if (field.type === "number") input.step = "any";
      }
      input.name = String(field.name);
      label.append(input);
      form.append(label);
    }
    const button = el("button", "gui-form__send", String(spec.submit || "Send"));
    button.type = "submit";
    form.append(button);
    const controls = () => form.querySelectorAll("input, select, button");
    if (history) for (const control of controls()) control.disabled = true;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = {};
      for (const field of fields) {
        const raw = form.elements.namedItem(String(field.name))?.value ?? "";
        value[field.name] = field.type === "number" && raw !== "" ? Number(raw) : raw;
      }
      const id = String(spec.id);
      const message = { elementId: id, action: "onSubmit", messageId, name: id, value };
      if (!send({ action: "user_gui_event", message })) return;
      for (const control of controls()) control.disabled = true;
      const summary = Object.entries(value).map(([name, answer]) => `${name}: ${answer}`);
      bubble("user", { action: "user_gui_event" }).textContent = summary.join(", ");
      startTyping();
    });
    body.append(form);
  }

  /* ---------- helpers ---------- */

  function el(tag, className = "", text = "") {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function externalLink(href, text) {
    const link = el("a", "", text);
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    return link;
  }

  function markdown(text) {
    return window.marked ? window.marked.parse(text, { gfm: true, breaks: true, async: false }) : null;
  }

  // A bot's HTML may not restyle the page nor pose as the page's own inputs.
  const UNSAFE_TAGS = ["style", "form", "input", "button", "textarea", "select"];

  // Chromium (156) checks the CSP when an on* attribute is *parsed*, in any document of this
  // window, inert ones too (DOMParser, <template>, the Sanitizer API), and reports a violation
  // each time. So no parser here ever sees one: wherever an attribute name can start (after
  // whitespace, a quote, or a "/" that does not open an end tag), an "o" before an "n" becomes
  // "&#111;". References are not decoded in attribute names, so onerror becomes an unknown
  // attribute that DOMPurify drops; in text and attribute values they are, so "turn on" and
  // href="/online" read as they were written.
  const HANDLER_NAME_START = /(?<=[\t\n\f\r "']|[^<]\/)o(?=n)/gi;

  function withoutHandlerNames(html) {
    return html.replace(HANDLER_NAME_START, (o) => `&#${o.charCodeAt(0)};`);
  }

  // DOMPurify parses in an inert document and hands back a fragment: the page's live elements
  // never parse the bot's markup, not even DOMPurify's clean copy of it.
  function setSafeHtml(body, html) {
    if (html === null || !window.DOMPurify) { body.textContent = html ?? ""; return; }
    body.classList.add("rich");
    body.replaceChildren(window.DOMPurify.sanitize(withoutHandlerNames(html), {
      FORBID_TAGS: UNSAFE_TAGS, RETURN_DOM_FRAGMENT: true,
    }));
  }

  // Dicts replayed from history may arrive as Python reprs ({'a': 1}), as BESSER stores them.
  function parsePayload(message) {
    if (typeof message !== "string") return message;
    try { return JSON.parse(message); } catch { /* fall through */ }
    return JSON.parse(message.replace(/'/g, '"').replace(/\bNone\b/g, "null")
      .replace(/\bTrue\b/g, "true").replace(/\bFalse\b/g, "false"));
  }

  function fromBase64(text) {
    const binary = atob(String(text).replace(/\s/g, ""));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  function toBase64(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function formatBytes(n) {
    if (n < 1024) return `${n} B`;
    return n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`;
  }

  function audioPlayer(wav) {
    const audio = el("audio", "audio");
    audio.controls = true;
    audio.preload = "metadata";
    audio.src = URL.createObjectURL(new Blob([wav], { type: "audio/wav" }));
    return audio;
  }

  let typingTimer = 0;
  function startTyping() {
    ui.typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, TYPING_TIMEOUT_MS);
    scrollDown();
  }
  function stopTyping() {
    clearTimeout(typingTimer);
    ui.typing.hidden = true;
  }

  /* ---------- sending files and voice ---------- */

  async function sendFile(file) {
    if (file.size > MAX_FILE_BYTES) {
      const limit = formatBytes(MAX_FILE_BYTES);
      notice(`${file.name} is too large (${formatBytes(file.size)}; at most ${limit}).`, "error");
      return;
    }
    const payload = { name: file.name, type: file.type || "application/octet-stream",
      base64: toBase64(await file.arrayBuffer()) };
    if (!send({ action: "user_file", message: JSON.stringify(payload) })) return;
    bubble("user", { action: "user_file" }).textContent = `File: ${file.name} (${formatBytes(file.size)})`;
    if (!humanHolds) startTyping();
  }

  const voice = { recorder: null, stopTimer: 0 };

  async function toggleRecording() {
    if (voice.recorder) { voice.recorder.stop(); return; }
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      notice("Voice messages need a microphone and a secure (https) page.", "error");
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1 } });
    } catch (err) {
      notice(`The microphone is not available (${err.name}).`, "error");
      return;
    }
    const recorder = new MediaRecorder(stream);
    const chunks = [];
    recorder.addEventListener("dataavailable", (event) => { if (event.data.size) chunks.push(event.data); });
    recorder.addEventListener("stop", async () => {
      clearTimeout(voice.stopTimer);
      for (const track of stream.getTracks()) track.stop();
      voice.recorder = null;
      showRecording(false);
      try {
        await sendVoice(await toWav(new Blob(chunks, { type: recorder.mimeType })));
      } catch (err) {
        console.warn("switchboard chat: recording failed", err);
        notice("The recording could not be read.", "error");
      }
    });
    voice.recorder = recorder;
    recorder.start();
    voice.stopTimer = setTimeout(() => recorder.stop(), MAX_RECORDING_MS);
    showRecording(true);
  }

  function showRecording(on) {
    ui.record.setAttribute("aria-pressed", String(on));
    ui.record.classList.toggle("is-recording", on);
    ui.record.title = ui.recordText.textContent = on ? "Stop and send" : "Record a voice message";
    ui.record.disabled = !on && (!socket || socket.readyState !== WebSocket.OPEN);
  }

  // MediaRecorder gives webm/ogg/mp4; the server wants WAV: decode, mix to mono, resample.
  async function toWav(blob) {
    const context = new AudioContext();
    let decoded;
    try { decoded = await context.decodeAudioData(await blob.arrayBuffer()); } finally { context.close(); }
    const offline = new OfflineAudioContext(1, Math.max(1, Math.ceil(decoded.duration * WAV_RATE)), WAV_RATE);
    const source = offline.createBufferSource();
    source.buffer = decoded;
    source.connect(offline.destination);
    source.start();
    return encodeWav((await offline.startRendering()).getChannelData(0), WAV_RATE);
  }

  function encodeWav(samples, rate) {
    const view = new DataView(new ArrayBuffer(44 + samples.length * 2));
    const ascii = (at, text) => [...text].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
    ascii(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); ascii(8, "WAVE");
    ascii(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); // PCM
    view.setUint16(22, 1, true); view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true);
    view.setUint16(32, 2, true); view.setUint16(34, 16, true);
    ascii(36, "data"); view.setUint32(40, samples.length * 2, true);
    samples.forEach((s, i) => {
      const v = Math.max(-1, Math.min(1, s));
      view.setInt16(44 + i * 2, v < 0 ? v * 0x8000 : v * 0x7fff, true);
    });
    return view.buffer;
  }

  async function sendVoice(wav) {
    if (!send({ action: "user_voice", message: toBase64(wav) })) return;
    const body = bubble("user", { action: "user_voice" });
    const seconds = (wav.byteLength - 44) / 2 / WAV_RATE;
    body.append(el("span", "", `Voice message (${seconds.toFixed(1)} s)`), audioPlayer(wav));
    if (!humanHolds) startTyping();
  }

  /* ---------- wiring ---------- */

  function autosize() {
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, 160)}px`;
  }

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.input.value.trim();
    if (text && sendText(text)) { ui.input.value = ""; autosize(); }
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.form.requestSubmit();
    }
  });
  ui.input.addEventListener("input", autosize);
  ui.file.addEventListener("change", () => {
    const [file] = ui.file.files;
    ui.file.value = "";
    if (!file) return;
    sendFile(file).catch((err) => notice(`${file.name} could not be read (${err.name}).`, "error"));
  });
  ui.record.addEventListener("click", toggleRecording);
  ui.reset.addEventListener("click", () => {
    if (!send({ action: "reset", message: null })) return;
    // The dialog answers a reset repeated within DIALOG_RESET_REPEAT_S (3 s by default) with
    // silence, so that a UI looping on reset does not store a greeting a second: a second click
    // that soon would leave an empty page, so the button rests for a little longer than that.
    ui.reset.disabled = true;
    setTimeout(() => { ui.reset.disabled = ui.status.dataset.state !== "connected"; }, RESET_REST_MS);
    clearLog();
    notice("Started over.");
  });
  window.addEventListener("online", () => { if (!socket) { attempt = 0; connect(); } });

  if (window.DOMPurify) {
    window.DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A" && node.getAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
  }

  loadConfig().then((found) => { config = found; connect(); });
})();
