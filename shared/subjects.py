"""Subjects and stream names: namespace first, ids last. No handler writes a subject literal.

The streams' configurations (retention, replicas, dedupe windows) are in shared/streams.py."""

import hashlib
import re
import zlib
from uuid import UUID

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

CHAT_STREAM = "CHAT"
CONFIG_STREAM = "CONFIG"
ROBOT_STREAM = "ROBOT"
TELEMETRY_STREAM = "TELEMETRY"

CHAT_TURN_ALL = "chat.turn.*.*"  # chat.turn.<project>.<partition>
CHAT_REPLY_ALL = "chat.reply.*.*"
CHAT_DELETED_ALL = "chat.deleted.*"
MEDIA_STREAM = "MEDIA"
MEDIA_STORED_ALL = "media.stored.*"
MEDIA_BUCKET = "media"
MEDIA_STORE_ALL = "media.image.store.*"
MEDIA_GET = "media.image.get"
# Request/reply like MEDIA_STORE_ALL (no stream holds them): a file, a voice message to transcribe.
MEDIA_FILE_STORE_ALL = "media.file.store.*"
MEDIA_VOICE_TRANSCRIBE_ALL = "media.voice.transcribe.*"
MEDIA_VOICE_SPEAK_ALL = "media.voice.speak.*"  # text to speech (SpeakText), answered with a WAV
MEDIA_QUEUE = "media"
MEDIA_DURABLE = "media"
CONFIG_CHANGED_ALL = "config.changed.*"
PROJECT_DELETED_ALL = "config.deleted.*"
CONFIG_ALL = "config.*.*"  # content changed, project deleted, project secret/settings changed

ROBOT_COMMAND_ALL = "robot.command.*.*"
ROBOT_EVENT_ALL = "robot.event.*.*"
TELEMETRY_SAMPLE_ALL = "telemetry.sample.*.*"
TELEMETRY_QUERY_LATEST_ALL = "telemetry.query.latest.*"
TELEMETRY_QUERY_RANGE_ALL = "telemetry.query.range.*"
TELEMETRY_QUERY_ROBOTS_ALL = "telemetry.query.robots.*"
TELEMETRY_QUERY_COMMANDS_ALL = "telemetry.query.commands.*"
TELEMETRY_QUERY_REPORTS_ALL = "telemetry.query.reports.*"

SCHEDULE_GET_ALL = "schedule.get.*"
SCHEDULE_SET_ALL = "schedule.set.*"
SCHEDULE_DELETE_ALL = "schedule.delete.*"
SCHEDULE_QUEUE = "schedule"

DIALOG_DURABLE = "dialog"
DIALOG_QUEUE = "dialog"
TELEMETRY_DURABLE = "telemetry"
FLEET_DURABLE = "fleet"
TELEMETRY_QUEUE = "telemetry"

ROBOT_EVENT_TTL_S = 24 * 3600  # the fleet consumer reads them in seconds; a day covers an outage


def token(value: str | UUID) -> str:
    """Return `value` as one subject token, refusing dots, wildcards and spaces."""
    text = value.hex if isinstance(value, UUID) else value
    if not _TOKEN.match(text):
        raise ValueError(f"not a valid subject token: {text!r}")
    return text


def session_key(raw: str, *, prefix: str) -> str:
    """The session id of a client-chosen key: itself when it is a subject token, else `prefix`
    and a digest of it (so any key, e.g. an e-mail, keeps its own state)."""
    try:
        return token(raw)
    except ValueError:
        return prefix + hashlib.sha256(raw.encode()).hexdigest()[:40]


def partition_of(session: str, partitions: int) -> int:
    """The turn partition of a session: one of `partitions`, always the same for the session."""
    return zlib.crc32(session.encode()) % partitions


def chat_turn(project: UUID, session: str, *, partitions: int) -> str:
    """Subject of a user's turn for `project` (gateway → dialog): its session's partition last,
    so each dialog consumer takes one partition of every project."""
    return f"chat.turn.{token(project)}.{partition_of(session, partitions)}"


def chat_project_turns(project: UUID) -> str:
    """Every turn of `project`, whatever its partition."""
    return f"chat.turn.{token(project)}.*"


def chat_partition_turns(partition: int) -> str:
    """Every project's turns of one partition (a dialog partition consumer's filter)."""
    return f"chat.turn.*.{partition}"


def dialog_partition_durable(partition: int, durable: str = DIALOG_DURABLE) -> str:
    """The durable consumer of one turn partition (pulled by its owner only)."""
    return f"{durable}-p{partition}"


def dialog_owners_bucket(durable: str = DIALOG_DURABLE) -> str:
    """The KV bucket of the partition leases and the replicas' presence."""
    return f"{durable}-owners"


def chat_reply(*, project: UUID, session: str) -> str:
    """Subject of the bot's replies in one session (dialog → the gateway holding it)."""
    return f"chat.reply.{token(project)}.{token(session)}"


def chat_project_replies(project: UUID) -> str:
    """Every reply of every session of `project` (AIDA's per-bot broadcast)."""
    return f"chat.reply.{token(project)}.*"


def chat_deleted(project: UUID) -> str:
    """Subject announcing that one of `project`'s sessions was deleted (SessionDeleted)."""
    return f"chat.deleted.{token(project)}"


def chat_handoff(project: UUID) -> str:
    """Core-NATS notice that an operator took over or handed back one of `project`'s sessions
    (HandoffChanged; read by the admin live feed, kept by no stream)."""
    return f"chat.handoff.{token(project)}"


SESSION_REQUESTS = ("open", "update", "get", "delete", "say", "history")


def _dialog_request(area: str, kinds: tuple[str, ...], kind: str, project: UUID | None) -> str:
    """dialog.<area>.<kind>.<project> (`*` for every project), for a known kind only."""
    if kind not in kinds:
        raise ValueError(f"unknown {area} request {kind!r}")
    return f"dialog.{area}.{kind}.{'*' if project is None else token(project)}"


def dialog_session(kind: str, project: UUID) -> str:
    """Request subject of the dialog's sessions: open, update, get, delete, say or history."""
    return _dialog_request("session", SESSION_REQUESTS, kind, project)


def dialog_session_all(kind: str) -> str:
    """Every project's session requests of one kind (dialog.session.<kind>.*)."""
    return _dialog_request("session", SESSION_REQUESTS, kind, None)


CONVERSATION_REQUESTS = ("find", "transcript", "export", "handoff", "inbox")


def dialog_conversation(kind: str, project: UUID) -> str:
    """Request subject of the dialog's conversations as operators read them: find, transcript,
    export (one page each) or handoff."""
    return _dialog_request("conversation", CONVERSATION_REQUESTS, kind, project)


def dialog_conversation_all(kind: str) -> str:
    """Every project's conversation requests of one kind (dialog.conversation.<kind>.*)."""
    return _dialog_request("conversation", CONVERSATION_REQUESTS, kind, None)


def media_store(project: UUID) -> str:
    """Request subject: keep an image staged for `project` (StoreImage)."""
    return f"media.image.store.{token(project)}"


def media_file_store(project: UUID) -> str:
    """Request subject: keep a file staged for `project` (StoreFile)."""
    return f"media.file.store.{token(project)}"


def media_voice_transcribe(project: UUID) -> str:
    """Request subject: keep and transcribe a voice message staged for `project`
    (TranscribeVoice)."""
    return f"media.voice.transcribe.{token(project)}"


def media_voice_speak(project: UUID) -> str:
    """Request subject: say a text for `project` (SpeakText); the reply is a WAV."""
    return f"media.voice.speak.{token(project)}"


def media_stored(project: UUID) -> str:
    """Subject announcing a kept image of `project` (ImageStored)."""
    return f"media.stored.{token(project)}"


def config_changed(project: UUID) -> str:
    """Subject announcing that a project's bot content changed."""
    return f"config.changed.{token(project)}"


def project_changed(project: UUID) -> str:
    """Subject announcing that a project's secret or settings changed (ProjectChanged; core
    NATS: only the gateways' identity caches listen)."""
    return f"config.project.{token(project)}"


def project_activity(project: UUID) -> list[str]:
    """Every subject of what happens in `project` (the admin live feed reads them, core NATS):
    turns, replies, deleted sessions, handoffs, robot commands and events, telemetry, config."""
    p = token(project)
    return [
        f"chat.*.{p}",  # deleted sessions, handoffs
        f"chat.turn.{p}.*",  # turns, whatever their partition
        f"chat.reply.{p}.*",
        f"robot.*.{p}.*",
        f"telemetry.sample.{p}.*",
        f"config.*.{p}",
    ]


def project_deleted(project: UUID) -> str:
    """Subject announcing that a project was deleted (every service forgets its rows)."""
    return f"config.deleted.{token(project)}"


def forget_durable(service: str) -> str:
    """Durable consumer name through which one service forgets deleted projects."""
    return f"forget_{token(service)}"


CONTENT_KINDS = (
    *("save", "get", "knowledge", "publish", "restore", "versions"),
    *("aiml", "behavior", "document", "export", "diff"),
)
# Object store bucket through which bot content too big for one message travels (both ways).
CONTENT_BUCKET = "content"


def dialog_content(kind: str, project: UUID) -> str:
    """Request subject of the dialog's bot content: save (AIML text), get, knowledge (FAQ,
    intents, chain, maps, sets, properties), publish, restore, versions, aiml (staged files),
    behavior, document (a staged document's text), export (staged files out) or diff."""
    return _dialog_request("content", CONTENT_KINDS, kind, project)


def dialog_content_all(kind: str) -> str:
    """Every project's content requests of one kind (dialog.content.<kind>.*)."""
    return _dialog_request("content", CONTENT_KINDS, kind, None)


def dialog_content_save(project: UUID) -> str:
    """Request subject: store new AIML for `project`."""
    return dialog_content("save", project)


def dialog_content_get(project: UUID) -> str:
    """Request subject: read the bot content of `project`."""
    return dialog_content("get", project)


def robot_command(*, project: UUID, robot: str) -> str:
    """Subject of the commands for one robot (kept in ROBOT until that robot takes them)."""
    return f"robot.command.{token(project)}.{token(robot)}"


def robot_event(*, project: UUID, robot: str) -> str:
    """Subject of what happens to one robot (presence, command delivery)."""
    return f"robot.event.{token(project)}.{token(robot)}"


def robot_command_consumer(*, project: UUID, robot: str) -> str:
    """Durable consumer name of one robot's command queue (any gateway may bind to it)."""
    return f"robot_{token(project)}_{token(robot)}"


def telemetry_sample(*, project: UUID, robot: str) -> str:
    """Subject of one robot's telemetry samples (gateway → telemetry)."""
    return f"telemetry.sample.{token(project)}.{token(robot)}"


def telemetry_query(kind: str, project: UUID) -> str:
    """Request subject of a telemetry query: latest, range, robots, commands or reports."""
    if kind not in ("latest", "range", "robots", "commands", "reports"):
        raise ValueError(f"unknown telemetry query {kind!r}")
    return f"telemetry.query.{kind}.{token(project)}"


def schedule_request(kind: str, project: UUID) -> str:
    """Request subject of the schedule service: get, set or delete."""
    if kind not in ("get", "set", "delete"):
        raise ValueError(f"unknown schedule request {kind!r}")
    return f"schedule.{kind}.{token(project)}"
