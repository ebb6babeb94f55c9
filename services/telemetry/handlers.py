"""Thin subscribers: robot events one by one, queries by request/reply (samples: ingest.py)."""

import logging
from uuid import UUID

from faststream import AckPolicy
from faststream.exceptions import NackMessage, RejectMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from nats.js import JetStreamContext, api

from shared import subjects
from shared.broker import misaddressed, undecoded
from shared.contracts import (
    CommandList,
    GetCommands,
    GetLatestTelemetry,
    GetReports,
    GetRobots,
    GetTelemetryRange,
    LatestTelemetry,
    ReportList,
    RobotList,
    TelemetryRange,
    utcnow,
)
from shared.db import DATABASE_TROUBLE

from .config import TelemetrySettings
from .domain import MalformedMessage, UnknownKind, decode_fleet_event
from .ingest import msg_ref
from .store import DATA_REFUSED, TelemetryStore

log = logging.getLogger(__name__)


def ingest_consumer(settings: TelemetrySettings) -> api.ConsumerConfig:
    """The samples consumer, shared by every replica."""
    return api.ConsumerConfig(
        name=subjects.TELEMETRY_DURABLE,
        durable_name=subjects.TELEMETRY_DURABLE,
        filter_subject=subjects.TELEMETRY_SAMPLE_ALL,
        ack_policy=api.AckPolicy.EXPLICIT,  # not ALL: replicas share the consumer
        ack_wait=settings.ack_wait_s,
        max_ack_pending=max(1000, 20 * settings.batch_size),
    )


def fleet_consumer(settings: TelemetrySettings) -> api.ConsumerConfig:
    """The commands-and-robot-events consumer (two filter subjects: NATS 2.10+)."""
    return api.ConsumerConfig(
        name=subjects.FLEET_DURABLE,
        durable_name=subjects.FLEET_DURABLE,
        filter_subjects=[subjects.ROBOT_COMMAND_ALL, subjects.ROBOT_EVENT_ALL],
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_s,
    )


async def ensure_consumers(js: JetStreamContext, settings: TelemetrySettings) -> None:
    """Create the durable consumers, or bring an existing one's config (ack wait, pending
    limit) up to date: JetStream creates-or-updates, and subscribers then only bind."""
    await js.add_consumer(subjects.TELEMETRY_STREAM, config=ingest_consumer(settings))
    await js.add_consumer(subjects.ROBOT_STREAM, config=fleet_consumer(settings))


def register(broker: NatsBroker, store: TelemetryStore, settings: TelemetrySettings) -> None:
    """Attach the FastStream subscribers to `broker`: robot events and queries. Samples take
    the raw pull loop of ingest.py."""
    register_fleet(broker, store, settings)
    register_queries(broker, store, settings)


def register_fleet(broker: NatsBroker, store: TelemetryStore, settings: TelemetrySettings) -> None:
    """Commands and robot events fold into the fleet tables, reports are kept as they came;
    unknown kinds are acked and skipped."""

    @broker.subscriber(
        stream=JStream(name=subjects.ROBOT_STREAM, declare=False),
        durable=subjects.FLEET_DURABLE,
        pull_sub=PullSub(batch_size=64, timeout=1.0),
        config=fleet_consumer(settings),
        ack_policy=AckPolicy.REJECT_ON_ERROR,
        decoder=undecoded,
        description="Keep robot presence, command status and what robots reported",
    )
    async def on_robot_event(msg: NatsMessage) -> None:
        try:
            event = decode_fleet_event(msg.raw_message.data)
        except UnknownKind as err:
            log.info("skipping %s: %s", msg_ref(msg.raw_message), err)
            return
        except MalformedMessage as err:
            log.error("terminating malformed robot event %s: %s", msg_ref(msg.raw_message), err)
            raise RejectMessage from err
        try:
            await store.apply(event)
        except DATA_REFUSED as err:
            log.error("terminating robot event %s Postgres cannot hold: %r", event.event_id, err)
            raise RejectMessage from err
        except DATABASE_TROUBLE as err:
            log.warning("robot event %s not stored, retrying: %r", event.event_id, err)
            raise NackMessage(delay=settings.retry_delay_s) from err


def addressed(msg: NatsMessage, kind: str, project: UUID) -> bool:
    """True when the request came on `project`'s own subject; a body naming another project
    than its subject gets an empty answer, never that project's data."""
    expected = subjects.telemetry_query(kind, project)
    return not misaddressed(
        msg, expected, project, what="query", log=log, outcome=": answering empty"
    )


def register_queries(
    broker: NatsBroker, store: TelemetryStore, settings: TelemetrySettings
) -> None:
    """Request/reply queries, answered by any replica (queue group)."""
    queue = subjects.TELEMETRY_QUEUE

    @broker.subscriber(subjects.TELEMETRY_QUERY_LATEST_ALL, queue=queue)
    async def on_latest(query: GetLatestTelemetry, msg: NatsMessage) -> LatestTelemetry:
        if not addressed(msg, "latest", query.project_key):
            return LatestTelemetry(samples=[])
        return LatestTelemetry(samples=await store.latest(query.project_key, query.robot_id))

    @broker.subscriber(subjects.TELEMETRY_QUERY_RANGE_ALL, queue=queue)
    async def on_range(query: GetTelemetryRange, msg: NatsMessage) -> TelemetryRange:
        found = await store.buckets(query) if addressed(msg, "range", query.project_key) else []
        return TelemetryRange(
            robot_id=query.robot_id, metric=query.metric, bucket_s=query.bucket_s, buckets=found
        )

    @broker.subscriber(subjects.TELEMETRY_QUERY_ROBOTS_ALL, queue=queue)
    async def on_robots(query: GetRobots, msg: NatsMessage) -> RobotList:
        if not addressed(msg, "robots", query.project_key):
            return RobotList(robots=[])
        window = settings.online_window_s
        return RobotList(
            robots=await store.robots(query.project_key, now=utcnow(), window_s=window)
        )

    @broker.subscriber(subjects.TELEMETRY_QUERY_COMMANDS_ALL, queue=queue)
    async def on_commands(query: GetCommands, msg: NatsMessage) -> CommandList:
        if not addressed(msg, "commands", query.project_key):
            return CommandList(commands=[])
        return CommandList(commands=await store.commands(query, now=utcnow()))

    @broker.subscriber(subjects.TELEMETRY_QUERY_REPORTS_ALL, queue=queue)
    async def on_reports(query: GetReports, msg: NatsMessage) -> ReportList:
        if not addressed(msg, "reports", query.project_key):
            return ReportList(reports=[])
        return ReportList(reports=await store.reports(query))
