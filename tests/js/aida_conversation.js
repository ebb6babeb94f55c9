// AIDA's web client side of a whole conversation, with the official `phoenix` npm client.
// Usage: node aida_conversation.js <ws-endpoint> <http-base> <bot> <token> <png-file>
// Prints one JSON report on stdout: what each step answered, every raw frame in both directions.
"use strict";
const fs = require("fs");
const { Socket } = require("phoenix");
const WebSocket = require("ws");

const [endpoint, httpBase, bot, token, pngFile] = process.argv.slice(2);
const frames = [];

// The transport phoenix.js uses on Node 20 (no global WebSocket), recording raw frames.
class RecordingSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (event) => frames.push(["in", String(event.data)]));
  }
  send(data) {
    frames.push(["out", String(data)]);
    super.send(data);
  }
}

function reply(push) {
  return new Promise((resolve) => {
    push
      .receive("ok", (response) => resolve({ status: "ok", response }))
      .receive("error", (response) => resolve({ status: "error", response }))
      .receive("timeout", () => resolve({ status: "timeout" }));
  });
}

function nextMessage(inbox, session, timeoutMs = 10000) {
  return new Promise((resolve) => {
    const started = Date.now();
    const poll = () => {
      const index = inbox.findIndex((m) => m.session === session);
      if (index >= 0) return resolve(inbox.splice(index, 1)[0].text);
      if (Date.now() - started > timeoutMs) return resolve(null);
      setTimeout(poll, 20);
    };
    poll();
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const report = {};
  const socket = new Socket(endpoint, {
    transport: RecordingSocket,
    // phoenix.js closes the socket and reconnects when a heartbeat is still unanswered at the
    // next one: at 300 ms a loaded CI machine did that once, leaving one beat unanswered.
    heartbeatIntervalMs: 1500,
    timeout: 5000,
  });
  socket.connect();

  const wrong = socket.channel(`bot:${bot}`, { access_token: "not-the-secret" });
  report.wrong_join = await reply(wrong.join());
  wrong.leave(); // as AIDA's UI does, so the client stops re-joining

  const channel = socket.channel(`bot:${bot}`, { access_token: token });
  const inbox = [];
  channel.on("btu_msg", (payload) => inbox.push(payload));
  let closed = false;
  channel.onClose(() => { closed = true; });
  report.join = await reply(channel.join());

  report.new_session = await reply(channel.push("new_session", { data: { first_name: "Ana" } }));
  const session = report.new_session.response.session;
  channel.push("utb_msg", { session, text: "Hello" });
  report.hello = await nextMessage(inbox, session);
  channel.push("utb_msg", { session, text: "What is my name" });
  report.name_before = await nextMessage(inbox, session);
  report.put_data = await reply(channel.push("put_data", { session, data: { first_name: "Bob" } }));
  channel.push("utb_msg", { session, text: "What is my name" });
  report.name_after = await nextMessage(inbox, session);

  const form = new FormData();
  form.append("file", new Blob([fs.readFileSync(pngFile)], { type: "image/png" }), "photo.png");
  const upload = await fetch(`${httpBase}/content/image/${bot}/${session}`, {
    method: "POST",
    body: form,
  });
  report.upload = { status: upload.status, body: await upload.json() };
  const image = report.upload.body.id;
  const fetched = await fetch(`${httpBase}/content/image/${image}`);
  report.download = {
    status: fetched.status,
    type: fetched.headers.get("content-type"),
    same: Buffer.from(await fetched.arrayBuffer()).equals(fs.readFileSync(pngFile)),
  };
  channel.push("utb_img", { session, image });
  report.image_answer = await nextMessage(inbox, session);

  report.delete_session = await reply(channel.push("delete_session", { session }));
  report.after_delete = await reply(channel.push("utb_msg", { session, text: "Hello" }));

  // Wait (up to 20 s) until the server has answered at least two heartbeats.
  const answeredBeats = () => {
    const refs = new Set(frames.filter(([dir, raw]) => dir === "out" && raw.includes('"heartbeat"'))
      .map(([, raw]) => JSON.parse(raw)[1]));
    return frames.filter(([dir, raw]) => dir === "in" && raw.includes('"phoenix","phx_reply"'))
      .filter(([, raw]) => refs.has(JSON.parse(raw)[1])).length;
  };
  const beatsBy = Date.now() + 20000;
  while (answeredBeats() < 2 && Date.now() < beatsBy) await sleep(20);
  report.leave = await reply(channel.leave());
  const deadline = Date.now() + 3000;
  while (!frames.some(([dir, raw]) => dir === "in" && raw.includes('"phx_close"')) &&
         Date.now() < deadline) {
    await sleep(20);
  }
  report.closed_locally = closed;
  report.frames = frames;
  socket.disconnect();
  process.stdout.write(JSON.stringify(report));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err));
  process.exit(1);
});
