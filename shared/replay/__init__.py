"""Rebuilding projections from the JetStream streams: what every service's `replay.py` shares.

A service's replay reads its streams from the start (an ephemeral consumer that acks nothing,
so the live durable consumers never notice), folds every message through the service's own
store code into a fresh schema whose tables are copies of the live ones, and can compare the
two schemas row by row. Services bring their rebuild function and table checks (a
`Projection`); nothing here imports a service.

What a replay can rebuild is bounded by what the streams still hold (CHAT keeps 7 days,
TELEMETRY 1 day, robot presence and delivery events 1 day): the replay prints from when.
"""

from .compare import TableCheck, TableDiff, compare_schemas, compare_table, report
from .run import Projection, ReplaySettings, command_line, forget_deleted, replay
from .schemas import (
    ReplayError,
    TranslatingConnection,
    TranslatingDatabase,
    TranslatingPool,
    fresh_schema,
    translate_sql,
)
from .streams import (
    StreamRead,
    oldest_message,
    project_subjects,
    stream_messages,
    subject_matches,
)

__all__ = [
    "Projection",
    "ReplayError",
    "ReplaySettings",
    "StreamRead",
    "TableCheck",
    "TableDiff",
    "TranslatingConnection",
    "TranslatingDatabase",
    "TranslatingPool",
    "command_line",
    "compare_schemas",
    "compare_table",
    "forget_deleted",
    "fresh_schema",
    "oldest_message",
    "project_subjects",
    "replay",
    "report",
    "stream_messages",
    "subject_matches",
    "translate_sql",
]
