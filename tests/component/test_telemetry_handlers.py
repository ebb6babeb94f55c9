"""Telemetry handlers on FastStream's TestNatsBroker and the samples ingestor, with an in-memory store."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from faststream.nats import NatsBroker, TestNatsBroker
from faststream.nats.subscriber.usecases.stream_pull_subscriber import PullStreamSubscriber
from faststream.nats.testing import PatchedMessage

from services.telemetry.config import TelemetrySettings
from services.telemetry.domain import DecodedSample
from services.telemetry.handlers import register
from services.telemetry.ingest import Ingestor
from shared import subjects
from shared.contracts import (
    GetLatestTelemetry,
    GetReports,
    GetRobots,
    GetTelemetryRange,
    RobotPresence,
    RobotReported,
    TelemetrySampled,
)
from tests.support.memory_telemetry import MemoryTelemetry

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class Recorded(PatchedMessage):
    """A test message that remembers how it was settled."""

    outcome: str = "pending"

    async def ack(self) -> None:
        self.outcome = "ack"

    async def nak(self, delay: float | None = None) -> None:
        self.outcome = f"nak({delay})"

    async def term(self) -> None:
        self.outcome = "term"


def _make() -> tuple[NatsBroker, MemoryTelemetry, Ingestor]:
    broker, store = NatsBroker(), MemoryTelemetry()
    register(broker, store, TelemetrySettings())
    return broker, store, Ingestor(store, writers=2, retry_delay_s=2.0)


def _sample(project: UUID, robot: str = "r1") -> TelemetrySampled:
    return TelemetrySampled.first(
        project_key=project, robot_id=robot, received_at=T0, metrics={"cpu": 0.5}
    )


def _msg(data: bytes, subject: str) -> Recorded:
    return Recorded(_client=None, subject=subject, data=data, headers={"Nats-Msg-Id": "x"})  # type: ignore[arg-type]


async def _deliver_batch(ingestor: Ingestor, batch: list[Recorded]) -> None:
    """Hand several messages to the ingestor at once, the way one pull does."""
    await ingestor.submit(batch)
    await ingestor.drain()  # the write runs beside the pull loop; wait for its end


async def test_a_batch_is_stored_at_once_and_acked_only_after_the_write() -> None:
    """Valid samples go to the store together and are acked after it returned; a malformed one
    is terminated without holding the others back."""
    _broker, store, ingestor = _make()
    project = uuid4()
    good = [_sample(project, f"r{n}") for n in range(2)]
    batch = [_msg(s.model_dump_json().encode(), "telemetry.sample.p.r") for s in good]
    batch.insert(1, _msg(b"{broken", "telemetry.sample.p.r"))
    store.on_ingest.append(lambda: _assert_pending(batch[0], batch[2]))
    await _deliver_batch(ingestor, batch)
    assert store.batches == [[DecodedSample(**dict(s)) for s in good]]
    assert [m.outcome for m in batch] == ["ack", "term", "ack"]


async def test_a_sample_postgres_refuses_is_terminated_and_the_rest_of_its_batch_stored() -> None:
    """One sample in a batch of 16 that Postgres refuses (its transaction fails) is terminated
    alone; the other 15 are stored once each and acked, not redelivered with it forever."""
    _broker, store, ingestor = _make()
    samples = [_sample(uuid4(), f"r{n}") for n in range(16)]
    poison = samples[5]
    store.refused.add(poison.event_id)
    batch = [_msg(s.model_dump_json().encode(), "telemetry.sample.p.r") for s in samples]
    await _deliver_batch(ingestor, batch)
    stored = [s for written in store.batches for s in written]
    assert sorted(s.event_id for s in stored) == sorted(
        s.event_id for s in samples if s is not poison
    )
    assert [m.outcome for m in batch] == ["term" if n == 5 else "ack" for n in range(16)]
    assert store.writes <= 1 + 2 * 4, "found by halving, not one write per sample"


def _assert_pending(*msgs: Recorded) -> None:
    assert all(m.outcome == "pending" for m in msgs), "acked before the write finished"


async def test_a_failed_write_naks_the_batch_with_a_delay() -> None:
    """Database down: every valid message of the batch is nak'ed for a delayed redelivery."""
    _broker, store, ingestor = _make()
    store.fail = True
    batch = [_msg(_sample(uuid4()).model_dump_json().encode(), "telemetry.sample.p.r")]
    await _deliver_batch(ingestor, batch)
    assert [m.outcome for m in batch] == ["nak(2.0)"]


async def test_robot_events_reach_the_store_and_unknown_kinds_are_skipped() -> None:
    """A presence event is applied; an event of an unknown kind or broken JSON never reaches it
    and does not stop the events after it."""
    broker, store, _ingestor = _make()
    project = uuid4()
    presence = RobotPresence.first(
        project_key=project, robot_id="r1", state="connected", connection="c1", protocol="xparo"
    )
    subject = subjects.robot_event(project=project, robot="r1")
    async with TestNatsBroker(broker) as test:
        await test.publish(
            {"kind": "teleported", "to": "mars"}, subject, stream=subjects.ROBOT_STREAM
        )
        await test.publish(b"{broken", subject, stream=subjects.ROBOT_STREAM)
        await test.publish(presence, subject, stream=subjects.ROBOT_STREAM)
    assert store.events == [presence]


async def test_queries_answer_from_the_store_on_their_own_project_only() -> None:
    """A query answers with its project's data; a body naming another project than the subject
    gets an empty answer."""
    broker, store, _ingestor = _make()
    project, other = uuid4(), uuid4()
    await store.ingest([_sample(project)])
    query = GetLatestTelemetry(project_key=project)
    async with TestNatsBroker(broker) as test:
        own = await test.request(query, subjects.telemetry_query("latest", project))
        foreign = await test.request(query, subjects.telemetry_query("latest", other))
        robots = await test.request(
            GetRobots(project_key=project), subjects.telemetry_query("robots", other)
        )
    assert [s["robot_id"] for s in (await own.decode())["samples"]] == ["r1"]  # type: ignore[index]
    assert (await foreign.decode()) == {"samples": []}
    assert (await robots.decode()) == {"robots": []}


async def test_range_answer_echoes_the_series_it_describes() -> None:
    """The range answer names robot, metric and bucket width, with the store's buckets."""
    broker, store, _ingestor = _make()
    project = uuid4()
    await store.ingest([_sample(project)])  # cpu 0.5 at T0: the range's first bucket
    query = GetTelemetryRange(
        project_key=project,
        robot_id="r1",
        metric="cpu",
        start=T0,
        end=T0 + timedelta(minutes=5),
        bucket_s=60,
    )
    async with TestNatsBroker(broker) as test:
        answer = await (
            await test.request(query, subjects.telemetry_query("range", project))
        ).decode()
    assert answer["robot_id"] == "r1" and answer["metric"] == "cpu"  # type: ignore[index]
    assert answer["bucket_s"] == 60.0 and len(answer["buckets"]) == 1  # type: ignore[index]


async def test_reports_are_stored_and_answered_on_their_own_project_only() -> None:
    """A report reaches the store as sent and the reports query returns it on the project's
    subject; the same body on another project's subject gets no reports."""
    broker, store, _ingestor = _make()
    project, other = uuid4(), uuid4()
    report = RobotReported.first(
        project_key=project, robot_id="r1", key="TASK_RESULT", payload={"ok": [1, "two"]}
    )
    query = GetReports(project_key=project)
    async with TestNatsBroker(broker) as test:
        subject = subjects.robot_event(project=project, robot="r1")
        await test.publish(report, subject, stream=subjects.ROBOT_STREAM)
        own = await test.request(query, subjects.telemetry_query("reports", project))
        foreign = await test.request(query, subjects.telemetry_query("reports", other))
    assert store.events == [report]
    [answered] = (await own.decode())["reports"]  # type: ignore[index]
    assert (answered["event_id"], answered["payload"]) == (str(report.event_id), {"ok": [1, "two"]})
    assert (await foreign.decode()) == {"reports": []}


async def test_a_robot_event_postgres_cannot_hold_is_terminated_not_retried() -> None:
    """A robot event holding what Postgres can never store (a NUL in its text) is terminated at
    once with an error, not redelivered for minutes like a database outage."""
    broker, store, _ingestor = _make()
    store.refuse = True
    project = uuid4()
    presence = RobotPresence.first(
        project_key=project, robot_id="r1", state="connected", connection="c1", protocol="xparo"
    )
    msg = _msg(
        presence.model_dump_json().encode(), subjects.robot_event(project=project, robot="r1")
    )
    fleet = next(s for s in broker.subscribers if type(s) is PullStreamSubscriber)
    async with TestNatsBroker(broker):
        await fleet.process_message(msg)
    assert msg.outcome == "term"
