"""Log lines, message ids, trace context and the gateway's meters, each on its own."""

import asyncio
import contextvars
import json
import logging
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from structlog.contextvars import bound_contextvars, get_contextvars

from services.gateway.edge.metrics import SocketMeter, TurnClock, protocol_of
from services.gateway.main import create_app
from services.gateway.protocols.besser.channel import BesserSocket, Handshake
from shared.contracts import TurnAnswered, TurnReceived
from shared.identity import Project
from shared.logging import formatter
from shared.observability.messages import handling, hop_trace, ids_of, publishing, receiving
from shared.observability.metrics import POOLS, render
from shared.observability.tracing import inject, setup_tracing, trace_ids, tracer


@pytest.fixture(scope="module", autouse=True)
def tracing() -> None:
    """The SDK's tracer provider, as every service installs it (once per process)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        setup_tracing("unit")


def _format(fmt: Any, message: str) -> str:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, message, None, None)
    return formatter("gateway", fmt).format(record)


def test_json_lines_carry_bound_ids_and_no_secret() -> None:
    """A library's line rendered as JSON names the service and the bound correlation id, and
    the secret in its path and query is replaced by ***."""
    with bound_contextvars(correlation_id="c-1", event_id="e-1"):
        line = json.loads(_format("json", "GET /chatbot_api/s3cret/p1/?token=t0ken HTTP/1.1"))
    assert line["event"] == "GET /chatbot_api/***/p1/?token=*** HTTP/1.1"
    assert (line["correlation_id"], line["event_id"], line["service"]) == ("c-1", "e-1", "gateway")
    assert line["level"] == "INFO" and line["logger"] == "uvicorn.error"


def test_console_lines_redact_header_secrets() -> None:
    """A console line keeps the message readable and redacts a secret header on its own line."""
    text = _format("console", "handshake\n> X-Project-Token: s3cret\n> Host: a")
    assert "s3cret" not in text and "X-Project-Token: ***" in text and "handshake" in text


def test_handling_binds_ids_and_continues_the_trace() -> None:
    """A handled message's ids are bound only while it is handled, in the trace its
    traceparent names."""
    headers: dict[str, Any] = {"correlation_id": "c-2", "Nats-Msg-Id": "e-2"}
    with tracer.start_as_current_span("gateway publish"):
        inject(headers)
        sent = trace_ids()
    assert sent is not None and headers["traceparent"].split("-")[1] == sent[0]
    with handling("chat.turn.p", headers, hop="handle"):
        received = trace_ids()
        assert get_contextvars() == {"correlation_id": "c-2", "event_id": "e-2"}
    assert received is not None and received[0] == sent[0] and received[1] != sent[1]
    assert get_contextvars() == {}


def test_unexported_hops_make_no_span_yet_carry_the_trace(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without an exporter, publishing a turn and delivering its reply make no span, yet the
    turn's traceparent starts a trace that the dialog's handling and the delivery's log lines
    continue (each with a span id of its own)."""
    made: list[Any] = []
    monkeypatch.setattr(tracer, "start_as_current_span", lambda *a, **k: made.append(a))
    headers: dict[str, Any] = {"correlation_id": "c-3", "Nats-Msg-Id": "e-3"}
    caplog.set_level(logging.DEBUG, logger="switchboard.messages")
    with publishing("chat.turn.p.1", headers):
        published = dict(get_contextvars())
    _version, trace_id, span_id, _flags = headers["traceparent"].split("-")
    assert published == {
        "correlation_id": "c-3",
        "event_id": "e-3",
        "trace_id": trace_id,
        "span_id": span_id,
    }
    with receiving("chat.reply.p.s", headers, hop="deliver"):
        delivered = dict(get_contextvars())
    assert made == [] and get_contextvars() == {}
    assert delivered["trace_id"] == trace_id and delivered["span_id"] != span_id
    assert delivered["event_id"] == "e-3"
    monkeypatch.undo()
    with handling("chat.turn.p.1", headers, hop="handle"):
        handled = trace_ids()
    assert handled is not None and handled[0] == trace_id


def test_a_publish_below_debug_binds_nothing_yet_carries_the_trace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Below DEBUG nothing is logged while a message is published: no ids are bound for it,
    and its headers still carry a trace."""
    caplog.set_level(logging.INFO, logger="switchboard.messages")
    headers: dict[str, Any] = {"correlation_id": "c-4", "Nats-Msg-Id": "e-4"}
    with publishing("chat.turn.p.1", headers):
        bound = dict(get_contextvars())
    assert bound == {} and len(headers["traceparent"].split("-")[1]) == 32


def test_an_unexported_publish_continues_the_current_trace() -> None:
    """A message published inside a trace (an HTTP request's) carries that trace's id."""
    with tracer.start_as_current_span("request"):
        outer = trace_ids()
        headers: dict[str, Any] = {}
        with publishing("telemetry.sample.p", headers):
            pass
    assert outer is not None
    assert headers["traceparent"].split("-")[1] == outer[0]
    assert headers["traceparent"].split("-")[2] != outer[1]


def test_a_batched_hop_continues_the_trace_without_a_span(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The dialog's turn loop, unexported and below DEBUG, makes no span per turn, yet each
    reply's traceparent continues its turn's trace (and tracestate) under a span id of its own;
    a turn without one starts a trace; at DEBUG the span's own headers are the same shape."""
    made: list[Any] = []
    real = tracer.start_as_current_span
    monkeypatch.setattr(tracer, "start_as_current_span", lambda *a, **k: made.append(a))
    caplog.set_level(logging.INFO, logger="switchboard.messages")
    turn = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}
    first = hop_trace("chat.turn.p.1", {**turn, "tracestate": "vendor=1"}, hop="handle")
    second = hop_trace("chat.turn.p.1", turn, hop="handle")
    fresh = hop_trace("chat.turn.p.1", {}, hop="handle")
    assert made == []
    version, trace_id, span_id, flags = first["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", "0af7651916cd43dd8448eb211c80319c", "00")
    assert span_id not in ("b7ad6b7169203331", second["traceparent"].split("-")[2])
    assert first["tracestate"] == "vendor=1" and "tracestate" not in second
    assert fresh["traceparent"].split("-")[1] not in ("0" * 32, trace_id)
    monkeypatch.setattr(tracer, "start_as_current_span", real)
    caplog.set_level(logging.DEBUG, logger="switchboard.messages")
    spanned = hop_trace("chat.turn.p.1", turn, hop="handle")
    assert spanned["traceparent"].split("-")[:2] == ["00", trace_id]
    assert spanned["traceparent"].split("-")[3] == flags


def test_ids_of_ignores_missing_headers() -> None:
    """Headers without ids bind nothing."""
    assert ids_of(None) == {} and ids_of({"other": "x"}) == {}


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_socket_meter_counts_a_connection_once() -> None:
    """A socket counts as open until closed, however often it is closed; frames and errors
    are counted under its protocol."""
    before = _value("switchboard_connections", protocol="besser")
    frames = _value("switchboard_frames_in_total", protocol="besser")
    meter = SocketMeter("besser")
    assert _value("switchboard_connections", protocol="besser") == before + 1
    meter.frame_in()
    meter.error("binary")
    meter.closed()
    meter.closed()
    assert _value("switchboard_connections", protocol="besser") == before
    assert _value("switchboard_frames_in_total", protocol="besser") == frames + 1
    assert _value("switchboard_frame_errors_total", protocol="besser", kind="binary") >= 1


def _turn() -> TurnReceived:
    return TurnReceived.first(
        project_key=uuid4(), session_id="s", protocol="rsvp", text="hi", channel="c", seq=1
    )


def _answer(turn: TurnReceived) -> TurnAnswered:
    return TurnAnswered(
        **turn.caused(),
        project_key=turn.project_key,
        session_id="s",
        turn_event_id=turn.event_id,
        text="hello",
        engine="aiml",
    )


def test_turn_clock_observes_each_answer_once_and_forgets_the_oldest() -> None:
    """An answered turn is observed once under its protocol; past `keep` turns the oldest is
    forgotten, and its answer observes nothing."""
    clock = TurnClock(keep=1)
    count = "switchboard_turn_seconds_count"
    before = _value(count, protocol="rsvp")
    first, second = _turn(), _turn()
    clock.started(first)
    clock.started(second)
    clock.answered(_answer(first))
    assert _value(count, protocol="rsvp") == before
    clock.answered(_answer(second))
    clock.answered(_answer(second))
    assert _value(count, protocol="rsvp") == before + 1


def test_protocol_of_a_socket_follows_its_route() -> None:
    """Paths of the gateway app name their protocol; any path on the BESSER port is BESSER."""
    app = create_app()
    assert protocol_of({"app": app, "path": "/socket/websocket"}) == "aida"
    assert protocol_of({"app": app, "path": "/ws/chatbot/s/p/"}) == "xparo-typed"
    assert protocol_of({"app": app, "path": "/ws/chatbot_api/s/p/"}) == "xparo"
    assert protocol_of({"app": app, "path": "/chatbot_api/s/p/"}) == "xparo"
    assert protocol_of({"app": Starlette(), "path": "/socket/websocket"}) == "besser"


class _FakePool:
    def checkedout(self) -> int:
        return 3

    def size(self) -> int:
        return 5

    _max_overflow = 5


@pytest.fixture
def fake_pool() -> Iterator[_FakePool]:
    pool = _FakePool()
    POOLS.pools[pool] = ("fake", lambda p: (p.checkedout(), p.size() + p._max_overflow))
    yield pool
    POOLS.pools.pop(pool, None)


def test_pool_use_is_read_when_scraped(fake_pool: _FakePool) -> None:
    """A watched pool's checked-out connections and limit appear on /metrics."""
    body, content_type = asyncio.run(render())
    assert content_type.startswith("text/plain; version=0.0.4")
    assert 'switchboard_db_pool_in_use{pool="fake"} 3.0' in body.decode()
    assert 'switchboard_db_pool_max{pool="fake"} 10.0' in body.decode()


def test_a_failing_refresh_still_answers() -> None:
    """A refresh that fails (JetStream away) is logged; /metrics still answers."""

    async def broken() -> None:
        raise ConnectionError("nats down")

    body, _ = asyncio.run(render([broken]))
    assert b"switchboard_turn_seconds" in body


def test_a_pool_not_open_is_left_out() -> None:
    """A watched database whose pool is not open yet does not break the scrape."""

    class Closed:
        @property
        def pool(self) -> Any:
            raise RuntimeError("database pool used before the service started")

    owner = Closed()
    POOLS.pools[owner] = ("closed", lambda o: o.pool)
    try:
        body, _ = asyncio.run(render())
    finally:
        POOLS.pools.pop(owner, None)
    assert b'pool="closed"' not in body and b"switchboard_db_pool_max" in body


class _Resume:
    def hold(self, _held: object) -> None:
        return None

    def release(self, _held: object) -> None:
        return None

    async def take(self, _name: str) -> None:
        return None


class _Follow:
    async def unsubscribe(self) -> None:
        return None


class _Bridge:
    """Takes the start turn, and keeps the session's reply routing for the test to call."""

    def __init__(self) -> None:
        self.resume = _Resume()
        self.deliver: Any = None

    async def follow_replies(self, *, project: Any, session: str, deliver: Any) -> _Follow:
        self.deliver = deliver
        return _Follow()

    async def publish_turn(self, turn: TurnReceived) -> None:
        return None


async def test_a_refusal_from_the_reply_routing_counts_on_its_own_socket() -> None:
    """A BESSER session the dialog refuses as deleted is answered from the reply routing's task,
    not the socket's, and still counts as a refused frame of its socket's protocol."""
    project = Project(key=uuid4(), name="meter", secret_hash="x", secret_prefix="x")
    sent: list[Any] = []

    async def send(frame: Any) -> bool:
        sent.append(frame)
        return True

    async def close(_code: int, _reason: str) -> None:
        return None

    bridge = _Bridge()
    adapter = BesserSocket(
        send,
        close,
        project=project,
        handshake=Handshake(session="s-1", user_id=None, session_name=None, stage="test"),
        bridge=bridge,  # type: ignore[arg-type]
        media=None,  # type: ignore[arg-type]
        meter=SocketMeter("besser"),
    )
    await adapter.start()
    before = _value("switchboard_frame_errors_total", protocol="besser", kind="refused")
    refused = TurnAnswered(
        project_key=project.key,
        session_id="s-1",
        turn_event_id=uuid4(),
        text="",
        engine="none",
        refused="session_deleted",
        correlation_id=uuid4(),
    )
    routing = contextvars.Context()  # the routing task's own: nothing of the socket's in it
    await asyncio.get_running_loop().create_task(bridge.deliver(refused), context=routing)
    after = _value("switchboard_frame_errors_total", protocol="besser", kind="refused")
    assert after == before + 1 and sent
