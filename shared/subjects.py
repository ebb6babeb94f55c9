"""Subjects and streams: namespace first, ids last. No handler writes a subject literal."""

import re
from uuid import UUID

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

CHAT_STREAM = "CHAT"
CONFIG_STREAM = "CONFIG"

CHAT_TURN_ALL = "chat.turn.*"
CHAT_REPLY_ALL = "chat.reply.*.*"
CONFIG_CHANGED_ALL = "config.changed.*"
DIALOG_CONTENT_SAVE_ALL = "dialog.content.save.*"
DIALOG_CONTENT_GET_ALL = "dialog.content.get.*"

DIALOG_DURABLE = "dialog"
DIALOG_QUEUE = "dialog"

WEEK_SECONDS = 7 * 24 * 3600.0


def token(value: str | UUID) -> str:
    """Return `value` as one subject token, refusing dots, wildcards and spaces."""
    text = value.hex if isinstance(value, UUID) else value
    if not _TOKEN.match(text):
        raise ValueError(f"not a valid subject token: {text!r}")
    return text


def chat_turn(project: UUID) -> str:
    """Subject of a user's turn for `project` (gateway → dialog)."""
    return f"chat.turn.{token(project)}"


def chat_reply(*, project: UUID, session: str) -> str:
    """Subject of the bot's replies in one session (dialog → the gateway holding it)."""
    return f"chat.reply.{token(project)}.{token(session)}"


def config_changed(project: UUID) -> str:
    """Subject announcing that a project's bot content changed."""
    return f"config.changed.{token(project)}"


def dialog_content_save(project: UUID) -> str:
    """Request subject: store new bot content for `project`."""
    return f"dialog.content.save.{token(project)}"


def dialog_content_get(project: UUID) -> str:
    """Request subject: read the current bot content of `project`."""
    return f"dialog.content.get.{token(project)}"


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
            subjects=[CHAT_TURN_ALL, CHAT_REPLY_ALL],
            max_age=WEEK_SECONDS,
            **common,  # type: ignore[arg-type]
        ),
        StreamConfig(
            name=CONFIG_STREAM,
            subjects=[CONFIG_CHANGED_ALL],
            max_age=WEEK_SECONDS,
            **common,  # type: ignore[arg-type]
        ),
    ]
