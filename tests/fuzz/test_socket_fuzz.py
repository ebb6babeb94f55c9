"""Socket-level fuzz of a real gateway (FUZZ_SOCKET_FRAMES frames per protocol, default 1000).

After each protocol's run the gateway is alive and ready, an honest client on another socket
still gets its answer, and the gateway's resident memory has not grown past RSS_BOUND since the
warm-up (driver.py measures it after the gateway answered every frame sent).

RSS_BOUND: 48 MiB. What may legitimately grow during a run is bounded and small: CPython keeps
freed arenas (a 300 KB frame leaves its pages mapped), hypothesis' long strings pass through
uvicorn's receive buffers, per-socket state (TurnNumbers, 256 seen reply ids) and the NATS
client's pending buffers; together a few MiB to a few tens. A leak proportional to frames (a
subscription or a task per frame, ~1-10 KB each) grows by 100-1000 MiB over a 100,000-frame chaos
run, so the bound tells them apart there; at the default 1,000 frames it catches gross leaks
(say, a retained 300 KB frame per message).
"""

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import websocket

from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject

from .driver import FUZZ_GATEWAY_ENV, PROTOCOLS, run_socket_fuzz

FRAMES = int(os.environ.get("FUZZ_SOCKET_FRAMES", "1000"))
RSS_BOUND = 48 * 1024 * 1024
TIMEOUT_S = 20


@pytest.fixture(scope="module")
def fuzzed(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway without per-socket rate limits (else most frames are only told to slow down)."""
    running = Stack(backends, tmp_path_factory.mktemp("logs"), gateway_env=FUZZ_GATEWAY_ENV)
    yield running.start(dialogs=1)
    running.stop()


def honest_answer(stack: Stack, project: TestProject, protocol: str) -> str:
    """What a well-behaved client of `protocol` is answered on a fresh connection."""
    if protocol == "rsvp":
        query = {"botid": str(project.key), "token": project.secret, "uid": "honest", "q": "hi"}
        body = httpx.get(f"{stack.http_url()}/sandbox/chat", params=query, timeout=TIMEOUT_S)
        return str(body.json()["stage"][-1]["message"])
    if protocol == "xparo":
        ws = websocket.create_connection(stack.ws_url(project), timeout=TIMEOUT_S)
        ws.send(json.dumps({"ask_bot": "hello"}))
        return str(_until(ws, lambda f: "message" in f)["message"]["bot_response"])
    if protocol == "typed":
        ws = websocket.create_connection(stack.typed_url(project), timeout=TIMEOUT_S)
        ws.send(json.dumps({"type": "chat", "data": {"message": "hello"}}))
        return str(_until(ws, lambda f: f.get("type") == "chat_response")["data"]["response"])
    if protocol == "besser":
        ws = websocket.create_connection(stack.besser_url(project), timeout=TIMEOUT_S)
        ws.send(json.dumps({"action": "user_message", "message": "hello"}))
        return str(_until(ws, lambda f: f["action"] == "agent_reply_str")["message"])
    ws = websocket.create_connection(stack.phoenix_url(), timeout=TIMEOUT_S)
    topic = f"bot:{project.key}"
    ws.send(json.dumps(["1", "1", topic, "phx_join", {"access_token": project.secret}]))
    ws.send(json.dumps(["1", "2", topic, "new_session", {}]))
    session = _until(ws, lambda f: f[1] == "2")[4]["response"]["session"]
    ws.send(json.dumps(["1", "3", topic, "utb_msg", {"session": session, "text": "hello"}]))
    text = str(_until(ws, lambda f: f[3] == "btu_msg")[4]["text"])
    ws.close()
    return text


def _until(ws: websocket.WebSocket, wanted: Callable[[Any], bool]) -> Any:
    for _ in range(100):
        frame = json.loads(ws.recv())
        if wanted(frame):
            return frame
    raise AssertionError("no answer")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_generated_frames_leave_the_gateway_up_and_flat(
    fuzzed: Stack, project: TestProject, protocol: str
) -> None:
    """After FUZZ_SOCKET_FRAMES generated frames: no unexpected close, the gateway alive and
    ready, an honest client answered, resident memory within RSS_BOUND of the warm-up."""
    figures = run_socket_fuzz(fuzzed, project, protocol, FRAMES)
    print(figures.line())
    assert figures.unexpected == [], figures.unexpected[:5]
    assert figures.frames >= FRAMES * 0.9
    assert fuzzed.gateway.process is not None and fuzzed.gateway.process.poll() is None
    assert httpx.get(f"{fuzzed.http_url()}/ready", timeout=TIMEOUT_S).status_code == 200
    assert honest_answer(fuzzed, project, protocol)
    assert figures.rss_growth < RSS_BOUND, figures.line()
