"""Rebuild the telemetry tables from TELEMETRY and ROBOT: `python -m services.telemetry.replay`
(`make replay`).

Samples (`telemetry.sample.<project>.<robot>`) go through PgTelemetryStore.ingest in batches,
robot and command events (`robot.event.*`, `robot.command.*`) one by one through
PgTelemetryStore.apply, exactly as the live consumers write them; project deletions (CONFIG)
are applied as the live service applies them. The store writes raw SQL naming the `telemetry`
schema, which SQLAlchemy's schema_translate_map cannot reach: a TranslatingDatabase renames
the schema in every statement the store sends (asyncpg's COPY goes into a per-connection
temporary table, which has no schema).

Both stores are idempotent and order-tolerant (samples on (event_id, metric), the newest sample
and last_seen only move forward, command columns are filled once), so duplicates in the streams
change nothing, and samples may be replayed before robot events.

Every column comes from an event: nothing is left out of the comparison. The streams are the
limit: TELEMETRY keeps a day of samples, presence and delivery events live a day (per-message
TTL), issued commands and reports 30 days; robots and samples older than that are not rebuilt.
"""

from uuid import UUID

from nats.js import JetStreamContext

from shared import subjects
from shared.replay import (
    Projection,
    StreamRead,
    TableCheck,
    TranslatingDatabase,
    command_line,
    project_subjects,
    stream_messages,
)

from .domain import (
    DecodedSample,
    MalformedMessage,
    UnknownKind,
    decode_fleet_event,
    decode_sample,
)
from .store import PgTelemetryStore, prepare_connection

SCHEMA = "telemetry"
BATCH = 500  # samples per transaction, as the live consumer's default batch


async def _samples(
    js: JetStreamContext, store: PgTelemetryStore, project: UUID | None
) -> StreamRead:
    progress = StreamRead(subjects.TELEMETRY_STREAM)
    filters = project_subjects([subjects.TELEMETRY_SAMPLE_ALL], project)
    batch: list[DecodedSample] = []
    async for msg in stream_messages(js, subjects.TELEMETRY_STREAM, filters, progress):
        try:
            batch.append(decode_sample(msg.data))
        except MalformedMessage:
            progress.skip("malformed")
            continue
        if len(batch) >= BATCH:
            await store.ingest(batch)
            batch = []
    if batch:
        await store.ingest(batch)
    return progress


async def _fleet(js: JetStreamContext, store: PgTelemetryStore, project: UUID | None) -> StreamRead:
    progress = StreamRead(subjects.ROBOT_STREAM)
    filters = project_subjects([subjects.ROBOT_COMMAND_ALL, subjects.ROBOT_EVENT_ALL], project)
    async for msg in stream_messages(js, subjects.ROBOT_STREAM, filters, progress):
        try:
            event = decode_fleet_event(msg.data)
        except UnknownKind:
            progress.skip("of unknown kinds")
            continue
        except MalformedMessage:
            progress.skip("malformed")
            continue
        await store.apply(event)
    return progress


async def rebuild(
    js: JetStreamContext, database_url: str, into: str, project: UUID | None
) -> list[StreamRead]:
    """Read TELEMETRY and ROBOT from their oldest messages into schema `into`."""
    db = TranslatingDatabase(database_url, {SCHEMA: into}, init=prepare_connection)
    await db.open()
    try:
        store = PgTelemetryStore(db)
        return [await _samples(js, store, project), await _fleet(js, store, project)]
    finally:
        await db.close()


CHECKS = (
    TableCheck("samples", order=("robot_id", "received_at", "metric")),
    TableCheck("latest", order=("robot_id",)),
    TableCheck("robots", order=("robot_id",)),
    TableCheck("commands", order=("robot_id", "command_id")),
    TableCheck("reports", order=("robot_id", "occurred_at", "event_id")),
)
PROJECTION = Projection(
    service="telemetry",
    live=SCHEMA,
    streams=(subjects.TELEMETRY_STREAM, subjects.ROBOT_STREAM),
    checks=CHECKS,
    rebuild=rebuild,
)
app = command_line(PROJECTION)

if __name__ == "__main__":
    app()
