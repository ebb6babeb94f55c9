"""The ids of a turn, carried across services in NATS headers, and bound into every log line.

Every event's `correlation_id` travels as FastStream's `correlation_id` header and its
`event_id` as JetStream's `Nats-Msg-Id`; `traceparent` carries the OpenTelemetry context. A
consumer binds them into structlog's contextvars for as long as it handles the message, so each
line it logs (and each event it publishes) names the turn. The header names are constants here
and nowhere else.
"""

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import Token
from typing import Any

from faststream import BaseMiddleware
from faststream.message import StreamMessage
from faststream.response import PublishCommand
from opentelemetry.trace import SpanKind
from structlog.contextvars import bind_contextvars, bound_contextvars, reset_contextvars

from ..contracts.base import Event
from .tracing import child_ids, continued_ids, extract, inject, operation, recording, tracer

log = logging.getLogger("switchboard.messages")
EVENT_ID = "Nats-Msg-Id"
"""JetStream's dedupe key: a second message with the same id within the window is dropped."""
CORRELATION_ID = "correlation_id"
"""FastStream's header for the id every event of one user request shares."""
MESSAGE_TTL = "Nats-TTL"
"""Seconds after which the stream drops this message (sooner than its own max age)."""


def event_headers(event: Event, *, ttl_s: int | None = None) -> dict[str, str]:
    """The headers FastStream's publish would write for `event` (JSON, its event id, its
    correlation id), for publishers that use nats-py itself on a hot path; `ttl_s` sets
    MESSAGE_TTL."""
    event_id = str(event.event_id)
    correlation = event.correlation_id
    headers = {
        "content-type": "application/json",
        EVENT_ID: event_id,  # the first event of a request is its correlation: one str()
        CORRELATION_ID: event_id if correlation == event.event_id else str(correlation),
    }
    if ttl_s is not None:
        headers[MESSAGE_TTL] = str(ttl_s)
    return headers


def ids_of(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """The correlation id and event id `headers` carry (only those present)."""
    if not headers:
        return {}
    found = {"correlation_id": headers.get(CORRELATION_ID), "event_id": headers.get(EVENT_ID)}
    return {key: str(value) for key, value in found.items() if value}


@contextmanager
def handling(subject: str, headers: Mapping[str, Any] | None, *, hop: str) -> Iterator[None]:
    """While a message is handled: its ids bound for logging, inside a consumer span `hop`
    that continues the trace its headers carry."""
    ids = ids_of(headers)
    with (
        bound_contextvars(**ids),
        tracer.start_as_current_span(
            f"{hop} {operation(subject)}", context=extract(headers), kind=SpanKind.CONSUMER
        ),
    ):
        yield


def hop_trace(subject: str, headers: Mapping[str, Any] | None, *, hop: str) -> dict[str, str]:
    """The trace headers (`traceparent`, `tracestate`) of what a consumer publishes while it
    handles a message with `headers`: those of its span `hop`, which continues their trace.

    A batch consumer takes them for each message and publishes later (the dialog's turn loop).
    When spans are not recorded and nothing logs at DEBUG, no span is made: the ids it would
    have are written as they would be (its parent's trace and state, a new span id, not
    sampled), for a fraction of a span's CPU."""
    trace: dict[str, str] = {}
    if recording() or log.isEnabledFor(logging.DEBUG):
        with handling(subject, headers, hop=hop):
            log.debug("handling %s", subject)
            inject(trace)
        return trace
    found = continued_ids(headers)
    if found is None:  # a new trace, as a span without a parent starts
        child_ids(trace)
        return trace
    trace["traceparent"] = f"00-{found[0]}-{found[1]}-00"
    state = headers.get("tracestate") if headers else None
    if isinstance(state, str) and state:
        trace["tracestate"] = state
    return trace


class Observed(BaseMiddleware):
    """FastStream middleware: consuming binds the ids and continues the trace; publishing
    starts a producer span and writes its `traceparent` into the headers."""

    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        raw = msg.raw_message
        if isinstance(raw, list):  # a batch: its messages belong to many turns
            return await call_next(msg)
        headers = dict(msg.headers or {})
        headers.setdefault(CORRELATION_ID, msg.correlation_id)
        subject = str(getattr(raw, "subject", ""))
        with handling(subject, headers, hop="handle"):
            log.debug("handling %s", subject)
            return await call_next(msg)

    async def publish_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], cmd: PublishCommand
    ) -> Any:
        ids = ids_of({**cmd.headers, CORRELATION_ID: cmd.correlation_id})
        with publishing(cmd.destination, cmd.headers, ids):
            return await call_next(cmd)


NOTHING: AbstractContextManager[None] = nullcontext()  # reusable: holds no state


class Bound(AbstractContextManager[None]):
    """`ids` bound for logging while it is entered, and what was bound before restored after:
    structlog's `bound_contextvars` for a hot path (it copies the whole context to save what
    it overwrites; the tokens of `bind_contextvars` restore the same)."""

    __slots__ = ("_ids", "_tokens")

    def __init__(self, ids: Mapping[str, str]) -> None:
        self._ids = ids
        self._tokens: Mapping[str, Token[Any]] = {}

    def __enter__(self) -> None:
        self._tokens = bind_contextvars(**self._ids)

    def __exit__(self, *_: object) -> None:
        reset_contextvars(**self._tokens)


def publishing(
    subject: str, headers: dict[str, Any], ids: Mapping[str, str] | None = None
) -> AbstractContextManager[None]:
    """While a message is published: its ids (`ids`, else those `headers` carry) bound for
    logging, inside a producer span whose `traceparent` is written into `headers`.

    When spans are not recorded (no exporter), no span is made: the trace and span ids such a
    span would have are written and bound for logging instead (the same log lines and headers,
    for a fraction of an OpenTelemetry span's CPU); below DEBUG nothing is logged while a
    message is published, so nothing is bound either (and `headers` get their trace at once)."""
    if not recording() and not log.isEnabledFor(logging.DEBUG):
        child_ids(headers)
        return NOTHING
    return _publishing(subject, headers, ids)


@contextmanager
def _publishing(
    subject: str, headers: dict[str, Any], ids: Mapping[str, str] | None
) -> Iterator[None]:
    if not recording():
        trace_id, span_id = child_ids(headers)
        bound = ids_of(headers) if ids is None else ids
        with bound_contextvars(**bound, trace_id=trace_id, span_id=span_id):
            log.debug("publishing %s", subject)
            yield
        return
    with (
        bound_contextvars(**(ids_of(headers) if ids is None else ids)),
        tracer.start_as_current_span(f"publish {operation(subject)}", kind=SpanKind.PRODUCER),
    ):
        inject(headers)
        log.debug("publishing %s", subject)
        yield


def receiving(
    subject: str, headers: Mapping[str, Any] | None, *, hop: str
) -> AbstractContextManager[None]:
    """`handling`, for a hop that publishes nothing further (a reply handed to its socket):
    when spans are not recorded, the ids of the span it would be (the trace its headers
    carry) are bound for logging, and no span is made."""
    if recording():
        return handling(subject, headers, hop=hop)
    ids: dict[str, str] = ids_of(headers)
    found = continued_ids(headers)
    if found is not None:
        ids["trace_id"], ids["span_id"] = found
    return Bound(ids)
