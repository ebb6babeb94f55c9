"""RSVP.ai answers that came after the caller stopped waiting, handed over with its next answer.

RSVP.ai's chat API answers in the HTTP response. A turn the bot answers after
GATEWAY_RSVP_WAIT_S (a dialog replica died holding it and it was redelivered, the machine is
overloaded) was told 504 "try again", yet JetStream had accepted it and the bot answered and
kept it. The gateway notes such a turn under its session in the `resume` bucket; the session's
next request, on any replica, gets those late answers first in its `stage`, as it gets what an
operator said in between, so what the bot said is never lost to the caller.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from shared import subjects
from shared.contracts import ChatReply, TurnAnswered

from .resume import Mark, Resume

log = logging.getLogger(__name__)
PREFIX = "rsvp."
KEEP = timedelta(minutes=10)  # a caller who comes back later than this starts afresh
SLACK = timedelta(seconds=1)  # replay from a little before the turn: clocks of two hosts


def key(*, project: UUID, session: str) -> str:
    return f"{PREFIX}{subjects.token(project)}.{subjects.token(session)}"


class LateAnswers:
    """The turns of RSVP sessions that were told 504, and their answers once they exist."""

    def __init__(self, resume: Resume) -> None:
        self._resume = resume

    async def owe(self, *, project: UUID, session: str, turn: UUID, at: datetime) -> None:
        """Note that `turn` (accepted at `at`) was not answered to its caller in time."""
        owed = {"turn": str(turn), "at": at.astimezone(UTC).isoformat()}
        for attempt, pause in enumerate((0.5, 1.0, 2.0, None)):
            try:
                await self._resume.change_list(
                    key(project=project, session=session), lambda o: [*o, owed]
                )
                return
            except Exception as err:  # the bucket's stream electing a leader (a node lost)
                if pause is None:  # best effort: the caller was told to try again
                    log.warning("late turn %s of %s not noted: %r", turn, session, err)
                    return
                log.info("late turn %s not noted yet (%d): %r", turn, attempt + 1, err)
                await asyncio.sleep(pause)

    async def collect(self, *, project: UUID, session: str) -> list[TurnAnswered]:
        """The answers that now exist to the session's noted turns, in the order they were
        said; those are no longer owed (turns still unanswered stay noted)."""
        name = key(project=project, session=session)
        try:
            owed = _fresh(await self._resume.change_list(name, _fresh))
            if not owed:
                return []
            found = await self._found(project, session, owed)
            if found:
                done = {str(a.turn_event_id) for a in found}
                await self._resume.change_list(
                    name, lambda o: [e for e in o if e["turn"] not in done]
                )
            return found
        except Exception as err:  # best effort: this request's own answer still goes out
            log.warning("late answers of %s not collected: %r", session, err)
            return []

    async def _found(
        self, project: UUID, session: str, owed: list[dict[str, Any]]
    ) -> list[TurnAnswered]:
        turns = {UUID(e["turn"]) for e in owed}
        since = min(datetime.fromisoformat(e["at"]) for e in owed) - SLACK
        found: list[TurnAnswered] = []

        async def keep(reply: ChatReply) -> None:
            if isinstance(reply, TurnAnswered) and reply.turn_event_id in turns:
                turns.discard(reply.turn_event_id)  # a redelivered turn answered twice: once
                found.append(reply)

        mark = Mark(since=since, delivered=frozenset())
        subject = subjects.chat_reply(project=project, session=session)
        await self._resume.replay_subject(subject, mark=mark, deliver=keep)
        return found


def _fresh(owed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`owed` without entries older than KEEP or unreadable."""
    now = datetime.now(UTC)
    kept = []
    for entry in owed:
        try:
            if now - datetime.fromisoformat(entry["at"]) < KEEP:
                kept.append(entry)
        except (KeyError, TypeError, ValueError):
            continue
    return kept
