"""Replies that a stopping gateway could not deliver, handed to the replica a client comes back to.

A gateway that is told to stop (SIGTERM) closes its sockets with each protocol's "reconnect"
code. Before it does, it stops writing replies and leaves, for every session it held, a resume
mark in the JetStream key-value bucket `resume`: the time from which its delivery is no longer
certain and the ids of the replies it did deliver since then. Whichever replica the client
reconnects to reads the mark when it takes interest in that session again and replays, in
order, the session's replies the CHAT stream holds from that time on, minus those ids. Live
replies arriving meanwhile wait behind the replay, so the client sees every reply once and in
order.

AIDA sends every message of a bot to every socket joined to it, and a client says nothing of
who it is when it rejoins, so its marks are per bot: one per socket that was joined, stored
together under the bot's key. Each join of that bot, on any replica, claims one and replays the
bot's messages its predecessor had not written (phoenix/delivery.py).

Why a time and ids rather than a stream position: the gateway receives replies over core NATS
(interest routing, no per-session consumer), which carries no stream sequence. The window
bounds how long a reply may sit undelivered in a healthy gateway and still be replayed.
"""

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType
from nats.js.errors import (
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NotFoundError,
)
from nats.js.kv import KeyValue
from pydantic import TypeAdapter, ValidationError

from shared import subjects
from shared.contracts import ChatReply, ChatReplyDecoded

from ..edge.errors import GatewayError

log = logging.getLogger(__name__)
REPLY: TypeAdapter[ChatReply] = TypeAdapter(ChatReplyDecoded)
BUCKET = "resume"
WINDOW_S = 30.0  # a healthy gateway writes a reply well within this after JetStream stored it
KEEP_S = 3600.0  # a client that comes back later than this starts afresh
FETCH_BATCH = 256
BOT_PREFIX = "aida."
CAS_TRIES = 20  # concurrent claims of one bot's marks retry on a changed revision


@dataclass(frozen=True)
class Mark:
    """Where delivery of one session stopped: replay from `since`, skipping `delivered`."""

    since: datetime
    delivered: frozenset[UUID]

    def body(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "delivered": sorted(map(str, self.delivered))}

    def dump(self) -> bytes:
        return json.dumps(self.body()).encode()

    @classmethod
    def load(cls, raw: bytes) -> "Mark":
        return cls.parse(json.loads(raw))

    @classmethod
    def parse(cls, body: dict[str, Any]) -> "Mark":
        return cls(
            since=datetime.fromisoformat(body["since"]),
            delivered=frozenset(UUID(e) for e in body["delivered"]),
        )


class Stopping(GatewayError):
    """This gateway is stopping: a socket opened now is told to try another replica (1013)
    rather than taking, and then losing, its session's mark."""


class Holder(Protocol):
    """What a socket's conversations tell the resume ledger when the gateway stops."""

    def suspend(self) -> Iterable[tuple[str, Mark]]:
        """Stop delivering; the (key, mark) of every session held."""
        ...


def key(*, project: UUID, session: str) -> str:
    """The bucket key of one session (both parts are subject tokens, valid in keys)."""
    return f"{subjects.token(project)}.{subjects.token(session)}"


def _readable(name: str, raw: bytes) -> list[Any]:
    try:
        found = json.loads(raw)
    except ValueError as err:  # written by a newer or broken gateway
        log.warning("unreadable resume entry %s: %r", name, err)
        return []
    return found if isinstance(found, list) else []


def bot_key(project: UUID) -> str:
    """The bucket key under which a bot's AIDA sockets leave their marks."""
    return f"{BOT_PREFIX}{subjects.token(project)}"


def mark_for(*, followed_at: datetime, stopped_at: datetime, delivered: Iterable[UUID]) -> Mark:
    """The mark of a session followed since `followed_at` whose delivery stopped now."""
    since = max(followed_at, stopped_at - timedelta(seconds=WINDOW_S))
    return Mark(since=since, delivered=frozenset(delivered))


class Resume:
    """The gateway's side of resuming sessions across replicas (one per gateway process)."""

    def __init__(self, js: Callable[[], JetStreamContext], *, replicas: int = 1) -> None:
        self._js = js
        self._replicas = replicas
        self._kv: KeyValue | None = None
        self._holders: set[Holder] = set()
        self._stopping = False

    def hold(self, holder: Holder) -> None:
        """Count `holder` among the sockets that leave marks (Stopping once marks were left:
        a client reconnecting to a port that still listens must go elsewhere)."""
        if self._stopping:
            raise Stopping("this gateway is stopping; connect to another")
        self._holders.add(holder)

    def release(self, holder: Holder) -> None:
        self._holders.discard(holder)

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            js = self._js()
            try:
                self._kv = await js.key_value(BUCKET)
            except BucketNotFoundError:
                config = KeyValueConfig(
                    bucket=BUCKET,
                    description="Where stopped gateways left off delivering each session",
                    ttl=KEEP_S,
                    storage=StorageType.FILE,
                    replicas=self._replicas,
                )
                self._kv = await js.create_key_value(config)
        return self._kv

    async def suspend_all(self) -> int:
        """Stop every socket's reply delivery and leave a mark per session (before the sockets
        close, so a client cannot reconnect before its mark exists). Returns the marks left."""
        self._stopping = True
        holders, self._holders = self._holders, set()
        marks = [mark for holder in holders for mark in holder.suspend()]
        if not marks:
            return 0
        kv = await self._bucket()
        bots: dict[str, list[Mark]] = {}
        for name, mark in marks:
            if name.startswith(BOT_PREFIX):
                bots.setdefault(name, []).append(mark)
                continue
            try:
                await kv.put(name, mark.dump())
            except Exception as err:  # stopping anyway; that session's client starts afresh
                log.warning("resume mark for %s not kept: %r", name, err)
        for name, left in bots.items():
            try:
                await self.give_back(name, left)
            except Exception as err:
                log.warning("resume marks for %s not kept: %r", name, err)
        return len(marks)

    async def change_list(self, name: str, change: Callable[[list[Any]], list[Any]]) -> list[Any]:
        """Replace the JSON list stored under `name` by `change(it)` (compare-and-set, so
        replicas changing it at once do not overwrite each other); returns the list before."""
        kv = await self._bucket()
        for _ in range(CAS_TRIES):
            try:
                entry = await kv.get(name)
            except (KeyNotFoundError, NotFoundError):
                entry = None
            old = _readable(name, entry.value) if entry is not None and entry.value else []
            new = change(old)
            if new == old:
                return old
            try:  # an emptied list stays until the bucket's TTL (a delete cannot be conditional)
                if entry is None or entry.value is None:
                    await kv.create(name, json.dumps(new).encode())
                else:
                    await kv.update(name, json.dumps(new).encode(), last=entry.revision)
                return old
            except KeyWrongLastSequenceError:
                continue  # another replica changed it meanwhile: read again
        raise RuntimeError(f"resume entry {name} kept changing")

    async def give_back(self, name: str, marks: list[Mark]) -> None:
        """Add `marks` to those stored under a bot's key (for its next joins to claim)."""
        await self.change_list(name, lambda old: old + [m.body() for m in marks])

    async def claim(self, name: str) -> Mark | None:
        """One of the marks stored under a bot's key, removed from them (None when none)."""
        old = await self.change_list(name, lambda marks: marks[1:])
        try:
            return Mark.parse(old[0]) if old else None
        except (ValueError, KeyError, TypeError) as err:
            log.warning("unreadable resume mark under %s: %r", name, err)
            return None

    async def take(self, name: str) -> Mark | None:
        """The mark a stopped gateway left for this session, removed (None when none)."""
        try:
            kv = await self._bucket()
            entry = await kv.get(name)
        except (KeyNotFoundError, NotFoundError):
            return None
        if entry.value is None:
            return None
        try:
            await kv.delete(name)
            return Mark.load(entry.value)
        except (ValueError, KeyError) as err:
            log.warning("unreadable resume mark %s: %r", name, err)
            return None

    async def replay(
        self,
        *,
        project: UUID,
        session: str,
        mark: Mark,
        deliver: Callable[[ChatReply], Awaitable[None]],
    ) -> int:
        """Hand `deliver` every reply of the session stored since `mark.since` and not among
        `mark.delivered`, in stream order. Returns how many were replayed."""
        subject = subjects.chat_reply(project=project, session=session)
        return await self.replay_subject(subject, mark=mark, deliver=deliver)

    async def replay_subject(
        self, subject: str, *, mark: Mark, deliver: Callable[[ChatReply], Awaitable[None]]
    ) -> int:
        """`replay` for any reply subject (a bot's: every session of it)."""
        replayed = 0
        async for _msg, reply in stored_replies(self._js(), subject, since=mark.since):
            if reply.event_id not in mark.delivered:
                await deliver(reply)
                replayed += 1
        return replayed


async def stored_replies(
    js: JetStreamContext, subject: str, *, since: datetime
) -> AsyncIterator[tuple[Msg, ChatReply]]:
    """The replies on `subject` (wildcards allowed) stored in CHAT since `since`, in stream
    order, as far as the stream went when asked; unreadable ones are skipped."""
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=since.astimezone(UTC),
        ack_policy=AckPolicy.NONE,
        inactive_threshold=30.0,
    )
    sub = await js.pull_subscribe(subject, stream=subjects.CHAT_STREAM, config=config)
    try:
        pending = (await sub.consumer_info()).num_pending or 0
        while pending > 0:
            for msg in await sub.fetch(min(pending, FETCH_BATCH), timeout=5.0):
                pending -= 1
                try:
                    reply = REPLY.validate_json(msg.data)
                except ValidationError:
                    continue
                yield msg, reply
    finally:
        await sub.unsubscribe()
