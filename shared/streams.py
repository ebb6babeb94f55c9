"""The durable streams every service expects, and how long each keeps what it holds (created
or updated idempotently at start: shared.broker.ensure_streams)."""

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from .subjects import (
    CHAT_DELETED_ALL,
    CHAT_REPLY_ALL,
    CHAT_STREAM,
    CHAT_TURN_ALL,
    CONFIG_CHANGED_ALL,
    CONFIG_STREAM,
    MEDIA_STORED_ALL,
    MEDIA_STREAM,
    PROJECT_DELETED_ALL,
    ROBOT_COMMAND_ALL,
    ROBOT_EVENT_ALL,
    ROBOT_STREAM,
    TELEMETRY_SAMPLE_ALL,
    TELEMETRY_STREAM,
)

WEEK_SECONDS = 7 * 24 * 3600.0
DAY_SECONDS = 24 * 3600.0
# Longer than the schedule's grace window: a re-fired entry (same id) is dropped, not doubled.
ROBOT_DEDUPE_S = 600.0


def stream_configs(replicas: int = 1) -> list[StreamConfig]:
    """The durable streams every service expects (created idempotently at start)."""
    common = {
        "retention": RetentionPolicy.LIMITS,
        "storage": StorageType.FILE,
        "discard": DiscardPolicy.OLD,
        "num_replicas": replicas,
        "duplicate_window": 120.0,
    }
    return [
        StreamConfig(
            name=CHAT_STREAM,
            subjects=[CHAT_TURN_ALL, CHAT_REPLY_ALL, CHAT_DELETED_ALL],
            max_age=WEEK_SECONDS,
            **common,  # type: ignore[arg-type]
        ),
        StreamConfig(
            name=CONFIG_STREAM,
            subjects=[CONFIG_CHANGED_ALL, PROJECT_DELETED_ALL],
            max_age=WEEK_SECONDS,
            **common,  # type: ignore[arg-type]
        ),
        StreamConfig(
            name=MEDIA_STREAM,
            subjects=[MEDIA_STORED_ALL],
            max_age=WEEK_SECONDS,
            **common,  # type: ignore[arg-type]
        ),
        # Commands wait here for robots that are offline, so this stream keeps a month; robot
        # events (presence every few seconds per robot) carry a per-message TTL instead.
        StreamConfig(
            name=ROBOT_STREAM,
            subjects=[ROBOT_COMMAND_ALL, ROBOT_EVENT_ALL],
            max_age=30 * DAY_SECONDS,
            allow_msg_ttl=True,
            **{**common, "duplicate_window": ROBOT_DEDUPE_S},  # type: ignore[arg-type]
        ),
        # The telemetry service drains this within seconds; a day covers a long outage.
        StreamConfig(
            name=TELEMETRY_STREAM,
            subjects=[TELEMETRY_SAMPLE_ALL],
            max_age=DAY_SECONDS,
            **common,  # type: ignore[arg-type]
        ),
    ]
