"""The turn use case: answer a batch of turns exactly once and in order per session, the
sessions it changed and its transcript rows written back in one transaction (turns/store.py)."""

import logging
import time
from collections.abc import Sequence
from uuid import UUID

from shared.contracts import TurnAnswered, TurnReceived
from shared.contracts.knowledge import Stage

from ..content.files import ContentFiles
from ..content.port import Content
from ..content.project_cache import ProjectCache
from ..content.versions import EMPTY
from ..engines.aiml import heard
from ..engines.brain import Brain, Brains
from ..engines.chain import PENDING, Question, Said, respond, spoken
from ..engines.llm import Pending
from ..models import TurnRow
from ..sessions.application import wire_protocol
from .known import KnownSessions
from .order import answered_on, reply_event_id, waits_for_predecessor
from .outcomes import Arrived, PublishAll, TurnOutcome, gone, refuse, replies_of
from .partitions import Claim
from .records import greeting, record, reply_of
from .store import AlreadyStored, Changed, SessionKey, SessionState, TurnBatches, TurnRecord

log = logging.getLogger(__name__)


class TurnApp:
    """Answers turns from each project's content (the chain of its engines), with state in
    Postgres. A part of DialogApp (application.py), which holds what is declared here."""

    content: Content
    turns: TurnBatches
    brains: Brains
    files: ContentFiles
    cache: ProjectCache
    reset_repeat_s: float

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
            session = found.get(key) or SessionState(
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
                refuse(arrived, outcomes, refused)
                await publish(replies_of(arrived, outcomes, first))
            known.written(changed, refused, rows)
        else:
            await publish(replies_of(arrived, outcomes, first))
        return outcomes

    async def _answer_session(
        self,
        session: SessionState,
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
            row = record(turn, reply, engine_ms)
            if session.handoff is not None:
                row.details = {**(row.details or {}), "operator": session.handoff}
            session.last_at = reply.occurred_at
            rows.append(row)
            outcomes[n] = TurnOutcome("answered", reply)
        return rows

    async def _answer(
        self, version: int, session: SessionState, turn: TurnReceived
    ) -> tuple[TurnAnswered, float]:
        """Answer from content `version` (the turn's stage's); `session` takes the new state."""
        brain = await self._brain(turn.project_key, version)
        started = time.perf_counter()
        if session.handoff is not None:  # an operator holds the session: the bot is silent
            said = Said("", "none", session.state)
        elif turn.event in ("start", "reset"):
            said = greeting(brain, session, turn)
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
        self, session: SessionState, turn: TurnReceived, written: Sequence[TurnRecord]
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
