"""In-process fuzz of every protocol adapter's frame handling (FUZZ_FRAMES examples each).

Each adapter runs on the fakes of fakes.py; whatever a frame holds, no exception may escape the
adapter (in the gateway that would end the socket with 1011 and a traceback in the log) and every
frame it answers is in its protocol's own shape, an error frame for anything it cannot use.
"""

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from services.gateway.config import GatewaySettings
from services.gateway.edge.nul_guard import NulGuard
from services.gateway.protocols.aida import wire
from services.gateway.protocols.aida.channel import AidaSocket
from services.gateway.protocols.besser.channel import BesserSocket, Handshake
from services.gateway.protocols.rsvp.routes import rsvp_router
from services.gateway.protocols.xparo.commands import XparoAdapter
from services.gateway.protocols.xparo.typed import XparoTypedAdapter
from shared.identity import Project
from shared.testing import fuzz

from .fakes import (
    OTHER_PROJECT,
    SECRET,
    FakeBridge,
    FakeFeeds,
    FakeMedia,
    FakeProjects,
    FakeTokens,
    project,
    wire_text,
)

pytestmark = pytest.mark.unit
OTHERS = [str(OTHER_PROJECT)]
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_FRAMES", "300")),
    deadline=None,
    database=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    suppress_health_check=list(HealthCheck),
)
BOT = project()
RSVP_ERRORS = {400, 401, 404, 503, 504}


@dataclass
class Wire:
    """The client's side of one socket: decoded frames and close codes, in order."""

    frames: list[Any] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)

    async def send_json(self, frame: Any) -> bool:
        self.frames.append(json.loads(wire_text(frame)))
        return True

    async def send_text(self, text: str) -> bool:
        text.encode("utf-8")
        self.frames.append(json.loads(text))
        return True

    async def close(self, code: int, reason: str = "") -> None:
        self.closes.append(code)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    yield running
    running.close()


async def feed(adapter: Any, frame: fuzz.Frame) -> None:
    """Hand `frame` over as connection.run does (binary frames must be UTF-8, or on_bytes)."""
    if isinstance(frame, bytes):
        if hasattr(adapter, "on_bytes"):
            await adapter.on_bytes(frame)
            return
        try:
            frame = frame.decode("utf-8")
        except UnicodeDecodeError:
            await adapter.on_binary_error()
            return
    await adapter.on_frame(frame)


def decoded(frame: fuzz.Frame) -> Any:
    """The JSON value of a frame, or a sentinel when it is none."""
    try:
        return json.loads(frame)
    except (ValueError, RecursionError):
        return ValueError


def fed(loop: asyncio.AbstractEventLoop, adapter: Any, frame: fuzz.Frame) -> None:
    try:
        loop.run_until_complete(feed(adapter, frame))
    except Exception as err:
        raise AssertionError(f"{type(err).__name__} escaped the adapter: {err!r}"[:500]) from err


def xparo(out: Wire, bot: Project) -> XparoAdapter:
    return XparoAdapter(
        out.send_json,
        project=bot,
        bridge=cast(Any, FakeBridge()),
        tokens=cast(Any, FakeTokens()),
        session_id="fuzz",
        robot_id=None,
        reply_wait_s=0.05,
        link={},
        live=False,
    )


def typed(out: Wire) -> XparoTypedAdapter:
    return XparoTypedAdapter(
        cast(Any, out),
        project=BOT,
        bridge=cast(Any, FakeBridge()),
        tokens=cast(Any, FakeTokens()),
        robot_id=None,
        connection="fuzz",
        ping_interval_s=60,
        ack_wait_s=1,
        fetch_wait_s=1,
    )


def besser(out: Wire) -> BesserSocket:
    return BesserSocket(
        out.send_json,
        out.close,
        project=BOT,
        handshake=Handshake(session="fuzz", user_id=None, session_name=None, stage="test"),
        bridge=cast(Any, FakeBridge()),
        media=FakeMedia(),
    )


@FUZZ
@given(fuzz.xparo_frames(OTHERS))
def test_xparo_frames_are_answered_in_xparo_shape(
    loop: asyncio.AbstractEventLoop, frame: fuzz.Frame
) -> None:
    """Any frame gets XPARO objects back; one that is no object of commands, one error."""
    out = Wire()
    fed(loop, xparo(out, BOT), frame)
    for sent in out.frames:
        assert isinstance(sent, dict) and sent
        if "error" in sent:
            assert isinstance(sent["error"]["message"], str) and "command" in sent["error"]
    value = decoded(frame)
    if not isinstance(value, dict) or not value:
        assert [f["error"]["command"] for f in out.frames] == [None]


@FUZZ
@given(fuzz.typed_frames(OTHERS))
def test_typed_frames_are_answered_in_typed_shape(
    loop: asyncio.AbstractEventLoop, frame: fuzz.Frame
) -> None:
    """Any frame gets `{"type", "data"}` frames back; one without a type, one error."""
    out = Wire()
    adapter = typed(out)
    fed(loop, adapter, frame)
    for sent in out.frames:
        assert isinstance(sent["type"], str) and isinstance(sent["data"], dict)
        if sent["type"] == "error":
            assert isinstance(sent["data"]["message"], str)
    value = decoded(frame)
    if not isinstance(value, dict) or "type" not in value:
        assert [f["type"] for f in out.frames] == ["error"]


def aida(out: Wire, version: int) -> AidaSocket:
    return AidaSocket(
        out.send_text,
        out.close,
        serializer=wire.Serializer(version),  # type: ignore[arg-type]
        projects=cast(Any, FakeProjects(BOT)),
        bridge=cast(Any, FakeBridge()),
        feeds=cast(Any, FakeFeeds()),
        idle_s=60,
    )


def check_phoenix(out: Wire, version: int) -> None:
    assert set(out.closes) <= {1003, 1007}
    for sent in out.frames:
        if version == 2:
            _join_ref, _ref, topic, event, payload = sent
        else:
            topic, event, payload = sent["topic"], sent["event"], sent["payload"]
        assert isinstance(topic, str) and event in {"phx_reply", "phx_close", "btu_msg"}
        if event == "phx_reply":
            assert payload["status"] in {"ok", "error"}
            if payload["status"] == "error":
                assert isinstance(payload["response"]["reason"], str)


@pytest.mark.parametrize("version", [1, 2])
def test_phoenix_frames_are_answered_in_phoenix_shape(
    loop: asyncio.AbstractEventLoop, version: int
) -> None:
    """On a joined socket, any frame gets phx_reply/phx_close/btu_msg frames back; one that
    cannot be read gets an error reply or closes the socket with 1007 (1003 if binary)."""

    @FUZZ
    @given(fuzz.aida_frames(BOT.key, SECRET, version=version, other_ids=OTHERS))
    def run(frame: fuzz.Frame) -> None:
        out = Wire()
        adapter = aida(out, version)
        join: Any = ["1", "1", f"bot:{BOT.key}", "phx_join", {"access_token": SECRET}]
        if version == 1:
            join = {"topic": join[2], "event": "phx_join", "payload": join[4], "ref": "1"}
        fed(loop, adapter, json.dumps(join))
        assert out.frames[-1] == wire_reply_ok(version)
        out.frames.clear()
        fed(loop, adapter, frame)
        check_phoenix(out, version)
        if decoded(frame) is ValueError and not binary_push(frame, version):
            errors = [f for f in out.frames if "error" in json.dumps(f)]
            assert out.closes or errors

    run()


def binary_push(frame: fuzz.Frame, version: int) -> bool:
    """A binary frame that is a well-formed V2 push (phoenix.js sends binary payloads so): it
    is handled like the same push as text, not refused."""
    if not isinstance(frame, bytes):
        return False
    try:
        wire.Serializer(version).decode_binary(frame)  # type: ignore[arg-type]
    except wire.PhoenixFrameError:
        return False
    return True


def wire_reply_ok(version: int) -> Any:
    payload = {"status": "ok", "response": {}}
    if version == 2:
        return ["1", "1", f"bot:{BOT.key}", "phx_reply", payload]
    return {"topic": f"bot:{BOT.key}", "event": "phx_reply", "payload": payload, "ref": "1"}


BESSER_KEYS = {"action", "message", "history", "timestamp", "message_id"}
BESSER_ERROR_KEYS = BESSER_KEYS | {"error"}  # an agent_reply_str "Error: ..." + its reason


@FUZZ
@given(fuzz.besser_frames(OTHERS))
def test_besser_frames_are_answered_in_besser_shape(
    loop: asyncio.AbstractEventLoop, frame: fuzz.Frame
) -> None:
    """Any frame gets BESSER envelopes back; one without an action, one error frame (an
    agent_reply_str "Error: ..." with the reason under `error`)."""
    out = Wire()
    adapter = besser(out)
    fed(loop, adapter, frame)
    assert not out.closes
    for sent in out.frames:
        assert set(sent) in (BESSER_KEYS, BESSER_ERROR_KEYS) and isinstance(sent["action"], str)
        if "error" in sent:
            assert sent["action"] == "agent_reply_str" and isinstance(sent["error"], str)
            assert sent["message"] == f"Error: {sent['error']}"
    value = decoded(frame)
    if not isinstance(value, dict) or not isinstance(value.get("action"), str):
        assert ["error" in f for f in out.frames] == [True]


@pytest.fixture(scope="module")
def rsvp() -> Iterator[TestClient]:
    app = FastAPI()
    app.add_middleware(NulGuard)
    settings = GatewaySettings(rsvp_wait_s=1)
    app.include_router(rsvp_router(cast(Any, FakeProjects(BOT)), cast(Any, FakeBridge()), settings))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@FUZZ
@given(fuzz.rsvp_queries(BOT.key, SECRET, OTHERS))
def test_rsvp_queries_are_answered_in_rsvp_shape(rsvp: TestClient, query: str) -> None:
    """Any query gets RSVP's JSON: status 0 with an answer, or -1, a reason and 4xx/5xx
    (a NUL anywhere in the query is refused first, as on every HTTP route: a 422 problem)."""
    response = rsvp.get(f"/sandbox/chat?{query}")
    if response.status_code == 422:
        assert response.headers["content-type"] == "application/problem+json"
        assert "NUL" in response.json()["detail"]
        return
    body = response.json()
    assert set(body) >= {"params", "stage", "status", "topic"}
    if response.status_code == 200:
        assert body["status"] == 0 and body["stage"]
    else:
        assert response.status_code in RSVP_ERRORS
        assert body["status"] == -1 and isinstance(body["message"], str)
