"""Reply routing in one gateway process: one wildcard subscription for every session and bot it
follows, each reply handed to the followers of its own session only, in order."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID, uuid4

import pytest
from nats.aio.client import Client as NatsClient

from services.gateway.bus.bridge import Bridge
from shared import subjects
from shared.broker import make_broker
from shared.contracts import ChatReply, TurnAnswered
from tests.support.backends import Backends

SESSIONS = 60
REPLIES = 5


@pytest.fixture
async def bridge(backends: Backends, nc: NatsClient) -> AsyncIterator[Bridge]:
    """A gateway's bridge whose routing is known to be live: a probe published by `nc` (another
    connection, as the dialog's) has reached it."""
    broker = make_broker(backends.nats_url, name="routing-test")
    await broker.connect()
    bridge = Bridge(broker, request_timeout_s=5.0, partitions=8)  # it publishes no turns
    project, heard = uuid4(), asyncio.Event()

    async def probe(reply: ChatReply) -> None:
        heard.set()

    follow = await bridge.follow_replies(project=project, session="probe", deliver=probe)
    subject = subjects.chat_reply(project=project, session="probe")
    for _ in range(50):
        await nc.publish(subject, answer(project, "probe", "probe").model_dump_json().encode())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(heard.wait(), 0.2)
            break
    assert heard.is_set(), "the bridge's reply routing never received a reply"
    await follow.unsubscribe()
    yield bridge
    await broker.stop()


def answer(project: UUID, session: str, text: str) -> TurnAnswered:
    return TurnAnswered.first(
        project_key=project,
        session_id=session,
        turn_event_id=uuid4(),
        text=text,
        engine="aiml",
    )


async def within(waiting: Awaitable[str], seconds: float = 10) -> str:
    """What `waiting` gives, failing after `seconds` instead of hanging the suite."""
    return await asyncio.wait_for(waiting, seconds)


def subscriptions(bridge: Bridge) -> int:
    """How many subscriptions the gateway's NATS connection holds (nats-py keeps no public
    count; the server's own view needs a monitoring port the embedded NATS does not open)."""
    return len(bridge.broker.connection._subs)


async def test_many_sessions_share_one_subscription_and_get_only_their_own_replies(
    bridge: Bridge, nc: NatsClient
) -> None:
    """Sixty sockets following sixty sessions hold one NATS subscription between them, and each
    gets exactly its own session's replies, in the order they were published."""
    project = uuid4()
    got: dict[str, list[str]] = {f"s{n}": [] for n in range(SESSIONS)}
    done = asyncio.Event()
    expected = SESSIONS * REPLIES

    def collector(session: str) -> Callable[[ChatReply], Awaitable[None]]:
        async def deliver(reply: ChatReply) -> None:
            got[session].append(f"{reply.session_id}:{reply.text}")
            if sum(map(len, got.values())) == expected:
                done.set()

        return deliver

    before = subscriptions(bridge)
    follows = [
        await bridge.follow_replies(project=project, session=s, deliver=collector(s)) for s in got
    ]
    assert subscriptions(bridge) - before <= 1
    for n in range(REPLIES):
        for session in got:
            reply = answer(project, session, str(n))
            subject = subjects.chat_reply(project=project, session=session)
            await nc.publish(subject, reply.model_dump_json().encode())
    await nc.flush()
    await asyncio.wait_for(done.wait(), 10)
    assert got == {s: [f"{s}:{n}" for n in range(REPLIES)] for s in got}
    for follow in follows:
        await follow.unsubscribe()
    assert subscriptions(bridge) - before <= 1  # nothing to unsubscribe from NATS per socket


async def test_a_reply_reaches_every_socket_of_its_session_until_it_leaves(
    bridge: Bridge, nc: NatsClient
) -> None:
    """Two sockets of one session both get its reply; once one leaves, only the other does,
    and a session followed nowhere on this gateway is dropped without harm."""
    project = uuid4()
    first: list[str] = []
    second: list[str] = []
    arrived = asyncio.Queue[str]()

    async def to_first(reply: ChatReply) -> None:
        first.append(reply.text)
        arrived.put_nowait("first")

    async def to_second(reply: ChatReply) -> None:
        second.append(reply.text)
        arrived.put_nowait("second")

    one = await bridge.follow_replies(project=project, session="shared", deliver=to_first)
    await bridge.follow_replies(project=project, session="shared", deliver=to_second)
    subject = subjects.chat_reply(project=project, session="shared")
    await nc.publish(subject, answer(project, "shared", "both").model_dump_json().encode())
    assert {await within(arrived.get()), await within(arrived.get())} == {"first", "second"}
    await one.unsubscribe()
    elsewhere = subjects.chat_reply(project=project, session="elsewhere")
    await nc.publish(elsewhere, b"not even JSON: followed on no socket here")
    await nc.publish(subject, answer(project, "shared", "one").model_dump_json().encode())
    assert await within(arrived.get()) == "second"
    assert (first, second) == (["both"], ["both", "one"])


async def test_a_bot_feed_gets_every_session_of_its_project_through_the_same_routing(
    bridge: Bridge, nc: NatsClient
) -> None:
    """An AIDA bot's live feed gets the replies of every session of its project (and of no
    other project) without a subscription of its own."""
    project, other = uuid4(), uuid4()
    got: list[str] = []
    arrived = asyncio.Event()

    async def feed(reply: ChatReply) -> None:
        got.append(f"{reply.session_id}:{reply.text}")
        if len(got) == 2:
            arrived.set()

    before = subscriptions(bridge)
    await bridge.follow_replies(project=uuid4(), session="x", deliver=feed)  # the routing exists
    subscribed = subscriptions(bridge)
    bot = await bridge.follow_project(project, feed)
    assert subscriptions(bridge) == subscribed and subscribed - before <= 1
    for key, session in ((other, "a"), (project, "a"), (project, "b")):
        subject = subjects.chat_reply(project=key, session=session)
        await nc.publish(subject, answer(key, session, "hi").model_dump_json().encode())
    await asyncio.wait_for(arrived.wait(), 10)
    assert got == ["a:hi", "b:hi"]
    await bot.unsubscribe()
