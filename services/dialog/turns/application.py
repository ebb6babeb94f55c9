"""The dialog use cases: answer a turn exactly once and in order, save bot content, keep the
sessions the protocols open and delete, and let the bot speak first."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
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
from shared.contracts.knowledge import Stage
from shared.contracts.session import GetHistory, History, HistoryTurn
from shared.identity import DEFAULT_FALLBACK, ProjectStore

from ..content.files import ContentFiles, build_version, saved_of, texts_key
from ..content.project_cache import ProjectCache
from ..content.store import EMPTY, SINGLE_FILE, ContentStore, content_of
from ..conversations.application import said_row
from ..engines.aiml import InvalidAiml, compile_aiml, data_predicates, heard
from ..engines.brain import Brain, Brains
from ..engines.chain import PENDING, Question, Said, greet, respond, spoken
from ..engines.llm import Pending
from ..models import SessionRow, TurnRow
from ..sessions.application import deleted_event_id
from ..sessions.store import Sessions
from .order import answered_on, reply_event_id, waits_for_predecessor
from .partitions import Claim
from .store import (
    AlreadyStored,
    Changed,
    KnownSessions,
    SessionKey,
    TurnBatches,
    TurnRecord,
)

log = logging.getLogger(__name__)
DETAILS = {"faq", "intent", "url", "image", "action", "parts", "said_before"}  # a row's details
USER_KEYS = ("user_id", "session_name")  # who a BESSER socket says the user is (session data)


PublishAll = Callable[[list[TurnAnswered]], Awaitable[None]]


@dataclass(frozen=True)
class Arrived:
    """A turn as a batch holds it; `force`: answer it even if an earlier one is missing (it
    has waited long enough); `again`: it was delivered before, so it may be stored already
    (looked up before it is answered)."""

    turn: TurnReceived
    force: bool = False
    again: bool = False


@dataclass(frozen=True)
class TurnOutcome:
    """What became of a turn: answered now, answered before, early (retry later), gone (its
    session was deleted: dropped unanswered, but a `start` is answered with the refusal),
    refused (its session changed while it was answered: answer it again), or a repeat (a reset
    right after a reset: its greeting stands, nothing is sent or kept)."""

    kind: Literal["answered", "duplicate", "early", "gone", "refused", "repeat"]
    reply: TurnAnswered | None = None


def _refuse(
    arrived: Sequence[Arrived], outcomes: list[TurnOutcome], refused: set[SessionKey]
) -> None:
    """The turns answered (or skipped as repeated resets) in sessions whose write was refused
    are to be taken again."""
    if not refused:
        return
    for n, a in enumerate(arrived):
        kind = outcomes[n].kind
        if kind in ("answered", "repeat") and (a.turn.project_key, a.turn.session_id) in refused:
            outcomes[n] = TurnOutcome("refused")


def _replies(
    arrived: Sequence[Arrived], outcomes: list[TurnOutcome], first: dict[UUID, int]
) -> list[TurnAnswered]:
    """The replies to publish, in the order of the turns; a turn that came twice in the batch
    takes the outcome of its first copy (a duplicate once that was answered)."""
    replies: list[TurnAnswered] = []
    for n, a in enumerate(arrived):
        was = first.get(a.turn.event_id, n)
        if was != n:
            earlier = outcomes[was]
            kind = "duplicate" if earlier.kind == "answered" else earlier.kind
            outcomes[n] = TurnOutcome(kind, earlier.reply)
            continue
        reply = outcomes[n].reply
        if reply is not None:
            replies.append(reply)
    return replies


def gone(turn: TurnReceived) -> TurnOutcome:
    """A turn of a deleted session is dropped unanswered; its `start` (a socket connecting to
    the session by name) is answered with the refusal, which closes that socket."""
    if turn.event != "start":
        return TurnOutcome("gone")
    refusal = TurnAnswered(
        **turn.caused(),
        event_id=reply_event_id(turn.event_id),
        project_key=turn.project_key,
        session_id=turn.session_id,
        turn_event_id=turn.event_id,
        text="",
        engine="none",
        protocol=turn.protocol,
        stage=turn.stage,
        refused="session_deleted",
    )
    return TurnOutcome("gone", refusal)


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
        turns: TurnBatches,
        sessions: Sessions,
        projects: ProjectStore,
        reset_repeat_s: float = 3.0,
        cache_s: float = 60.0,
    ) -> None:
        self.reset_repeat_s = reset_repeat_s
        self.content = content
        self.turns = turns
        self.sessions = sessions
        self.projects = projects
        self.brains = Brains()
        self.files = ContentFiles(content, self.brains)
        self.cache = ProjectCache(
            version=turns.content_version, fallback=self._read_fallback, keep_s=cache_s
        )

    async def answer_turns(
        self,
        arrived: Sequence[Arrived],
        *,
        publish: PublishAll,
        claim: Claim | None = None,
        known: KnownSessions | None = None,
    ) -> list[TurnOutcome]:
        """Answer a batch of turns (in stream order) in order per session, and write them in one
        transaction; the outcomes line up with `arrived`.

        A turn answered before is a duplicate (its stored reply goes out again): a turn
        delivered again is looked up first, and the write of a batch that answered a stored
        turn anew (the same turn published twice) is undone and the batch answered again with
        every turn looked up. An earlier turn of its connection still unanswered makes it early
        (unless forced); a deleted session's turns are gone. Each session is written back only
        if no one changed it since it was read (the fence): otherwise its turns are refused and
        answered again later. The replies
        are published before the transaction commits, while it holds the rows it changed: a
        session's next turn, on any replica, is answered from this one's state, and its reply
        follows this one's. A crash between publish and commit answers the turn again under
        the same reply id (reply_event_id), which JetStream and the gateways drop.

        With `claim` (this replica owns the turns' partition) the write is refused as a whole
        once another replica took the partition over; `known` holds the sessions as this owner
        last wrote them, so they are not read again.
        """
        kept = known or KnownSessions(0)
        try:
            try:
                return await self._answer_batch(arrived, publish, claim, kept)
            except AlreadyStored as err:
                log.info("%s: answering its %d turns again, looked up", err, len(arrived))
                kept.forget()  # it answered turns on sessions that are not written
                return await self._answer_batch(arrived, publish, claim, kept, look_up=True)
        except BaseException:
            kept.forget()
            raise

    async def _answer_batch(
        self,
        arrived: Sequence[Arrived],
        publish: PublishAll,
        claim: Claim | None,
        known: KnownSessions,
        look_up: bool = False,
    ) -> list[TurnOutcome]:
        outcomes: list[TurnOutcome] = [TurnOutcome("early")] * len(arrived)
        maybe = [a.turn.event_id for a in arrived if look_up or a.again]
        stored = await self.turns.stored(maybe) if maybe else {}
        first: dict[UUID, int] = {}  # where a turn that came twice in one batch came first
        fresh: dict[SessionKey, list[int]] = {}
        for n, a in enumerate(arrived):
            row = stored.get(a.turn.event_id)
            if row is not None:
                outcomes[n] = TurnOutcome("duplicate", reply_of(row))
            elif a.turn.event_id not in first:
                first[a.turn.event_id] = n
                fresh.setdefault((a.turn.project_key, a.turn.session_id), []).append(n)
        found = await known.read(self.turns, list(fresh)) if fresh else {}
        changed: list[Changed] = []
        rows: list[TurnRecord] = []
        versions: dict[tuple[UUID, Stage], int] = {}
        for key, indexes in fresh.items():
            if key in found and found[key] is None:
                for n in indexes:
                    outcomes[n] = gone(arrived[n].turn)
                continue
            session = found.get(key) or SessionRow(
                project_key=key[0], session_id=key[1], protocol=arrived[indexes[0]].turn.protocol
            )
            read = session.version if key in found else None
            answered = await self._answer_session(
                session, arrived, indexes, versions, outcomes, quiet=known.quiet(key)
            )
            if answered or any(outcomes[n].kind == "repeat" for n in indexes):
                rows.extend(answered)
                changed.append(Changed(session, read))
        if changed:
            async with self.turns.write(claim) as write:
                refused = await write.save(changed, rows)
                _refuse(arrived, outcomes, refused)
                await publish(_replies(arrived, outcomes, first))
            known.written(changed, refused, rows)
        else:
            await publish(_replies(arrived, outcomes, first))
        return outcomes

    async def _answer_session(
        self,
        session: SessionRow,
        arrived: Sequence[Arrived],
        indexes: list[int],
        versions: dict[tuple[UUID, Stage], int],
        outcomes: list[TurnOutcome],
        *,
        quiet: bool = False,
    ) -> list[TurnRecord]:
        """Answer one session's turns of a batch in order (`session` takes the new state);
        the transcript rows of those answered. `quiet`: nothing was said in the session since
        its newest turn (RSVP's said_before is then empty, not looked up)."""
        rows: list[TurnRecord] = []
        said_asked = quiet
        ticked: list[str] = []  # what the machine's clock said in this batch, not written yet
        for n in indexes:
            turn = arrived[n].turn
            early = waits_for_predecessor(
                channel=turn.channel, seq=turn.seq, answered=session.channels
            )
            if early and not arrived[n].force:
                continue  # outcome stays early
            if await self._skip_repeated_reset(session, turn, rows):
                outcomes[n] = TurnOutcome("repeat")
                continue
            stage = (turn.project_key, turn.stage)
            if stage not in versions:
                versions[stage] = await self.cache.version(*stage)
            try:
                reply, engine_ms = await self._answer(versions[stage], session, turn)
            except Pending:  # a model writes its answer: asked again later (see llm.py)
                continue
            if turn.event == "tick":  # said unasked: an RSVP user hears it with their next turn
                if reply.engine != "none":
                    ticked.append(reply.text)
            elif turn.protocol == "rsvp":  # no push: it hears what was said since with this
                earlier = (
                    []
                    if said_asked
                    else (await self.turns.said_since(turn.project_key, turn.session_id))
                )
                said_asked = True
                reply = reply.model_copy(update={"said_before": [*earlier, *ticked]})
                ticked = []
            row = self._record(turn, reply, engine_ms)
            if session.handoff is not None:
                row.details = {**(row.details or {}), "operator": session.handoff}
            session.last_at = reply.occurred_at
            rows.append(row)
            outcomes[n] = TurnOutcome("answered", reply)
        return rows

    async def _answer(
        self, version: int, session: SessionRow, turn: TurnReceived
    ) -> tuple[TurnAnswered, float]:
        """Answer from content `version` (the turn's stage's); `session` takes the new state."""
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
                payload=turn.payload,
                stage=turn.stage,
            )
            found = await respond(brain, question, state)
            if found is None:
                fallback = await self._fallback(turn.project_key)
                found = Said(fallback, "fallback", {k: v for k, v in state.items() if k != PENDING})
            said = found
        said = spoken(brain, said)
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
        self, session: SessionRow, turn: TurnReceived, written: Sequence[TurnRecord]
    ) -> bool:
        """True (and `session` updated) for a reset within DIALOG_RESET_REPEAT_S of the
        session's previous reset with nothing said since (a client re-sending it in a loop): it
        is taken in order, but its greeting is neither written nor sent again. The session's
        last activity moves on, so a loop stays quiet for as long as it lasts. `written`: the
        session's rows this batch answered so far (the newest row, when there are any)."""
        if turn.event != "reset" or session.last_at is None or self.reset_repeat_s <= 0:
            return False
        since = (turn.occurred_at - session.last_at).total_seconds()
        if since > self.reset_repeat_s:
            return False
        last: TurnRecord | TurnRow | None = (
            written[-1] if written else await self.turns.last_row(turn.project_key, turn.session_id)
        )
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
        return True

    def _greeting(self, brain: Brain, session: SessionRow, turn: TurnReceived) -> Said:
        """A socket opened a new session (start) or starts it over (reset, which forgets its
        variables and state, keeping who the user is): the bot greets. A start of a session
        that has spoken already gets no greeting (engine none). Who the user is (a BESSER
        socket's user_id and session_name, in the start turn) is kept either way."""
        if turn.event == "reset":
            kept = {k: v for k, v in session.data.items() if k in USER_KEYS}
            session.data, session.state = kept, data_predicates(kept)
        given = {k: str(v) for k, v in (turn.payload or {}).items() if k in USER_KEYS}
        if given:
            session.data = {**session.data, **given}
            session.state = {**session.state, **data_predicates(given)}
        if turn.event == "start" and session.channel:
            return Said("", "none", session.state)
        question = Question(
            text="",
            lang=turn.lang,
            skill=None,
            now=turn.occurred_at,
            session_id=turn.session_id,
            event=turn.event,
            variables=session.data,
            stage=turn.stage,
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
        await self.cache.fallback(project)  # read before answering, not while
        return brain

    async def _fallback(self, project: UUID) -> str:
        return await self.cache.fallback(project)

    async def _read_fallback(self, project: UUID) -> str:
        found = await self.projects.get(project)
        return found.fallback if found and found.fallback else DEFAULT_FALLBACK

    @staticmethod
    def _row(turn: TurnReceived, reply: TurnAnswered, engine_ms: float) -> TurnRow:
        return DialogApp._record(turn, reply, engine_ms).as_row()

    @staticmethod
    def _record(turn: TurnReceived, reply: TurnAnswered, engine_ms: float) -> TurnRecord:
        return TurnRecord(
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
