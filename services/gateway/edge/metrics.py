"""The gateway's metrics: connections and frames per protocol, and each turn's latency.

A socket binds its protocol's counters once (`SocketMeter`), so counting a frame is one
increment. A turn's latency runs from its publication to its answer handed to the client
(`TurnClock`): turns are remembered by event id, and a reply names the turn it answers.
"""

import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Literal, get_args

from fastapi import FastAPI
from prometheus_client import Histogram

from shared.contracts import ChatReply, TurnAnswered, TurnReceived
from shared.contracts.chat import Protocol
from shared.observability.metrics import (
    CONNECTIONS,
    FRAME_ERRORS,
    FRAMES_IN,
    FRAMES_OUT,
    TURN_SECONDS,
)

log = logging.getLogger(__name__)
PROTOCOLS: tuple[str, ...] = get_args(Protocol)  # every wire protocol a turn can name


def protocol_of(scope: Mapping[str, Any]) -> str:
    """The protocol a WebSocket speaks, from its path (any path on the BESSER port)."""
    if not isinstance(scope.get("app"), FastAPI):
        return "besser"
    path = str(scope.get("path", ""))
    if path.startswith("/socket/"):
        return "aida"
    if path.startswith("/ws/chatbot/"):
        return "xparo-typed"
    return "xparo"


class SocketMeter:
    """One socket's counters, bound to its protocol; counts it open until `closed`."""

    __slots__ = ("_open", "frame_in", "frame_out", "protocol")

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.frame_in = FRAMES_IN.labels(protocol).inc
        self.frame_out = FRAMES_OUT.labels(protocol).inc
        CONNECTIONS.labels(protocol).inc()
        self._open = True

    def error(self, kind: str) -> None:
        """A frame refused or the socket closed for `kind` (too_big, rate_limited, binary,
        overflow, or a `Refusal`)."""
        FRAME_ERRORS.labels(self.protocol, kind).inc()

    def closed(self) -> None:
        """The socket ended (counted once, however often it is said)."""
        if self._open:
            self._open = False
            CONNECTIONS.labels(self.protocol).dec()


# What a frame answered with its protocol's error shape was: not the protocol (bad JSON, a
# wrong shape, unknown type, a field out of range), understood but not done (unauthorized,
# a limit, a deleted session), or not done for now (the backend is unavailable, retry).
Refusal = Literal["invalid", "refused", "unavailable"]


def frame_refused(meter: SocketMeter | None, kind: Refusal) -> None:
    """A frame got its protocol's error answer: count it on its socket's `meter` (None: a
    request over HTTP, whose refusals are not counted here)."""
    if meter is not None:
        meter.error(kind)


class HttpMeter:
    """The frame counters of a protocol spoken over HTTP (RSVP.ai): a request is a frame in,
    its answer a frame out; no connection is counted."""

    __slots__ = ("frame_in", "frame_out", "protocol")

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.frame_in = FRAMES_IN.labels(protocol).inc
        self.frame_out = FRAMES_OUT.labels(protocol).inc

    def error(self, kind: str) -> None:
        FRAME_ERRORS.labels(self.protocol, kind).inc()


def meter_of(scope: Mapping[str, Any]) -> SocketMeter:
    """A new socket's meter, for the protocol its scope speaks."""
    return SocketMeter(protocol_of(scope))


class TurnClock:
    """When each turn of this replica was published, until its answer is delivered (at most
    `keep` turns: those answered elsewhere, or never, are forgotten oldest first)."""

    def __init__(self, keep: int = 10_000) -> None:
        self._keep = keep
        self._started: OrderedDict[Any, tuple[float, Histogram]] = OrderedDict()
        self._histograms = {protocol: TURN_SECONDS.labels(protocol) for protocol in PROTOCOLS}

    def started(self, turn: TurnReceived) -> None:
        """`turn` was accepted by JetStream now."""
        self._started[turn.event_id] = (time.perf_counter(), self._histograms[turn.protocol])
        if len(self._started) > self._keep:
            self._started.popitem(last=False)

    def answered(self, reply: ChatReply) -> None:
        """`reply` was handed to its client: its turn's latency is observed (once)."""
        if isinstance(reply, TurnAnswered):
            found = self._started.pop(reply.turn_event_id, None)
            if found is not None:
                found[1].observe(time.perf_counter() - found[0])


TURNS = TurnClock()
