"""In-process fuzz of every protocol adapter's frame handling (FUZZ_FRAMES examples each).

Each adapter runs on the fakes of tests/support/gateway_fakes.py (built by sockets.py); whatever a
frame holds, no exception may escape the adapter (in the gateway that would end the socket with
1011 and a traceback in the log) and every frame it answers is in its protocol's own shape, an
error frame for anything it cannot use.
"""

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from services.gateway.protocols.aida import wire
from tests.support import fuzz
from tests.support.gateway_fakes import OTHER_PROJECT, SECRET
from tests.support.sockets import (
    BOT,
    Wire,
    aida,
    besser,
    feed,
    rsvp_app,
    typed,
    xparo,
)

from .shapes import BESSER_ERROR_KEYS, BESSER_KEYS, check_phoenix

OTHERS = [str(OTHER_PROJECT)]
RSVP_ERRORS = {400, 401, 404, 503, 504}
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_FRAMES", "300")),
    deadline=None,
    database=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    yield running
    running.close()


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
    with TestClient(rsvp_app(), raise_server_exceptions=False) as client:
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
