"""Samples in PostgreSQL's binary COPY format, encoded here rather than by asyncpg's
`copy_records_to_table`, which spends three times as long on a sample (a tuple per row, a
codec call per field, a Python `UUID.bytes` per uuid)."""

import struct
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from .domain import Sample

# PostgreSQL's binary COPY format: a signature, flags and extension length, then per row the
# field count and each field as its length and bytes (uuid: 16 bytes; text: UTF-8;
# timestamptz: int64 microseconds since 2000-01-01 UTC; float8: IEEE 754), all big-endian.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_TRAILER = b"\xff\xff"  # field count -1
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_PROJECT_ROBOT = struct.Struct("!hi16si").pack  # 6 fields, project_key, robot_id's length
_LENGTH = struct.Struct("!i").pack
_TIME_VALUE = struct.Struct("!iqid").pack  # received_at, value
_UUID_LENGTH = _LENGTH(16)


def copy_data(samples: Iterable[Sample]) -> bytes:
    """`metric_rows(samples)` in binary COPY format, for the columns of MetricRow. Built here
    rather than by asyncpg's `copy_records_to_table`, which spends three times as long on a
    sample (a tuple per row, a codec call per field, a Python `UUID.bytes` per uuid)."""
    parts = [_COPY_HEADER]
    add = parts.append
    for sample in samples:
        robot = sample.robot_id.encode()
        head = _PROJECT_ROBOT(6, 16, sample.project_key.bytes, len(robot)) + robot
        received = sample.received_at
        if received.tzinfo is None:  # local time, as asyncpg stores a naive datetime
            received = received.astimezone(UTC)
        at = (received - _PG_EPOCH) // _MICROSECOND
        tail = _UUID_LENGTH + sample.event_id.bytes
        for name, value in sample.metrics.items():
            metric = name.encode()
            add(b"".join((head, _LENGTH(len(metric)), metric, _TIME_VALUE(8, at, 8, value), tail)))
    add(_COPY_TRAILER)
    return b"".join(parts)
