"""Every AIDA reply of a bot, to every socket on this gateway that joined it.

AIDA broadcasts a bot's messages to every client joined to `bot:<id>` and clients filter them by
session; so does this feed. Live messages come from the gateway's reply routing (bridge.py: one
wildcard subscription for every session and bot). A durable JetStream consumer per bot keeps what
was published while no socket anywhere had joined the bot: a gateway with joined sockets pulls it,
hands out what it had not already delivered live, and acks; with nobody joined the messages wait,
and the next join gets them. A message counts as delivered once any socket joined to its bot was
sent it; what the sockets of a stopping gateway had not written is replayed to the joins that take
their place (delivery.py).
"""

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from uuid import UUID

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import TypeAdapter, ValidationError

from shared import subjects
from shared.contracts import ChatReply, ChatReplyDecoded

from ...bus.bridge import Bridge
from ...bus.pulling import keep_pulling
from ...bus.reply_routing import Follow
from ...edge.metrics import TURNS

log = logging.getLogger(__name__)
Listener = Callable[[ChatReply], Awaitable[bool]]
REPLY: TypeAdapter[ChatReply] = TypeAdapter(ChatReplyDecoded)
SEEN = 4096
FETCH_BATCH = 64


def backlog_config(project: UUID, *, keep_s: float, ack_wait_s: float) -> ConsumerConfig:
    """The bot's backlog: replies from the consumer's creation on, kept `keep_s` unread."""
    return ConsumerConfig(
        durable_name=f"aida_{subjects.token(project)}",
        filter_subject=subjects.chat_project_replies(project),
        deliver_policy=DeliverPolicy.NEW,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait_s,
        max_deliver=-1,
        inactive_threshold=keep_s,
    )


class BotFeed:
    """One bot's replies on this gateway, fanned out to its listeners (sockets)."""

    def __init__(self, bridge: Bridge, project: UUID, config: ConsumerConfig, fetch_s: float):
        self._bridge = bridge
        self.project = project
        self._config = config
        self._fetch_s = fetch_s
        self.listeners: set[Listener] = set()
        self._seen: OrderedDict[UUID, None] = OrderedDict()
        self._flying: dict[UUID, asyncio.Future[bool]] = {}
        self._live: Follow | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._live = await self._bridge.follow_project(self.project, self._on_live)
        js = self._bridge.broker.connection.jetstream()
        await js.add_consumer(subjects.CHAT_STREAM, self._config)
        self._task = asyncio.create_task(self._pull(js))

    async def stop(self) -> None:
        """Stop; a pull in flight finishes and hands back (naks) what it got."""
        self.listeners.clear()
        if self._live is not None:
            with contextlib.suppress(Exception):
                await self._live.unsubscribe()

    async def _on_live(self, reply: ChatReply) -> None:
        if await self._fan_out(reply):
            TURNS.answered(reply)  # switchboard_turn_seconds{protocol="aida"}

    async def _fan_out(self, reply: ChatReply) -> bool:
        """Hand `reply` to every listener once; True when some listener took it.

        It counts as handed out only once a listener took it: a live copy that found every
        socket closing must not make the backlog ack (and so drop) the stored one. While one
        copy is being handed out, the other waits for its outcome instead of doubling it.
        """
        if reply.protocol != "aida" or reply.event_id in self._seen:
            return True
        flying = self._flying.get(reply.event_id)
        if flying is not None:
            return await asyncio.shield(flying)
        outcome = asyncio.get_running_loop().create_future()
        self._flying[reply.event_id] = outcome
        try:
            results = await asyncio.gather(*(listen(reply) for listen in list(self.listeners)))
            taken = any(results)
            if taken:
                self._seen[reply.event_id] = None
                if len(self._seen) > SEEN:
                    self._seen.popitem(last=False)
            outcome.set_result(taken)
            return taken
        finally:
            if not outcome.done():
                outcome.set_result(False)
            del self._flying[reply.event_id]

    async def _pull(self, js: JetStreamContext) -> None:
        """Take the backlog while sockets listen. A broken pull (a NATS node lost, a consumer
        leader being elected) is bound again after a backoff: what the live subscription
        missed meanwhile is still unacknowledged in the durable consumer."""
        await keep_pulling(
            lambda: self._pull_once(js),
            going=lambda: bool(self.listeners),
            again=lambda: js.add_consumer(subjects.CHAT_STREAM, self._config),
            what=f"AIDA backlog of bot {self.project}",
        )

    async def _pull_once(self, js: JetStreamContext) -> None:
        assert self._config.durable_name is not None
        feed = await js.pull_subscribe_bind(self._config.durable_name, subjects.CHAT_STREAM)
        try:
            while self.listeners:
                try:
                    msgs = await feed.fetch(FETCH_BATCH, timeout=self._fetch_s)
                except NatsTimeout:
                    continue
                for msg in msgs:
                    await self._settle(msg)
        finally:
            with contextlib.suppress(Exception):
                await feed.unsubscribe()

    async def _settle(self, msg: Msg) -> None:
        if not self.listeners:
            await msg.nak()  # every socket left while this pull was in flight: keep it
            return
        reply = self._parse(msg)
        if reply is None:
            await msg.term()
        elif await self._fan_out(reply):
            await msg.ack()
        else:
            await msg.nak(delay=1.0)

    @staticmethod
    def _parse(msg: Msg) -> ChatReply | None:
        try:
            return REPLY.validate_json(msg.data)
        except ValidationError:
            log.error("malformed reply on %s", msg.subject)
            return None


class BotFeeds:
    """The feeds of every bot some socket on this gateway joined."""

    def __init__(self, bridge: Bridge, *, keep_s: float, ack_wait_s: float, fetch_s: float):
        self._bridge = bridge
        self._keep_s = keep_s
        self._ack_wait_s = ack_wait_s
        self._fetch_s = fetch_s
        self._feeds: dict[UUID, BotFeed] = {}
        self._lock = asyncio.Lock()

    async def attach(self, project: UUID, listener: Listener) -> None:
        """Give `listener` every AIDA reply of `project` from now on (and its backlog)."""
        async with self._lock:
            feed = self._feeds.get(project)
            if feed is None:
                config = backlog_config(project, keep_s=self._keep_s, ack_wait_s=self._ack_wait_s)
                feed = BotFeed(self._bridge, project, config, self._fetch_s)
                feed.listeners.add(listener)
                try:
                    await feed.start()
                except Exception:
                    await feed.stop()  # no live subscription is left behind
                    raise
                self._feeds[project] = feed
            else:
                feed.listeners.add(listener)

    async def detach(self, project: UUID, listener: Listener) -> None:
        """Stop giving `listener` replies; the bot's feed stops with its last listener."""
        async with self._lock:
            feed = self._feeds.get(project)
            if feed is None:
                return
            feed.listeners.discard(listener)
            if not feed.listeners:
                del self._feeds[project]
                await feed.stop()
