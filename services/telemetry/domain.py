"""Telemetry's pure logic: decoding what arrives, the newest sample per robot, command status,
report payloads as JSONB can hold them.

No I/O here: the clock is passed in.
"""

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NamedTuple, Protocol
from uuid import UUID

import msgspec
from pydantic import Field, TypeAdapter, ValidationError

from shared.contracts import (
    CommandStatus,
    RobotCommandAcknowledged,
    RobotCommandDelivered,
    RobotCommandExpired,
    RobotCommandIssued,
    RobotPresence,
    RobotReported,
    TelemetrySampled,
)
from shared.contracts.robot import ROBOT_ID_PATTERN
from shared.contracts.telemetry import MAX_METRICS, METRIC_NAME_PATTERN


class TelemetryError(Exception):
    """Root of the telemetry service's errors."""


class MalformedMessage(TelemetryError):
    """A message that no retry can make valid: it is terminated, never stored."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownKind(TelemetryError):
    """A robot event of a kind this version does not know (from a newer producer): skipped."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"unknown event kind {kind!r}")
        self.kind = kind


_FLEET_MODELS = (
    RobotCommandIssued,
    RobotCommandDelivered,
    RobotCommandAcknowledged,
    RobotCommandExpired,
    RobotPresence,
    RobotReported,
)
FleetEvent = Annotated[
    RobotCommandIssued
    | RobotCommandDelivered
    | RobotCommandAcknowledged
    | RobotCommandExpired
    | RobotPresence
    | RobotReported,
    Field(discriminator="kind"),
]
CommandProgress = RobotCommandDelivered | RobotCommandAcknowledged | RobotCommandExpired
FLEET_KINDS = frozenset(str(m.model_fields["kind"].default) for m in _FLEET_MODELS)
_FLEET = TypeAdapter[FleetEvent](FleetEvent)


def _short(err: ValidationError) -> str:
    """A validation error on one line, without echoing the (possibly large) input."""
    parts = []
    for error in err.errors():
        where = ".".join(map(str, error["loc"]))
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


class DecodedSample(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """A `TelemetrySampled` as the samples consumer decodes it: the contract's fields, read by
    msgspec in a third of pydantic's time (the checks of the contract's types are made by
    `decode_sample`). Holds no cycles, so the collector need not track it."""

    event_id: UUID
    occurred_at: datetime
    correlation_id: UUID
    project_key: UUID
    robot_id: str
    received_at: datetime
    metrics: dict[str, float]
    causation_id: UUID | None = None


_SAMPLE = msgspec.json.Decoder(DecodedSample)
_ROBOT_ID = re.compile(ROBOT_ID_PATTERN.removeprefix("^").removesuffix("$"))  # fullmatch:
_METRIC_NAME = re.compile(METRIC_NAME_PATTERN.removeprefix("^").removesuffix("$"))  # no \n
# Seconds with more than 6 decimals (as written, not \u-escaped): msgspec rounds them to
# the microsecond, pydantic cuts them.
_PAST_MICROSECONDS = re.compile(rb":\d\d\.\d{7}")


def decode_sample(data: bytes) -> DecodedSample:
    """A sample from its JSON, or MalformedMessage: accepted, and read, exactly as
    `TelemetrySampled` would be. Its time must exist in UTC too: the first day of year 1 at a
    positive offset is valid JSON that no write could store (the conversion overflows), which
    would hold back every good sample fetched with it.

    msgspec reads what a gateway publishes; anything it refuses or reads differently (a
    number in a string, a time without seconds, an invalid name) is left to the contract
    itself, which accepts what it accepts and words the error of what it refuses."""
    try:
        sample = _SAMPLE.decode(data)
    except msgspec.MsgspecError:
        sample = _by_the_contract(data)
    else:
        if not _plain(sample) or _PAST_MICROSECONDS.search(data):
            sample = _by_the_contract(data)
    try:
        sample.received_at.astimezone(UTC)
    except (OverflowError, ValueError) as err:
        raise MalformedMessage(f"received_at: {err}") from err
    return sample


def _plain(sample: DecodedSample) -> bool:
    """What `TelemetrySampled` checks beyond the types: its robot id, metric names and count,
    finite values."""
    metrics = sample.metrics
    return (
        _ROBOT_ID.fullmatch(sample.robot_id) is not None
        and 0 < len(metrics) <= MAX_METRICS
        and all(map(_METRIC_NAME.fullmatch, metrics))
        and all(map(math.isfinite, metrics.values()))
    )


def _by_the_contract(data: bytes) -> DecodedSample:
    try:
        sample = TelemetrySampled.model_validate_json(data)
    except ValidationError as err:
        raise MalformedMessage(_short(err)) from err
    return DecodedSample(**dict(sample))


def decode_fleet_event(data: bytes) -> FleetEvent:
    """A command or robot event from its JSON; UnknownKind for kinds of newer versions."""
    try:
        raw: Any = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MalformedMessage(f"not JSON: {err}") from err
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if not isinstance(kind, str):
        raise MalformedMessage("no 'kind' field")
    if kind not in FLEET_KINDS:
        raise UnknownKind(kind)
    try:
        event = _FLEET.validate_python(raw)
    except ValidationError as err:
        raise MalformedMessage(_short(err)) from err
    if isinstance(event, RobotReported):
        payload_json(event.payload)  # refused here, or a retry could never store it
    return event


# A \u0000 escape (an odd run of backslashes before it), which JSONB refuses.
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def payload_json(payload: Any) -> str:
    """A report's payload as JSON text that Postgres can store as JSONB, or MalformedMessage:
    NaN and infinities are not JSON, NUL characters and lone surrogates are not text."""
    try:
        text = json.dumps(payload, allow_nan=False, ensure_ascii=False)
        text.encode()
    except (ValueError, UnicodeEncodeError) as err:
        raise MalformedMessage(f"payload: {err}") from err
    if _NUL_ESCAPE.search(text):
        raise MalformedMessage("payload: a NUL character, which JSONB cannot hold")
    return text


class Sample(Protocol):
    """What storing a sample reads of it: the contract, or the hot path's decoding of it."""

    @property
    def event_id(self) -> UUID: ...
    @property
    def project_key(self) -> UUID: ...
    @property
    def robot_id(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def metrics(self) -> Mapping[str, float]: ...


class MetricRow(NamedTuple):
    """One row of telemetry.samples (field order = the table's COPY column order)."""

    project_key: UUID
    robot_id: str
    metric: str
    received_at: datetime
    value: float
    event_id: UUID


def metric_rows(samples: Iterable[Sample]) -> list[MetricRow]:
    """One row per metric of each sample."""
    return [
        MetricRow(s.project_key, s.robot_id, name, s.received_at, value, s.event_id)
        for s in samples
        for name, value in s.metrics.items()
    ]


class Latest(NamedTuple):
    """A robot's newest sample of a batch, with the newest value of each metric in the batch."""

    project_key: UUID
    robot_id: str
    received_at: datetime
    event_id: UUID
    metrics: dict[str, float]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _age(sample: Sample) -> tuple[timedelta, int]:
    # Keys that compare in C: two times of different tzinfo objects (pydantic gives each its
    # own) call utcoffset at every comparison, uuid.UUID.__lt__ is Python (the order is its int)
    return sample.received_at - EPOCH, sample.event_id.int


def _robot_order(key: tuple[UUID, str]) -> tuple[int, str]:
    return key[0].int, key[1]


def newest_per_robot(samples: Iterable[Sample]) -> list[Latest]:
    """The newest sample of each robot (ties broken by event id), sorted by robot, holding the
    newest value of every metric the batch has for it: a metric that the newest sample lacks
    keeps its value from an older one (a robot may send its battery every minute and its CPU
    every second).

    Sorting fixes the order in which rows are locked, so concurrent batches cannot deadlock.
    """
    newest: dict[tuple[UUID, str], tuple[Sample, dict[str, float]]] = {}
    for sample in sorted(samples, key=_age):
        key = (sample.project_key, sample.robot_id)
        kept = newest.get(key)
        if kept is None:
            metrics = dict(sample.metrics)
        else:
            metrics = kept[1]
            metrics.update(sample.metrics)
        newest[key] = (sample, metrics)
    return [
        Latest(s.project_key, s.robot_id, s.received_at, s.event_id, metrics)
        for s, metrics in (newest[key] for key in sorted(newest, key=_robot_order))
    ]


def command_data(issued: RobotCommandIssued) -> str:
    """What a command asked, as JSON for the commands table: its fields without the type, and
    without a behaviour tree's XML (the tree's name says which)."""
    data = issued.command.model_dump(mode="json", exclude={"type", "xml"})
    return json.dumps(data, ensure_ascii=False)


def command_status(
    *,
    delivered_at: datetime | None,
    acknowledged_at: datetime | None,
    expired_at: datetime | None,
    expires_at: datetime | None,
    now: datetime,
) -> CommandStatus:
    """How far a command got: acknowledged > delivered > expired > queued."""
    if acknowledged_at is not None:
        return "acknowledged"
    if delivered_at is not None:
        return "delivered"
    if expired_at is not None or (expires_at is not None and expires_at < now):
        return "expired"
    return "queued"


def is_online(
    *, connected: bool, last_seen: datetime | None, now: datetime, window_s: float
) -> bool:
    """Connected, and a sign of life within the window."""
    return connected and last_seen is not None and last_seen >= now - timedelta(seconds=window_s)
