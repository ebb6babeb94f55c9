"""Backpressure, rate limits and connection caps on the real stack, with small limits.

A client that stops reading is closed with 1013 once its send queue overflows, and another
client of the same session keeps getting every reply; frames and turns over their rates are
answered in each protocol's own error shape; sockets over a cap are closed with 1013 (an AIDA
join is refused).
"""

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest
import websocket
from nats.aio.client import Client as NatsClient

from shared import subjects
from shared.contracts import BotSpoke
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject

from . import besser
from .phoenix import Raw
from .xparo import ask, connect, recv, send

LIMITS = {
    "GATEWAY_FRAME_RATE": "5",
    "GATEWAY_FRAME_BURST": "30",
    "GATEWAY_PROJECT_TURN_RATE": "5",
    "GATEWAY_PROJECT_TURN_BURST": "50",
    "GATEWAY_MAX_PROJECT_CONNECTIONS": "4",
    "GATEWAY_MAX_CONNECTIONS": "40",
    "GATEWAY_SEND_QUEUE_BYTES": str(256 * 1024),
}
PUSHES = 80  # of LONG: 5 MB, more than a stalled socket's kernel buffers (~3.5 MB) and queue
LONG = "word " * 13_000
WINDOW = 8
FLOOD = 100
SMALL_RCVBUF = ((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),)


@pytest.fixture(scope="module")
def limited(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway with small limits and one dialog replica."""
    running = Stack(backends, tmp_path_factory.mktemp("logs"), gateway_env=LIMITS)
    yield running.start(dialogs=1)
    running.stop()


@pytest.fixture(scope="module")
def stalling(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway with a small send queue and a 2 s WebSocket keepalive (ping every 1 s, 1 s to
    answer): a socket closed for being too slow gets 2 s to write its close frame."""
    env = {
        "GATEWAY_SEND_QUEUE_BYTES": str(256 * 1024),
        "GATEWAY_WS_PING_INTERVAL_S": "1",
        "GATEWAY_WS_PING_TIMEOUT_S": "1",
    }
    running = Stack(backends, tmp_path_factory.mktemp("logs"), gateway_env=env)
    yield running.start(dialogs=1)
    running.stop()


class Keeping(Raw):
    """A Phoenix client that keeps every frame it read."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.seen: list[Any] = []

    def recv(self) -> Any:
        frame = super().recv()
        self.seen.append(frame)
        return frame


def close_frame(ws: websocket.WebSocket) -> tuple[int, str, int]:
    """Read to the server's close frame: its code, its reason, and how many text frames came
    before it."""
    texts = 0
    while True:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(frame.data[:2], "big"), frame.data[2:].decode(), texts
        if opcode == websocket.ABNF.OPCODE_TEXT:
            texts += 1


def refused_at_once(ws: websocket.WebSocket, probe: str) -> tuple[int, str] | None:
    """Send `probe`: the close (code, reason) if the socket was refused, None if answered."""
    ws.send(probe)
    opcode, frame = ws.recv_data_frame(control_frame=True)
    if opcode == websocket.ABNF.OPCODE_CLOSE:
        return int.from_bytes(frame.data[:2], "big"), frame.data[2:].decode()
    return None


async def test_a_stalled_client_is_closed_with_1013_and_the_other_gets_every_reply(
    limited: Stack, project: TestProject, nc: NatsClient
) -> None:
    """Two sockets follow one session; one stops reading. An operator says 80 long things (5 MB,
    more than the kernel's buffers and the queue hold): the reader gets all 80 in order, the
    stalled one is closed with 1013 (seen when it reads again) and missed the rest."""
    url = limited.ws_url(project, query="session_id=shared")
    healthy = connect(url)
    stalled = websocket.create_connection(url, timeout=20, sockopt=SMALL_RCVBUF)
    for ws in (healthy, stalled):  # both are followed before anything is said
        send(ws, {"xparo_sync_config": {}})
        assert "change_config" in recv(ws)
    loop = asyncio.get_running_loop()
    heard: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:  # the reader reads as it comes (in a thread: websocket-client blocks)
        for _ in range(PUSHES):
            text = recv(healthy)["message"]["bot_response"]
            loop.call_soon_threadsafe(heard.put_nowait, text)

    reading = asyncio.create_task(asyncio.to_thread(read))
    subject = subjects.chat_reply(project=project.key, session="shared")
    texts = []
    for n in range(PUSHES):
        said = BotSpoke.first(
            project_key=project.key, session_id="shared", text=f"{n} {LONG}", source="operator"
        )
        await nc.publish(subject, said.model_dump_json().encode())
        if n >= WINDOW:  # at most WINDOW said and not yet read: a steady operator, not a flood
            texts.append(await heard.get())
    await reading
    texts += [heard.get_nowait() for _ in range(heard.qsize())]
    assert [text.split(" ", 1)[0] for text in texts] == [str(n) for n in range(PUSHES)]
    code, reason, got = close_frame(stalled)
    assert (code, reason) == (1013, "too slow: send queue full, try again later")
    assert got < PUSHES - 1  # the rest was dropped with its queue
    assert ask(healthy, "still there?") == "let's check this thing on internet"


async def test_a_client_that_never_reads_again_is_dropped_once_its_close_cannot_be_written(
    stalling: Stack, project: TestProject, nc: NatsClient
) -> None:
    """A client stops reading for good while an operator says 5 MB to it: once its queue
    overflowed and its 1013 could not be written within overflow_close_wait_s (2 s here), the
    gateway drops the TCP connection instead of holding it (and megabytes of buffers) open."""
    stalled = websocket.create_connection(
        stalling.ws_url(project, query="session_id=gone"), timeout=20, sockopt=SMALL_RCVBUF
    )
    send(stalled, {"xparo_sync_config": {}})
    assert "change_config" in recv(stalled)
    assert stalled.sock is not None
    port = stalled.sock.getsockname()[1]
    gateway = psutil.Process(stalling.gateway.process.pid)  # type: ignore[union-attr]

    def held() -> bool:
        return any(c.raddr and c.raddr.port == port for c in gateway.net_connections("tcp"))

    def dropped(within_s: float) -> bool:
        deadline = time.monotonic() + within_s
        while held():  # polling the gateway's sockets: there is no event to wait on
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    assert held()
    subject = subjects.chat_reply(project=project.key, session="gone")
    for n in range(PUSHES):
        said = BotSpoke.first(
            project_key=project.key, session_id="gone", text=f"{n} {LONG}", source="operator"
        )
        await nc.publish(subject, said.model_dump_json().encode())
    await nc.flush()
    assert await asyncio.to_thread(dropped, 30), "the gateway still holds the connection"
    stalled.close()


def test_xparo_frames_over_the_rate_get_xparo_errors(limited: Stack, project: TestProject) -> None:
    """A flood of frames: past the burst, each gets {"error": {"command", "message"}} naming
    its command, and the socket stays usable."""
    ws = connect(limited.ws_url(project))
    for _ in range(FLOOD):
        send(ws, {"xparo_sync_config": {}})
    frames = [recv(ws) for _ in range(FLOOD)]
    refused = [f["error"] for f in frames if "error" in f]
    assert len(refused) >= FLOOD - 40, frames[-1]
    assert {r["command"] for r in refused} == {"xparo_sync_config"}
    assert all(r["message"].startswith("rate limit: too many frames") for r in refused)
    assert all(0 < r["retry_after"] <= 1 for r in refused)
    assert sum("change_config" in f for f in frames) == FLOOD - len(refused)


def test_typed_frames_over_the_rate_get_typed_errors(limited: Stack, project: TestProject) -> None:
    """Typed API: refused frames get {"type": "error", "data": {"message", "type", ...}}."""
    ws = websocket.create_connection(limited.typed_url(project), timeout=20)
    for _ in range(FLOOD):
        ws.send(json.dumps({"type": "pong"}))  # answered by nothing unless refused
    refused: list[dict[str, Any]] = []
    while len(refused) < FLOOD - 40:
        frame = json.loads(ws.recv())
        if frame["type"] != "ping":
            refused.append(frame)
    assert {f["type"] for f in refused} == {"error"}
    assert {f["data"]["type"] for f in refused} == {"pong"}
    assert all(f["data"]["message"].startswith("rate limit") for f in refused)


def test_besser_frames_over_the_rate_get_besser_errors(
    limited: Stack, project: TestProject
) -> None:
    """BESSER: refused frames get error frames BAF's UIs show; unknown actions still get
    theirs."""
    ws = besser.connect(limited.besser_url(project))
    for _ in range(FLOOD):
        besser.send(ws, "no_such_action", "x")
    errors: list[str] = []
    while len(errors) < FLOOD:
        frame = besser.recv(ws)
        if "error" in frame:
            errors.append(besser.refusal(frame))
    limited_ones = [e for e in errors if e.startswith("rate limit: too many frames")]
    assert len(limited_ones) >= FLOOD - 40
    assert len(errors) - len(limited_ones) >= 30  # the burst ran and was told what was wrong


def test_aida_messages_over_the_rate_get_phoenix_error_replies(
    limited: Stack, project: TestProject
) -> None:
    """AIDA: refused messages get phx_reply {"status": "error", "response": {"reason":
    "rate limited", "retry_after"}}; heartbeats are still answered ok."""
    raw = Raw(limited.phoenix_url())
    topic = f"bot:{project.key}"
    join, reply = raw.join(topic, project.secret)
    assert reply[4]["status"] == "ok"
    refs = [raw.ref() for _ in range(FLOOD)]
    for ref in refs:
        raw.send([join, ref, topic, "no_such_event", {}])
    heartbeat = raw.ref()
    raw.send([None, heartbeat, "phoenix", "heartbeat", {}])
    replies = {f[1]: f[4] for f in (raw.recv() for _ in range(FLOOD + 1))}
    assert replies[heartbeat] == {"status": "ok", "response": {}}
    refused = [replies[r] for r in refs if replies[r]["response"]["reason"] == "rate limited"]
    assert len(refused) >= FLOOD - 40
    assert all(r["status"] == "error" and r["response"]["retry_after"] > 0 for r in refused)


def test_aida_turns_over_the_projects_rate_are_refused(
    limited: Stack, project: TestProject
) -> None:
    """Three sockets, each under its frame burst, send 75 messages to one bot: the bot's turn
    rate (burst 50) refuses the rest with AIDA's error reply."""
    topic = f"bot:{project.key}"
    clients = []
    for _ in range(3):
        raw = Keeping(limited.phoenix_url())
        join, _reply = raw.join(topic, project.secret)
        opened = raw.call(topic, "new_session", {}, join)
        clients.append((raw, join, opened[4]["response"]["session"]))
    for raw, join, session in clients:
        for n in range(25):
            raw.send([join, raw.ref(), topic, "utb_msg", {"session": session, "text": f"hi {n}"}])
    last = []
    for raw, join, _session in clients:  # a last message: every refusal came before its reply
        ref = raw.ref()
        raw.send([join, ref, topic, "no_such_event", {}])
        last.append(raw.until(lambda f, ref=ref: f[1] == ref and f[3] == "phx_reply", 500))
    assert all(reply[4]["response"]["reason"] == "unknown event 'no_such_event'" for reply in last)
    assert all(reply[4]["status"] == "error" for reply in last)
    errors = [
        frame[4]["response"]
        for raw, _join, _session in clients
        for frame in raw.seen
        if frame[3] == "phx_reply" and frame[4]["status"] == "error"
    ]
    refusals = [e for e in errors if e["reason"] == "rate limited"]
    assert len(errors) == len(refusals) + 3
    assert all(e["retry_after"] > 0 for e in refusals)
    assert 75 - 50 - 5 <= len(refusals) <= 75 - 50, len(refusals)  # tokens come back meanwhile


async def test_rsvp_over_the_projects_rate_gets_429_with_retry_after(
    limited: Stack, project: TestProject
) -> None:
    """RSVP: 70 questions at once, past the bot's burst of 50: HTTP 429, RSVP's failure body,
    and a Retry-After in whole seconds."""
    url = f"{limited.http_url()}/sandbox/chat"
    query = {"botid": str(project.key), "token": project.secret}
    async with httpx.AsyncClient(timeout=30) as client:
        answers = await asyncio.gather(
            *(client.get(url, params={**query, "uid": f"u{n}", "q": "hi"}) for n in range(70))
        )
    busy = [a for a in answers if a.status_code == 429]
    assert {a.status_code for a in answers} == {200, 429}
    assert 70 - 50 - 5 <= len(busy) <= 70 - 50
    body: dict[str, Any] = busy[0].json()
    assert body["status"] == -1 and body["stage"] == [] and body["topic"] == "error"
    assert body["message"].startswith("rate limit")
    assert int(busy[0].headers["retry-after"]) >= 1


def test_sockets_over_the_projects_cap_are_closed_with_1013(
    limited: Stack, project: TestProject
) -> None:
    """Four sockets of a project are served; a fifth (XPARO or BESSER) is closed with 1013 right
    after the handshake; once one leaves, a new one is served again."""
    probe = json.dumps({"xparo_sync_config": {}})
    held = [connect(limited.ws_url(project)) for _ in range(4)]
    assert all(refused_at_once(ws, probe) is None for ws in held)
    fifth = connect(limited.ws_url(project))
    assert refused_at_once(fifth, probe) == (1013, "too many connections, try again later")
    again = besser.connect(limited.besser_url(project))
    assert close_frame(again)[:2] == (1013, "too many connections, try again later")
    held.pop().close()
    for _ in range(100):  # the gateway notices the close a moment later
        retry = connect(limited.ws_url(project))
        if refused_at_once(retry, probe) is None:
            break
    else:
        raise AssertionError("no socket served after one left")


def test_aida_joins_over_the_projects_cap_are_refused(limited: Stack, project: TestProject) -> None:
    """AIDA sockets name their bot when joining: the fifth join of a bot is refused with an
    error reply (phoenix.js rejoins with backoff), and the socket stays open."""
    topic = f"bot:{project.key}"
    joined = [Raw(limited.phoenix_url()) for _ in range(4)]
    assert all(raw.join(topic, project.secret)[1][4]["status"] == "ok" for raw in joined)
    fifth = Raw(limited.phoenix_url())
    _join, reply = fifth.join(topic, project.secret)
    assert reply[4] == {
        "status": "error",
        "response": {"reason": "too many connections to this bot, try again later"},
    }
    joined.pop().close()
    for _ in range(100):
        _join, reply = fifth.join(topic, project.secret)
        if reply[4]["status"] == "ok":
            break
    else:
        raise AssertionError("no join accepted after a socket left")


def test_the_gateway_wide_cap_closes_with_1013(limited: Stack) -> None:
    """Past GATEWAY_MAX_CONNECTIONS sockets (no project needed: AIDA's), new ones are closed
    with 1013 and a reason; the ones served stay served."""
    heartbeat = json.dumps([None, "1", "phoenix", "heartbeat", {}])
    opened: list[websocket.WebSocket] = []
    refusal = None
    for _ in range(int(LIMITS["GATEWAY_MAX_CONNECTIONS"]) + 1):
        ws = websocket.create_connection(limited.phoenix_url(), timeout=20)
        refusal = refused_at_once(ws, heartbeat)
        if refusal is not None:
            break
        opened.append(ws)
    assert refusal == (1013, "too many connections, try again later")
    assert 0 < len(opened) <= int(LIMITS["GATEWAY_MAX_CONNECTIONS"])
    assert refused_at_once(opened[0], heartbeat) is None
    for ws in opened:
        ws.close()
