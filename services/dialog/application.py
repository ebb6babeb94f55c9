"""The dialog use cases: answer a turn exactly once and in order, save bot content, keep the
sessions the protocols open and delete, and let the bot speak first."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, cast
from uuid import UUID, uuid4

from shared.contracts import (
    BotContentRejected,
    BotContentSaved,
    BotSpoke,
    DeleteSession,
    GetSession,
    OpenSession,
    SaveBotContent,
    SayToSession,
    SessionDeleted,
    SessionInfo,
    SessionReply,
    SessionUnknown,
    TurnAnswered,
    TurnReceived,
    UpdateSession,
)
from shared.contracts.chat import Protocol as WireProtocol
from shared.contracts.content import (
    AimlFile,
    ContentMissing,
    ContentPublished,
    PublishContent,
    RestoreContent,
    SaveKnowledge,
)
from shared.contracts.session import GetHistory, History, HistoryTurn
from shared.identity import DEFAULT_FALLBACK, ProjectStore

from .chain import PENDING, Brain, Brains, Fallbacks, Question, Said, greet, respond
from .content_app import ContentFiles, build_version, saved_of, texts_key
from .conversations import said_row
from .domain import (
    InvalidAiml,
    SessionGone,
    answered_on,
    compile_aiml,
    data_predicates,
    deleted_event_id,
    heard,
    reply_event_id,
    waits_for_predecessor,
)
from .models import SessionRow, TurnRow
from .store import Sessions, TurnStore, TurnUnit
from .versions import EMPTY, SINGLE_FILE, ContentStore, content_of

log = logging.getLogger(__name__)
DETAILS = {"faq", "intent", "url", "image", "action", "parts", "said_before"}  # a row's details
USER_KEYS = ("user_id", "session_name")  # who a BESSER socket says the user is (session data)


Publish = Callable[[TurnAnswered], Awaitable[None]]


@dataclass(frozen=True)
class TurnOutcome:
    """What became of a turn: answered now, answered before, early (retry later), gone (its
    session was deleted: dropped unanswered), or a repeat (a reset right after a reset: its
    greeting stands, nothing is sent or kept)."""

    kind: Literal["answered", "duplicate", "early", "gone", "repeat"]
    reply: TurnAnswered | None = None


@dataclass(frozen=True)
class Deletion:
    """The answer to a DeleteSession, and the event to announce (again, if deleted before)."""

    reply: SessionReply
    event: SessionDeleted | None


def wire_protocol(value: str) -> WireProtocol | None:
    """A stored protocol name as the contracts type it ("" for none)."""
    return cast("WireProtocol | None", value or None)


def info_of(row: SessionRow) -> SessionInfo:
    """What a session holds, as the protocols read it."""
    return SessionInfo(session_id=row.session_id, protocol=row.protocol, data=row.data)


def reply_of(row: TurnRow) -> TurnAnswered:
    """The reply stored for a turn, rebuilt with its original ids."""
    details = row.details or {}
    return TurnAnswered.model_validate(
        {
            **{key: value for key, value in details.items() if key in DETAILS},
            "event_id": row.reply_event_id,
            "occurred_at": row.answered_at,
            "correlation_id": row.correlation_id,
            "causation_id": row.turn_event_id,
            "project_key": row.project_key,
            "session_id": row.session_id,
            "turn_event_id": row.turn_event_id,
            "text": row.answer,
            "engine": row.engine,
            "content_version": row.content_version,
            "protocol": wire_protocol(row.protocol),
            "stage": row.stage,
        }
    )


def history_turn(row: TurnRow) -> HistoryTurn:
    """A transcript row as a history replay shows it."""
    details = row.details or {}
    return HistoryTurn.model_validate(
        {
            "event": details.get("event", "text"),
            "question": row.question,
            "file": details.get("file"),
            "received_at": row.received_at,
            "answer": row.answer,
            "parts": details.get("parts", []),
            "answered_at": row.answered_at,
            "engine": row.engine,
            "reply_event_id": row.reply_event_id,
        }
    )


class DialogApp:
    """Answers turns from each project's content (the chain of AIML, FAQ and NLU), with state in
    Postgres."""

    def __init__(
        self,
        *,
        content: ContentStore,
        turns: TurnStore,
        sessions: Sessions,
        projects: ProjectStore,
        reset_repeat_s: float = 3.0,
    ) -> None:
        self.reset_repeat_s = reset_repeat_s
        self.content = content
        self.turns = turns
        self.sessions = sessions
        self.projects = projects
        self.brains = Brains()
        self.files = ContentFiles(content, self.brains)
        self.fallbacks = Fallbacks(self._read_fallback)

    async def handle_turn(
        self, turn: TurnReceived, *, publish: Publish, force: bool = False
    ) -> TurnOutcome:
        """Answer `turn` unless it was answered already, an earlier turn is still pending, or
        its session was deleted.

        The answer is published before the transaction commits, while the session row is
        locked: the session's next turn, on any replica, can only be answered after this one
        is both stored and published, so replies come out in the order of the turns. A crash
        between publish and commit answers the turn again under the same reply id
        (reply_event_id), which JetStream and the gateways drop as a duplicate.
        """
        try:
            async with self.turns.unit() as unit:
                session = await unit.lock_session(
                    turn.project_key, turn.session_id, protocol=turn.protocol
                )
                previous = await unit.previous_turn(turn.event_id)
                if previous is not None:
                    return TurnOutcome("duplicate", reply_of(previous))
                early = waits_for_predecessor(
                    channel=turn.channel, seq=turn.seq, answered=session.channels
                )
                if early and not force:
                    return TurnOutcome("early")
                if await self._skip_repeated_reset(unit, session, turn):
                    return TurnOutcome("repeat")
                reply, engine_ms = await self._answer(unit, session, turn)
                if turn.protocol == "rsvp":  # no push: it hears what was said since with this
                    earlier = await unit.said_since(turn.project_key, turn.session_id)
                    reply = reply.model_copy(update={"said_before": earlier})
                row = self._row(turn, reply, engine_ms)
                if session.handoff is not None:
                    row.details = {**(row.details or {}), "operator": session.handoff}
                session.last_at = reply.occurred_at
                unit.save(session, row)
                await unit.flush()
                await publish(reply)
        except SessionGone:
            return TurnOutcome("gone")
        return TurnOutcome("answered", reply)

    async def _answer(
        self, unit: TurnUnit, session: SessionRow, turn: TurnReceived
    ) -> tuple[TurnAnswered, float]:
        """Answer from the turn's stage of the project's content; `session` takes the new
        state."""
        version = await unit.content_version(turn.project_key, turn.stage)
        brain = await self._brain(turn.project_key, version)
        started = time.perf_counter()
        if session.handoff is not None:  # an operator holds the session: the bot is silent
            said = Said("", "none", session.state)
        elif turn.event in ("start", "reset"):
            said = self._greeting(brain, session, turn)
        else:
            text, state = heard(
                text=turn.text, image=turn.image, file=turn.file, state=session.state
            )
            question = Question(
                text=text,
                lang=turn.lang,
                skill=turn.skill,
                now=turn.occurred_at,
                session_id=turn.session_id,
                image=turn.image is not None,
                event=turn.event,
                file=turn.file,
                variables=session.data,
            )
            found = await respond(brain, question, state)
            if found is None:
                fallback = await self._fallback(turn.project_key)
                found = Said(fallback, "fallback", {k: v for k, v in state.items() if k != PENDING})
            said = found
        engine_ms = (time.perf_counter() - started) * 1000
        if said.variables is not None:
            session.data = said.variables
        session.protocol = session.protocol or turn.protocol
        reply = TurnAnswered(
            **turn.caused(),
            event_id=reply_event_id(turn.event_id),
            project_key=turn.project_key,
            session_id=turn.session_id,
            turn_event_id=turn.event_id,
            text=said.text,
            engine=said.engine,
            content_version=version or None,
            protocol=wire_protocol(session.protocol),
            stage=turn.stage,
            faq=said.faq,
            intent=said.intent,
            parts=said.parts,
            **said.extras,
        )
        session.state, session.channel, session.seq = said.state, turn.channel, turn.seq
        session.channels = answered_on(session.channels, channel=turn.channel, seq=turn.seq)
        return reply, engine_ms

    async def _skip_repeated_reset(
        self, unit: TurnUnit, session: SessionRow, turn: TurnReceived
    ) -> bool:
        """True (and `session` updated) for a reset within DIALOG_RESET_REPEAT_S of the
        session's previous reset with nothing said since (a client re-sending it in a loop): it
        is taken in order, but its greeting is neither written nor sent again. The session's
        last activity moves on, so a loop stays quiet for as long as it lasts."""
        if turn.event != "reset" or session.last_at is None or self.reset_repeat_s <= 0:
            return False
        since = (turn.occurred_at - session.last_at).total_seconds()
        if since > self.reset_repeat_s:
            return False
        last = await unit.last_row(turn.project_key, turn.session_id)
        if last is None or last.kind != "turn" or (last.details or {}).get("event") != "reset":
            return False
        log.info(
            "reset %s of session %s not answered: the session was reset %.1f s before with "
            "nothing said since (DIALOG_RESET_REPEAT_S=%s); its greeting stands",
            turn.event_id,
            turn.session_id,
            max(since, 0.0),
            self.reset_repeat_s,
        )
        session.last_at = max(session.last_at, turn.occurred_at)
        session.channel, session.seq = turn.channel, turn.seq
        session.channels = answered_on(session.channels, channel=turn.channel, seq=turn.seq)
        unit.save(session, None)
        return True

    def _greeting(self, brain: Brain, session: SessionRow, turn: TurnReceived) -> Said:
        """A socket opened a new session (start) or starts it over (reset, which forgets its
        variables and state, keeping who the user is): the bot greets. A start of a session
        that has spoken already gets no greeting (engine none)."""
        if turn.event == "start" and session.channel:
            return Said("", "none", session.state)
        kept = {k: v for k, v in session.data.items() if k in USER_KEYS}
        if turn.event == "reset":
            session.data, session.state = kept, data_predicates(kept)
        given = {k: str(v) for k, v in (turn.payload or {}).items() if k in USER_KEYS}
        if given:
            session.data = {**session.data, **given}
            session.state = {**session.state, **data_predicates(given)}
        question = Question(
            text="",
            lang=turn.lang,
            skill=None,
            now=turn.occurred_at,
            session_id=turn.session_id,
            event=turn.event,
            variables=session.data,
        )
        return greet(brain, question, session.state)

    async def open_session(self, command: OpenSession) -> SessionInfo:
        """A new session (a plain UUID, as AIDA's); its data's scalars become predicates."""
        row = SessionRow(
            project_key=command.project_key,
            session_id=str(uuid4()),
            protocol=command.protocol,
            data=dict(command.data),
            state=data_predicates(command.data),
        )
        await self.sessions.create(row)
        return info_of(row)

    async def update_session(self, command: UpdateSession) -> SessionReply:
        """Merge data (and predicates) into a live session."""
        row = await self.sessions.merge(
            command.project_key,
            command.session_id,
            data=dict(command.data),
            state=data_predicates(command.data),
            create_as=command.create_as,
        )
        return info_of(row) if row else await self._unknown(command.project_key, command.session_id)

    async def history(self, query: GetHistory) -> History | SessionUnknown:
        """A live session's transcript since it last started over, oldest first."""
        rows = await self.sessions.history(
            query.project_key, query.session_id, until=query.until, limit=query.limit
        )
        if rows is None:
            return await self._unknown(query.project_key, query.session_id)
        return History(session_id=query.session_id, turns=[history_turn(row) for row in rows])

    async def get_session(self, query: GetSession) -> SessionReply:
        """What a live session holds, or why it is unknown."""
        row = await self.sessions.find(query.project_key, query.session_id)
        return info_of(row) if row else await self._unknown(query.project_key, query.session_id)

    async def delete_session(self, command: DeleteSession) -> Deletion:
        """Forget a session and its transcript for good; a deletion (even a repeated one) is
        announced under the session's one deletion event id."""
        project, session_id = command.project_key, command.session_id
        row = await self.sessions.delete(project, session_id)
        reply = info_of(row) if row else await self._unknown(project, session_id)
        if isinstance(reply, SessionUnknown) and not reply.deleted:
            return Deletion(reply, None)
        event = SessionDeleted(
            event_id=deleted_event_id(project_key=project, session_id=session_id),
            correlation_id=command.correlation_id,
            project_key=project,
            session_id=session_id,
        )
        return Deletion(reply, event)

    async def say(self, command: SayToSession) -> BotSpoke | SessionUnknown:
        """What the bot (an operator, a schedule) says first in a live session, kept in its
        transcript; shown by the session's protocol."""
        spoke = BotSpoke(
            correlation_id=command.correlation_id,
            project_key=command.project_key,
            session_id=command.session_id,
            text=command.text,
            source=command.source,
        )
        row = await self.sessions.say(said_row(spoke, operator=command.operator))
        if row is None:
            return await self._unknown(command.project_key, command.session_id)
        return spoke.model_copy(update={"protocol": wire_protocol(row.protocol)})

    async def _unknown(self, project: UUID, session_id: str) -> SessionUnknown:
        deleted = await self.sessions.deleted(project, session_id)
        return SessionUnknown(session_id=session_id, deleted=deleted)

    async def save_content(self, command: SaveBotContent) -> BotContentSaved | BotContentRejected:
        """Validate and store new AIML; the new version's brain is ready before the reply."""
        try:
            compiled = await asyncio.to_thread(compile_aiml, command.aiml)
        except InvalidAiml as err:
            return BotContentRejected(problems=err.problems)
        row = await self.content.save(command, len(compiled.categories))
        key = texts_key([AimlFile(name=SINGLE_FILE, text=command.aiml)])
        brain = await build_version(content_of(row), compiled, key=key)
        self.brains.put(command.project_key, brain)
        return saved_of(row)

    async def save_knowledge(self, command: SaveKnowledge) -> BotContentSaved:
        """Store a new FAQ, intents, chain, maps, sets and/or properties (checked by the
        contract) as the test stage."""
        row = await self.content.save_knowledge(command)
        brain = await self.files.brain(command.project_key, content_of(row))
        self.brains.put(command.project_key, brain)
        return saved_of(row)

    async def publish(self, command: PublishContent) -> ContentPublished | ContentMissing:
        """Point the release stage at a version (the newest when none is named)."""
        version = await self.content.publish(
            command.project_key, command.version, command.correlation_id
        )
        if version is None:
            named = f"version {command.version}" if command.version else "any content"
            return ContentMissing(reason=f"there is no {named} to publish")
        return ContentPublished(version=version)

    async def restore(self, command: RestoreContent) -> BotContentSaved | ContentMissing:
        """Copy an old version into a new one (the test stage)."""
        row = await self.content.restore(
            command.project_key, command.version, command.correlation_id
        )
        if row is None:
            return ContentMissing(reason=f"there is no version {command.version}")
        return saved_of(row)

    async def _brain(self, project: UUID, version: int) -> Brain:
        """The brain of one content version (built once per replica, kept while used)."""
        brain = self.brains.get(project, version)
        if brain is None:
            content = await self.content.get(project, version=version) if version else EMPTY
            brain = await self.files.brain(project, content)
            self.brains.put(project, brain)
        await self.fallbacks.warm(project)  # read before answering, not while
        return brain

    async def _fallback(self, project: UUID) -> str:
        return await self.fallbacks.get(project)

    async def _read_fallback(self, project: UUID) -> str:
        found = await self.projects.get(project)
        return found.fallback if found and found.fallback else DEFAULT_FALLBACK

    @staticmethod
    def _row(turn: TurnReceived, reply: TurnAnswered, engine_ms: float) -> TurnRow:
        return TurnRow(
            turn_event_id=turn.event_id,
            reply_event_id=reply.event_id,
            correlation_id=turn.correlation_id,
            project_key=turn.project_key,
            session_id=turn.session_id,
            protocol=reply.protocol or turn.protocol,
            question=heard(text=turn.text, image=turn.image, state={})[0],
            answer=reply.text,
            engine=reply.engine,
            content_version=reply.content_version,
            received_at=turn.occurred_at,
            answered_at=reply.occurred_at,
            engine_ms=engine_ms,
            stage=reply.stage,
            details={
                **reply.model_dump(mode="json", include=DETAILS, exclude_none=True),
                **turn.model_dump(mode="json", include={"event", "file"}, exclude_none=True),
            },
        )
