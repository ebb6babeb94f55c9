"""Each session's replies to the sockets following it here, through one wildcard subscription.

Replies reach the gateway through one wildcard subscription (`chat.reply.*.*`) and a dict from
reply subject to the sockets following that session here, rather than a subscription per
socket (~5 KiB each, and a SUB/UNSUB round with the server per connect). With several gateway
replicas every reply reaches every gateway; one followed elsewhere is dropped after a dict
lookup, undecoded (README, "Replicas and the NATS cluster": about 6 µs each). After a lost
connection, what was published meanwhile is handed over again from the CHAT stream.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import TypeAdapter

from shared import subjects
from shared.contracts import ChatReply, ChatReplyDecoded
from shared.observability.messages import receiving

from ..edge.metrics import TURNS
from .pulling import RETRY
from .resume import stored_replies

log = logging.getLogger(__name__)
REPLY: TypeAdapter[ChatReply] = TypeAdapter(ChatReplyDecoded)
Deliver = Callable[[ChatReply], Awaitable[None]]
# After a reconnect, replies are fetched from this much before the loss was noticed (a node
# killed is noticed at once; the margin covers clocks and replies already on their way).
RECOVER_MARGIN = timedelta(seconds=5)
RECOVER_ATTEMPTS = 8


class ReplyRouting:
    """The reply side of the Bridge (bridge.py): who follows which session's replies here."""

    _broker: NatsBroker

    def __init__(self) -> None:
        self._following: dict[str, set[Follow]] = {}  # reply subject -> its followers here
        self._bots: dict[str, set[Follow]] = {}  # chat.reply.<project>.* -> AIDA bot feeds
        self._routing: Subscription | None = None  # chat.reply.*.*, routed by the two dicts
        self._routing_lock = asyncio.Lock()

    async def follow_replies(self, *, project: UUID, session: str, deliver: Deliver) -> "Follow":
        """Receive the replies of one session: an entry in this gateway's routing table (one
        wildcard subscription serves every session followed here). `deliver` runs in the
        routing task, so it must only queue (a Socket does): it never waits on a
        client's network."""
        await self._route()
        subject = subjects.chat_reply(project=project, session=session)
        follow = Follow(subject, deliver)
        self._following.setdefault(subject, set()).add(follow)
        follow.on_end(lambda: _drop(self._following, follow))
        return follow

    async def follow_project(self, project: UUID, deliver: Deliver) -> "Follow":
        """Receive every reply of every session of `project` (an AIDA bot's live feed; its
        backlog consumer, not `recover`, covers what a reconnect missed). `deliver` observes
        its turns' latency itself, and must only queue, like `follow_replies`'s."""
        await self._route()
        follow = Follow(subjects.chat_project_replies(project), deliver)
        self._bots.setdefault(follow.subject, set()).add(follow)
        follow.on_end(lambda: _drop(self._bots, follow))
        return follow

    async def _route(self) -> None:
        """Subscribe to every session's replies once (nats-py subscribes again after a
        reconnect; the replies published meanwhile are fetched by `recover`)."""
        if self._routing is not None:
            return
        async with self._routing_lock:
            if self._routing is None:
                routing = await self._broker.connection.subscribe(
                    subjects.CHAT_REPLY_ALL, cb=self._on_reply
                )
                # The server has the interest once flushed: a reply another connection
                # publishes right after the first socket follows its session is not missed.
                await self._broker.connection.flush()
                self._routing = routing

    async def _on_reply(self, msg: Msg) -> None:
        """Hand a reply to the followers of its session here (every gateway receives every
        reply: one not followed here costs a dict miss, it is not even decoded)."""
        followers = self._following.get(msg.subject)
        bots = self._bots.get(msg.subject.rpartition(".")[0] + ".*") if self._bots else None
        if not followers and not bots:
            return
        try:
            reply = REPLY.validate_json(msg.data)
        except ValueError:
            log.error("malformed reply on %s", msg.subject)
            return
        for follow in list(followers or ()):
            try:
                await deliver_reply(reply, follow.deliver, subject=msg.subject, headers=msg.headers)
            except Exception as err:  # one socket's trouble is not everyone's
                log.warning("reply %s not delivered to a follower: %r", reply.event_id, err)
        for follow in list(bots or ()):
            try:
                with delivering(msg.subject, msg.headers):
                    await follow.deliver(reply)
            except Exception as err:
                log.warning("reply %s not delivered to a bot feed: %r", reply.event_id, err)

    async def recover(self, lost_at: datetime) -> int:
        """The NATS connection is back after being lost at `lost_at`: replies published
        meanwhile reached no socket of this replica (interest is core NATS), so hand each
        follower those stored on its subject since then (less RECOVER_MARGIN). Followers
        deduplicate by event id. Tried again with a backoff while JetStream is not answering
        (a cluster electing leaders); returns how many replies were handed over."""
        since = lost_at - RECOVER_MARGIN
        for attempt in range(1, RECOVER_ATTEMPTS + 1):
            if not self._following:
                return 0
            try:
                return await self._hand_over(since)
            except Exception as err:
                wait = RETRY.delay(attempt)
                log.warning(
                    "replies since %s not recovered yet (%r), again in %.1f s",
                    since.isoformat(),
                    err,
                    wait,
                )
                await asyncio.sleep(wait)
        log.error("replies published since %s were not recovered", since.isoformat())
        return 0

    async def _hand_over(self, since: datetime) -> int:
        js = self._broker.connection.jetstream()
        handed = 0
        async for msg, reply in stored_replies(js, subjects.CHAT_REPLY_ALL, since=since):
            for follow in list(self._following.get(msg.subject, ())):
                try:
                    await deliver_reply(
                        reply, follow.deliver, subject=msg.subject, headers=msg.headers
                    )
                except Exception as err:  # one socket's trouble is not everyone's
                    log.warning("reply %s not handed over again: %r", reply.event_id, err)
                    continue
                handed += 1
        log.info(
            "replies since %s handed over again after a reconnect: %d", since.isoformat(), handed
        )
        return handed


def _drop(table: dict[str, set["Follow"]], follow: "Follow") -> None:
    followers = table.get(follow.subject)
    if followers is not None:
        followers.discard(follow)
        if not followers:
            del table[follow.subject]


class Follow:
    """Interest in one session's replies on this replica (until `unsubscribe`)."""

    def __init__(self, subject: str, deliver: Deliver) -> None:
        self.subject = subject
        self.deliver = deliver
        self._ended: list[Callable[[], None]] = []

    def on_end(self, callback: Callable[[], None]) -> None:
        self._ended.append(callback)

    async def unsubscribe(self) -> None:
        ended, self._ended = self._ended, []
        for callback in ended:
            callback()


def delivering(subject: str, headers: Mapping[str, Any] | None) -> AbstractContextManager[None]:
    """While a reply is delivered to its socket: its ids bound for logging, in the trace its
    headers carry (a span of it when spans are exported)."""
    return receiving(subject, headers, hop="deliver")


async def deliver_reply(
    reply: ChatReply,
    deliver: Callable[[ChatReply], Awaitable[None]],
    *,
    subject: str,
    headers: Mapping[str, Any] | None,
) -> None:
    """Deliver `reply` inside its trace, then observe its turn's latency."""
    with delivering(subject, headers):
        log.debug("delivering reply %s", reply.event_id)
        await deliver(reply)
    TURNS.answered(reply)
