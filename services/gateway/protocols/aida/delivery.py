"""One AIDA join's copy of its bot's messages: each once, in order, resumed across replicas.

AIDA sends every message of a bot to every socket joined to it and clients filter by session,
so what a stopping gateway owes a socket is every message of the bot it had not yet written.
When the gateway stops, each joined socket leaves a mark under the bot's key (resume.py). The
next join of that bot, on any replica, claims one of them and is sent the bot's AIDA messages
stored since, minus those its predecessor had written; live ones wait behind that replay.

A client cannot say which socket it was, so any join of the bot may claim a mark: a client that
joins for the first time while others reconnect could take one meant for them. A join whose
first event is `new_session` (a new client, not one coming back to its session) hands its mark
back for the next join.
"""

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID

from shared import subjects
from shared.contracts import ChatReply

from ...bus.resume import WINDOW_S, Mark, Resume, bot_key, mark_for

log = logging.getLogger(__name__)
KEEP_SEEN_S = WINDOW_S + 5.0  # a mark needs only the ids written within its window
MAX_SEEN = 20_000
Push = Callable[[ChatReply], Awaitable[bool]]


class BotDelivery:
    """Writes one join's bot messages through `push` once each, replay first, live after."""

    def __init__(self, push: Push) -> None:
        self._push = push
        self.joined_at = datetime.now(UTC)
        self._seen: OrderedDict[UUID, float] = OrderedDict()
        self._waiting: list[ChatReply] | None = []  # held behind the replay; None once live
        self.suspended = False
        self.claimed: Mark | None = None

    async def offer(self, reply: ChatReply) -> bool:
        """A live or backlog message of the bot (the feed's listener): True once taken."""
        if self.suspended:
            return False  # the gateway is stopping: the backlog keeps it for another replica
        if reply.event_id in self._seen:
            return True
        if self._waiting is not None:
            self._waiting.append(reply)
            return True
        return await self._write(reply)

    async def resume(self, ledger: Resume, project: UUID) -> int:
        """Claim a mark a stopped gateway left for this bot and replay what it owed; then go
        live. Returns how many messages were replayed (best effort: the join works anyway)."""
        replayed = 0
        try:
            self.claimed = await ledger.claim(bot_key(project))
            if self.claimed is not None:
                subject = subjects.chat_project_replies(project)
                replayed = await ledger.replay_subject(
                    subject, mark=self.claimed, deliver=self._replayed
                )
                log.info("AIDA join of bot %s resumed: %d messages replayed", project, replayed)
        except Exception as err:
            log.warning("AIDA join of bot %s not resumed: %r", project, err)
        finally:  # what came live meanwhile, in order (it may still grow while we send)
            waiting = self._waiting or []
            while waiting:
                await self._write(waiting.pop(0))
            self._waiting = None
        return replayed

    def mark(self, stopped_at: datetime) -> Mark:
        """Stop writing (the gateway is stopping) and say where this join stopped."""
        self.suspended = True
        return mark_for(
            followed_at=self.joined_at, stopped_at=stopped_at, delivered=list(self._seen)
        )

    async def _replayed(self, reply: ChatReply) -> None:
        if reply.protocol == "aida":
            await self._write(reply)

    async def _write(self, reply: ChatReply) -> bool:
        if self.suspended:
            return False
        if reply.event_id in self._seen:
            return True
        if not await self._push(reply):
            return False
        now = time.monotonic()
        self._seen[reply.event_id] = now
        while self._seen and (
            len(self._seen) > MAX_SEEN or next(iter(self._seen.values())) < now - KEEP_SEEN_S
        ):
            self._seen.popitem(last=False)
        return True
