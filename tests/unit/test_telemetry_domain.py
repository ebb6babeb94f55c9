"""Telemetry's pure logic: decoding, newest sample per robot, command status, presence,
reports."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from services.telemetry.domain import (
    DecodedSample,
    Latest,
    MalformedMessage,
    MetricRow,
    UnknownKind,
    command_status,
    decode_fleet_event,
    decode_sample,
    is_online,
    metric_rows,
    newest_per_robot,
    payload_json,
)
from shared.contracts import (
    RemoteCommand,
    RobotCommandDelivered,
    RobotCommandIssued,
    RobotPresence,
    RobotReported,
    TelemetrySampled,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _sample(
    robot: str = "r1", at: datetime = T0, project: UUID | None = None, **metrics: float
) -> TelemetrySampled:
    return TelemetrySampled.first(
        project_key=project or uuid4(),
        robot_id=robot,
        received_at=at,
        metrics=metrics or {"cpu": 1.0},
    )


def _latest(sample: TelemetrySampled) -> Latest:
    return Latest(
        sample.project_key, sample.robot_id, sample.received_at, sample.event_id, sample.metrics
    )


def test_sample_round_trips_and_broken_json_is_malformed() -> None:
    """A valid sample decodes to the same event; bad JSON and non-finite values are malformed."""
    sample = _sample(cpu=0.5, battery=80.0)
    assert decode_sample(sample.model_dump_json().encode()) == DecodedSample(**dict(sample))
    with pytest.raises(MalformedMessage):
        decode_sample(b"{not json")
    body = json.loads(sample.model_dump_json())
    body["metrics"] = {"cpu": "NaN"}
    with pytest.raises(MalformedMessage, match="finite"):
        decode_sample(json.dumps(body).encode())


def test_a_decoded_sample_has_the_fields_of_the_contract() -> None:
    """The hot path's decoding and the TelemetrySampled contract name the same fields."""
    assert set(DecodedSample.__struct_fields__) == set(TelemetrySampled.model_fields)


def _body(**changes: Any) -> dict[str, Any]:
    body = json.loads(_sample(cpu=0.5).model_dump_json())
    return {k: v for k, v in (body | changes).items() if v is not _DROP}


_DROP = object()


@pytest.mark.parametrize(
    "body",
    [
        _body(metrics={"cpu": "1.5", "ok": True}),  # numbers in strings, a boolean
        _body(received_at="2026-01-01T10:00Z"),  # no seconds
        _body(received_at="2026-01-01T10:00:00.9999995Z"),  # cut to 999999 µs, not rounded up
        _body(causation_id=_DROP),
        _body(event_id="urn:uuid:e1785fe4-5996-4794-aea8-c96183ffe351"),
    ],
)
def test_a_sample_is_read_as_the_contract_reads_it(body: dict[str, Any]) -> None:
    """What the contract accepts is accepted, with the values the contract reads, also where
    the fast decoder would refuse it or read it otherwise."""
    data = json.dumps(body).encode()
    assert decode_sample(data) == DecodedSample(**dict(TelemetrySampled.model_validate_json(data)))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_body(robot_id="r1\n"), "robot_id"),  # re's `$` matches before a final newline
        (_body(robot_id=""), "robot_id"),
        (_body(metrics={}), "metrics"),
        (_body(metrics={"a b": 1.0}), "metrics"),
        (_body(metrics={f"m{i}": 1.0 for i in range(65)}), "metrics"),
        (_body(metrics={"cpu": 1e400}), "metrics"),
        (_body(extra=1), "extra"),
        (_body(received_at="yesterday"), "received_at"),
    ],
)
def test_a_sample_the_contract_refuses_is_malformed_in_its_words(
    body: dict[str, Any], field: str
) -> None:
    """What the contract refuses is malformed, with the contract's reason naming the field."""
    data = json.dumps(body).encode()
    with pytest.raises(ValidationError):
        TelemetrySampled.model_validate_json(data)
    with pytest.raises(MalformedMessage) as refused:
        decode_sample(data)
    assert refused.value.reason.startswith(field)


def test_fleet_events_decode_by_kind_and_unknown_kinds_are_told_apart() -> None:
    """Commands and events decode by `kind`; a future kind is UnknownKind, garbage is malformed."""
    project = uuid4()
    issued = RobotCommandIssued.first(
        project_key=project, robot_id="r1", command=RemoteCommand(command="go"), issued_by="admin"
    )
    delivered = RobotCommandDelivered.first(
        project_key=project, robot_id="r1", command_id=issued.event_id
    )
    assert decode_fleet_event(issued.model_dump_json().encode()) == issued
    assert decode_fleet_event(delivered.model_dump_json().encode()) == delivered
    with pytest.raises(UnknownKind) as unknown:
        decode_fleet_event(b'{"kind": "battery_swapped", "anything": 1}')
    assert unknown.value.kind == "battery_swapped"
    for garbage in (b"[1, 2]", b"{}", b"\xff", b'{"kind": "presence"}'):
        with pytest.raises(MalformedMessage):
            decode_fleet_event(garbage)


def test_metric_rows_flatten_one_row_per_metric() -> None:
    """Each metric of a sample becomes one row carrying the sample's ids and time."""
    sample = _sample(cpu=0.5, battery=80.0)
    assert metric_rows([sample]) == [
        MetricRow(sample.project_key, "r1", "cpu", T0, 0.5, sample.event_id),
        MetricRow(sample.project_key, "r1", "battery", T0, 80.0, sample.event_id),
    ]


def test_newest_per_robot_keeps_the_latest_by_time_not_by_arrival() -> None:
    """Per (project, robot) the sample with the greatest received_at wins, whatever the order."""
    project = uuid4()
    old = _sample("a", T0, project)
    new = _sample("a", T0 + timedelta(seconds=5), project)
    other = _sample("b", T0, project)
    newest = newest_per_robot([new, other, old])
    assert newest == [_latest(new), _latest(other)]


def test_newest_per_robot_keeps_metrics_the_newest_sample_lacks() -> None:
    """A metric sent less often keeps its newest value beside the newest sample's metrics."""
    project = uuid4()
    old = _sample("a", T0, project, battery=80.0, cpu=5.0)
    new = _sample("a", T0 + timedelta(seconds=5), project, cpu=9.0)
    [merged] = newest_per_robot([new, old])
    assert (merged.event_id, merged.received_at) == (new.event_id, new.received_at)
    assert merged.metrics == {"battery": 80.0, "cpu": 9.0}


def test_newest_per_robot_breaks_time_ties_by_event_id() -> None:
    """Two samples at the same instant: the greater event id wins, so every replica agrees."""
    project = uuid4()
    first, second = _sample("a", T0, project), _sample("a", T0, project)
    winner = max(first, second, key=lambda s: s.event_id)
    assert newest_per_robot([first, second]) == [_latest(winner)]
    assert newest_per_robot([second, first]) == [_latest(winner)]


@pytest.mark.parametrize(
    ("delivered", "acknowledged", "expired", "expires", "status"),
    [
        (None, None, None, None, "queued"),
        (None, None, None, T0 + timedelta(minutes=1), "queued"),
        (None, None, None, T0 - timedelta(seconds=1), "expired"),
        (None, None, T0, None, "expired"),
        (T0, None, None, T0 - timedelta(hours=1), "delivered"),
        (T0, T0, None, None, "acknowledged"),
        (None, T0, None, None, "acknowledged"),
    ],
)
def test_command_status_precedence(
    delivered: datetime | None,
    acknowledged: datetime | None,
    expired: datetime | None,
    expires: datetime | None,
    status: str,
) -> None:
    """Acknowledged beats delivered beats expired (explicit, or its expiry passed) beats queued."""
    assert (
        command_status(
            delivered_at=delivered,
            acknowledged_at=acknowledged,
            expired_at=expired,
            expires_at=expires,
            now=T0,
        )
        == status
    )


def test_online_needs_a_connection_and_a_recent_sign_of_life() -> None:
    """Online = connected and seen within the window; either missing means offline."""
    recent, stale = T0 - timedelta(seconds=89), T0 - timedelta(seconds=91)
    assert is_online(connected=True, last_seen=recent, now=T0, window_s=90)
    assert not is_online(connected=True, last_seen=stale, now=T0, window_s=90)
    assert not is_online(connected=False, last_seen=recent, now=T0, window_s=90)
    assert not is_online(connected=True, last_seen=None, now=T0, window_s=90)


def test_presence_contract_decodes_every_state() -> None:
    """connected, seen, disconnected and REST heartbeats all decode as presence events."""
    for state in ("connected", "seen", "disconnected", "heartbeat"):
        event = RobotPresence.first(
            project_key=uuid4(), robot_id="r", state=state, connection="c1", protocol="xparo"
        )
        assert decode_fleet_event(event.model_dump_json().encode()) == event


def _reported(payload: object, key: str = "TASK_RESULT") -> RobotReported:
    return RobotReported.first(
        project_key=uuid4(), robot_id="r1", key=key, record_id="t-7", payload=payload
    )


def test_reports_decode_with_their_payload_as_sent() -> None:
    """A report decodes to the same event whatever JSON its payload is (object, list, text,
    null), so it is kept as the robot sent it."""
    for payload in ({"ok": True, "steps": [1, 2.5, "x"]}, ["a"], "done", None, 3):
        event = _reported(payload)
        assert decode_fleet_event(event.model_dump_json().encode()) == event
    body = json.loads(_reported({}).model_dump_json())
    del body["payload"]
    with pytest.raises(MalformedMessage, match="payload"):
        decode_fleet_event(json.dumps(body).encode())


@pytest.mark.parametrize(
    "payload",
    [{"value": float("nan")}, [float("inf")], {"name": "a\x00b"}, {"\x00": 1}, "\ud800"],
)
def test_payloads_jsonb_cannot_hold_are_malformed(payload: object) -> None:
    """NaN, infinities, NUL characters and lone surrogates are refused when decoding, since no
    retry could ever store them."""
    body = json.loads(_reported(None).model_dump_json())
    body["payload"] = payload  # json.dumps writes NaN and Infinity, as a lenient robot might
    with pytest.raises(MalformedMessage, match="payload"):
        decode_fleet_event(json.dumps(body).encode())


def test_payload_json_keeps_an_escaped_backslash_before_u0000() -> None:
    """The text backslash-u0000 (no NUL in it) is stored as it is, non-ASCII text unescaped."""
    assert json.loads(payload_json({"path": "C:\\u0000x", "name": "Élodie"})) == {
        "path": "C:\\u0000x",
        "name": "Élodie",
    }
    assert "Élodie" in payload_json("Élodie")
