"""Rebuild the dialog's transcripts from CHAT: `python -m services.dialog.replay` (`make replay`).

Every reply in CHAT (`chat.reply.<project>.<session>`) is folded with the turn it answers
(`chat.turn.<project>`) through the service's own store code (TurnStore's unit, PgSessions,
the turn path's row builder) into a fresh schema; session deletions (`chat.deleted.<project>`) and
project deletions (CONFIG) are applied as the live service applies them. Those stores' SQL names
its tables unqualified: the replay's pool has the replay schema as its connections' search path
(`dialog_database(schema=...)`), so the very same statements write there.

Rebuilt: `turns`, `sessions` (those with a transcript row), `deleted_sessions`. Not a
projection, so left out: bot content (versions, blobs, releases: request/reply, in no stream),
and a session's predicates and data (the AIML engine's state after each answer, and what
UpdateSession merged by request/reply; re-running the bots would not give the same answers once
their content changed). A session that never had a turn (AIDA's OpenSession) is not in CHAT.
"""

from uuid import UUID

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import TypeAdapter, ValidationError

from shared import subjects
from shared.contracts import BotSpoke, SessionDeleted, TurnAnswered, TurnReceived
from shared.contracts.chat import ChatReply
from shared.replay import (
    Projection,
    StreamRead,
    TableCheck,
    command_line,
    project_subjects,
    stream_messages,
    subject_matches,
)

from .db import dialog_database
from .errors import SessionGone
from .models import SCHEMA
from .sessions.application import said_row
from .sessions.store import PgSessions, TurnStore
from .turns.order import answered_on
from .turns.records import row_of

CHAT_SUBJECTS = (subjects.CHAT_TURN_ALL, subjects.CHAT_REPLY_ALL, subjects.CHAT_DELETED_ALL)
_REPLY = TypeAdapter[ChatReply](ChatReply)


class Transcripts:
    """Writes CHAT's events into one schema through the dialog's store code; every event is
    applied at most once (turns by their event id, like the live handler), so duplicates in
    the stream change nothing."""

    def __init__(self, turns: TurnStore, sessions: PgSessions, progress: StreamRead) -> None:
        self._turns = turns
        self._sessions = sessions
        self._progress = progress
        self._waiting: dict[UUID, TurnReceived] = {}
        self._answered: set[UUID] = set()

    async def apply(self, msg: Msg) -> None:
        """One CHAT message: a turn waits for its reply, which writes them both."""
        try:
            if subject_matches(msg.subject, subjects.CHAT_TURN_ALL):
                turn = TurnReceived.model_validate_json(msg.data)
                if turn.event_id in self._answered:
                    self._progress.skip("duplicates")
                else:
                    self._waiting.setdefault(turn.event_id, turn)
            elif subject_matches(msg.subject, subjects.CHAT_REPLY_ALL):
                reply = _REPLY.validate_json(msg.data)
                if isinstance(reply, BotSpoke):
                    await self._said(reply)
                else:
                    await self._answer(reply)
            else:
                await self._deleted(SessionDeleted.model_validate_json(msg.data))
        except ValidationError:
            self._progress.skip("malformed")

    def unanswered(self) -> None:
        """Count the turns left without a reply: dropped as their session was deleted (its
        replies are purged with it), or not answered yet."""
        for _ in self._waiting:
            self._progress.skip("turns without a reply")

    async def _answer(self, reply: TurnAnswered) -> None:
        """The turn path's writes, with the answer taken from the reply instead of
        the engines."""
        turn = self._waiting.pop(reply.turn_event_id, None)
        if turn is None:
            repeated = reply.turn_event_id in self._answered
            self._progress.skip("duplicates" if repeated else "replies whose turn left CHAT")
            return
        self._answered.add(turn.event_id)
        try:
            async with self._turns.unit() as unit:
                session = await unit.lock_session(
                    turn.project_key, turn.session_id, protocol=reply.protocol or turn.protocol
                )
                if await unit.previous_turn(turn.event_id) is not None:
                    self._progress.skip("duplicates")
                    return
                # engine_ms is how long the engine took: no event holds it (never compared).
                row = row_of(turn, reply, engine_ms=0.0)
                session.protocol = session.protocol or turn.protocol
                session.channel, session.seq = turn.channel, turn.seq
                session.channels = answered_on(session.channels, channel=turn.channel, seq=turn.seq)
                session.last_at = reply.occurred_at
                unit.save(session, row)
        except SessionGone:
            self._progress.skip("turns of deleted sessions")

    async def _said(self, spoke: BotSpoke) -> None:
        """PgSessions.say, as the live service keeps a message said first (the operator's
        name is in the command only, not in BotSpoke: never compared)."""
        if not await self._live_session(spoke.project_key, spoke.session_id, spoke.protocol):
            self._progress.skip("said to deleted sessions")
            return
        async with self._turns.unit() as unit:
            if await unit.previous_turn(spoke.event_id) is not None:
                self._progress.skip("duplicates")
                return
        await self._sessions.say(said_row(spoke, operator=None))

    async def _deleted(self, event: SessionDeleted) -> None:
        """PgSessions.delete: the session and its transcript go, its tombstone stays."""
        if await self._live_session(event.project_key, event.session_id, None):
            await self._sessions.delete(event.project_key, event.session_id)
        else:
            self._progress.skip("duplicates")

    async def _live_session(self, project: UUID, session_id: str, protocol: str | None) -> bool:
        """Make sure the session row exists (as it did live); False when it is deleted."""
        try:
            async with self._turns.unit() as unit:
                await unit.lock_session(project, session_id, protocol=protocol or "")
        except SessionGone:
            return False
        return True


async def rebuild(
    js: JetStreamContext, database_url: str, into: str, project: UUID | None
) -> list[StreamRead]:
    """Read CHAT from its oldest message and write the transcripts into schema `into`."""
    db = dialog_database(database_url, max_size=1, schema=into)
    await db.open()
    try:
        progress = StreamRead(subjects.CHAT_STREAM)
        transcripts = Transcripts(TurnStore(db), PgSessions(db), progress)
        filters = project_subjects(CHAT_SUBJECTS, project)
        async for msg in stream_messages(js, subjects.CHAT_STREAM, filters, progress):
            await transcripts.apply(msg)
        transcripts.unanswered()
        return [progress]
    finally:
        await db.close()


# A session's turns are compared in their order (position), not by id: ids are drawn at insert.
POSITION = "row_number() OVER (PARTITION BY x.project_key, x.session_id ORDER BY x.id)"
HAS_TRANSCRIPT = (
    "EXISTS (SELECT 1 FROM {schema}.turns t"
    " WHERE t.project_key = x.project_key AND t.session_id = x.session_id)"
)
CHECKS = (
    TableCheck(
        "turns",
        order=("session_id", "position"),
        exclude={
            "id": "drawn from a sequence at insert (the order is compared as position)",
            "engine_ms": "how long the engine took; no event holds it",
        },
        # details.operator: who held the session (handoff) or spoke; in no CHAT event.
        # jsonb for the comparison: json has no equality (EXCEPT ALL needs one).
        expressions={"details": "x.details::jsonb - 'operator'", "position": POSITION},
    ),
    TableCheck(
        "sessions",
        order=("session_id",),
        exclude={
            "data": "merged by UpdateSession (request/reply), kept in no stream",
            "state": "the AIML engine's predicates: engine state, not a projection of events",
            "created_at": "insert time",
            "updated_at": "update time",
            "handoff": "HandoffChanged is a core NATS notice, kept in no stream",
            "version": "the write fence's counter: merges and handoffs (in no stream) bump it",
        },
        where=HAS_TRANSCRIPT,
    ),
    TableCheck(
        "deleted_sessions",
        order=("session_id",),
        exclude={"deleted_at": "insert time"},
    ),
)
PROJECTION = Projection(
    service="dialog",
    live=SCHEMA,
    streams=(subjects.CHAT_STREAM,),
    checks=CHECKS,
    rebuild=rebuild,
)
app = command_line(PROJECTION)

if __name__ == "__main__":
    app()
