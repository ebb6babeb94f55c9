"""The admin live feed's summaries and its bounded, thinned queue (services/gateway/admin/live_feed.py)."""

import asyncio
import json
from uuid import uuid4

import pytest

from services.gateway.admin import live_feed
from services.gateway.admin.live_feed import Feed, frame, summarise

P = uuid4().hex


def msg(**body: object) -> bytes:
    return json.dumps(body).encode()


def test_turns_replies_and_operator_messages_are_told_apart() -> None:
    turn = summarise(f"chat.turn.{P}", msg(session_id="s", protocol="aida", text="hi"))
    assert turn is not None and turn[0] == "turn" and turn[1]["protocol"] == "aida"
    bot = summarise(f"chat.reply.{P}.s", msg(session_id="s", text="hello", engine="faq"))
    assert bot == (
        "reply",
        {"at": None, "session_id": "s", "text": "hello", "engine": "faq", "source": "bot"},
    )
    human = summarise(f"chat.reply.{P}.s", msg(session_id="s", text="I'm Ann", source="operator"))
    assert human is not None and human[1]["source"] == "operator"


def test_command_lifecycle_and_robot_presence() -> None:
    issued = summarise(
        f"robot.command.{P}.r1",
        msg(robot_id="r1", event_id="c1", command={"type": "remote_command"}, issued_by="admin:a"),
    )
    assert issued is not None and issued[1] | {"at": None} == {
        "at": None,
        "robot_id": "r1",
        "command_id": "c1",
        "type": "remote_command",
        "status": "queued",
        "by": "admin:a",
    }
    delivered = summarise(
        f"robot.event.{P}.r1", msg(kind="command_delivered", command_id="c1", robot_id="r1")
    )
    assert (
        delivered is not None
        and delivered[0] == "command"
        and delivered[1]["status"] == "delivered"
    )
    online = summarise(
        f"robot.event.{P}.r1", msg(kind="presence", state="connected", robot_id="r1")
    )
    assert online is not None and online[1]["state"] == "connected"


@pytest.mark.parametrize("data", [b"", b"not json", b"[1, 2]", b"\xff\xfe", b"null"])
def test_garbage_on_a_subject_is_skipped(data: bytes) -> None:
    assert summarise(f"chat.turn.{P}", data) is None


def test_long_texts_are_cut() -> None:
    turn = summarise(f"chat.turn.{P}", msg(session_id="s", text="x" * 10_000))
    assert turn is not None and len(turn[1]["text"]) == live_feed.TEXT_CHARS


def test_a_lagging_reader_loses_the_oldest_events_and_is_told_how_many() -> None:
    feed = Feed()
    for n in range(live_feed.QUEUE + 5):
        feed.offer(f"chat.turn.{P}", msg(session_id="s", text=str(n)))
    assert feed.dropped == 5
    assert feed.queue.get_nowait()[1]["text"] == "5"


def test_telemetry_is_thinned_per_robot() -> None:
    feed = Feed()
    for robot in ("a", "a", "a", "b"):
        feed.offer(f"telemetry.sample.{P}.{robot}", msg(robot_id=robot, metrics={"cpu": 1.0}))
    assert [feed.queue.get_nowait()[1]["robot_id"] for _ in range(feed.queue.qsize())] == ["a", "b"]


def test_an_sse_frame_is_one_event_with_one_data_line() -> None:
    raw = frame("turn", {"text": "two\nlines"}).decode()
    assert raw.startswith("event: turn\ndata: ") and raw.endswith("\n\n") and raw.count("\n") == 3


async def test_a_stopping_gateway_ends_open_feeds_at_once() -> None:
    """close_all ends a stream waiting for events (no 15 s wait for the next ping)."""

    class Connection:
        async def subscribe(self, subject: str, cb: object) -> "Connection":
            return self

        async def unsubscribe(self) -> None:
            pass

    class Broker:
        connection = Connection()

    class FakeBridge:
        broker = Broker()

    feeds = live_feed.LiveFeeds(FakeBridge())  # type: ignore[arg-type]
    stream = feeds.stream(uuid4())
    assert await anext(stream) == b": connected\n\n"
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)  # let it block waiting for an event: that wait must end
    await feeds.close_all()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 1.0)
