"""The gateway's bridge to NATS: publish turns, ask services, route each session's replies.

Replies reach the gateway through one wildcard subscription (`chat.reply.*.*`) and a dict from
reply subject to the sockets following that session here, rather than a subscription per
socket (~5 KiB each, and a SUB/UNSUB round with the server per connect). With several gateway
replicas every reply reaches every gateway; one followed elsewhere is dropped after a dict
lookup, undecoded (README, "Replicas and the NATS cluster": about 6 µs each).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from pydantic import BaseModel, TypeAdapter

from shared import subjects
from shared.contracts import ChatReply, ChatReplyDecoded, Event, TurnReceived
from shared.observability.messages import CORRELATION_ID, EVENT_ID, publishing
from shared.retry import Backoff

from ..edge.metrics import TURNS, deliver_reply, delivering
from .resume import Resume, stored_replies

log = logging.getLogger(__name__)
T = TypeVar("T")
REPLY: TypeAdapter[ChatReply] = TypeAdapter(ChatReplyDecoded)
Deliver = Callable[[ChatReply], Awaitable[None]]
# How long a broken pull (robot commands, an AIDA bot's backlog) waits before binding again.
RETRY = Backoff(first_s=0.25, max_s=5.0)
# After a reconnect, replies are fetched from this much before the loss was noticed (a node
# killed is noticed at once; the margin covers clocks and replies already on their way).
RECOVER_MARGIN = timedelta(seconds=5)
RECOVER_ATTEMPTS = 8


class BridgeError(Exception):
    """The broker could not take or answer a message in time."""


class Bridge:
    """Everything the protocol adapters need from NATS, and nothing else."""

    def __init__(
        self,
        broker: NatsBroker,
        *,
        request_timeout_s: float,
        partitions: int,
        stream_replicas: int = 1,
    ) -> None:
        """`partitions`: CHAT_PARTITIONS, the turn partitions every dialog replica agrees on."""
        self._broker = broker
        self._timeout = request_timeout_s
        self._js: JetStreamContext | None = None  # made once per connection (`_jetstream`)
        self._js_of: object = None
        self._following: dict[str, set[Follow]] = {}  # reply subject -> its followers here
        self._bots: dict[str, set[Follow]] = {}  # chat.reply.<project>.* -> AIDA bot feeds
        self._routing: Subscription | None = None  # chat.reply.*.*, routed by the two dicts
        self._routing_lock = asyncio.Lock()
        self._partitions = partitions
        self.resume = Resume(lambda: broker.connection.jetstream(), replicas=stream_replicas)

    @property
    def broker(self) -> NatsBroker:
        """The connected broker (robot command feeds bind their consumers through it)."""
        return self._broker

    async def publish_turn(self, turn: TurnReceived) -> None:
        """Store the turn durably in CHAT (acknowledged by JetStream) or raise BridgeError."""
        subject = subjects.chat_turn(turn.project_key, turn.session_id, partitions=self._partitions)
        await self.publish(turn, subject, subjects.CHAT_STREAM)
        TURNS.started(turn)  # switchboard_turn_seconds runs until its answer is delivered

    async def publish(
        self, event: Event, subject: str, stream: str, *, ttl_s: int | None = None
    ) -> None:
        """Store `event` durably in `stream` (its event id dedupes re-publishes) or BridgeError.

        `ttl_s` lets the stream drop this message sooner than its own max age. Published with
        nats-py itself, with the headers FastStream's publish would write (its middleware chain,
        encoder and command objects were a fifth of the gateway's CPU per turn).
        """
        headers = {
            "content-type": "application/json",
            EVENT_ID: str(event.event_id),
            CORRELATION_ID: str(event.correlation_id),
        }
        if ttl_s is not None:
            headers["Nats-TTL"] = str(ttl_s)
        try:
            with publishing(subject, headers):
                await self._jetstream().publish(
                    subject,
                    event.model_dump_json().encode(),
                    timeout=self._timeout,
                    stream=stream,
                    headers=headers,
                )
        except Exception as err:
            log.warning("%s %s not accepted by JetStream: %r", subject, event.event_id, err)
            raise BridgeError("the message could not be accepted, try again") from err

    def _jetstream(self) -> JetStreamContext:
        """The JetStream context of the broker's connection, made once (making one per publish
        was 2.5 % of the gateway's samples: a semaphore, an event and a dict each time)."""
        connection = self._broker.connection
        if self._js is None or self._js_of is not connection:
            self._js, self._js_of = connection.jetstream(), connection
        return self._js

    async def ask(
        self,
        subject: str,
        request: BaseModel,
        answer: TypeAdapter[T],
        *,
        timeout_s: float | None = None,
    ) -> T:
        """Request/reply to the service owning `subject`; BridgeError when none answers."""
        try:
            msg = await self._broker.request(request, subject, timeout=timeout_s or self._timeout)
        except Exception as err:
            log.warning("no answer on %s: %r", subject, err)
            raise BridgeError("the service did not answer, try again") from err
        return answer.validate_json(msg.body)

    async def follow_replies(self, *, project: UUID, session: str, deliver: Deliver) -> "Follow":
        """Receive the replies of one session: an entry in this gateway's routing table (one
        wildcard subscription serves every session followed here). `deliver` runs in the
        routing task, so it must only queue (connection.Socket does): it never waits on a
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


async def keep_pulling(
    pull: Callable[[], Awaitable[None]],
    *,
    going: Callable[[], bool],
    again: Callable[[], Awaitable[Any]],
    what: str,
) -> None:
    """Run `pull` while `going()`. When it breaks (a NATS node lost, a consumer leader being
    elected), wait RETRY's backoff, run `again` (make its durable consumer again, in case it
    was lost) and pull anew: the durable consumer kept what was not acknowledged."""
    failures = 0
    while going():
        try:
            await pull()
        except Exception as err:
            failures += 1
            wait = RETRY.delay(failures)
            log.warning("%s interrupted, again in %.1f s: %r", what, wait, err)
            await asyncio.sleep(wait)
            with contextlib.suppress(Exception):
                await again()


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


class ConnectionWatch:
    """When the gateway's NATS connection went, and what to run once it is back.

    nats-py reconnects on its own (to another node of a cluster), but core NATS messages
    published while it was away are gone for it: the listeners (Bridge.recover) fetch them
    from the stream. They run as tasks, so nats-py's reconnect is not held up."""

    def __init__(self) -> None:
        self.lost_at: datetime | None = None
        self._listeners: list[Callable[[datetime], Coroutine[Any, Any, Any]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def on_reconnected(self, listener: Callable[[datetime], Coroutine[Any, Any, Any]]) -> None:
        self._listeners.append(listener)

    async def disconnected(self) -> None:
        if self.lost_at is None:  # the first of several tries counts (and a normal close
            self.lost_at = datetime.now(UTC)  # comes here too: said only once it is back)

    async def reconnected(self) -> None:
        lost_at, self.lost_at = self.lost_at or datetime.now(UTC), None
        log.warning(
            "NATS connection back after %.1f s", (datetime.now(UTC) - lost_at).total_seconds()
        )
        for listener in self._listeners:
            task = asyncio.create_task(listener(lost_at))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
