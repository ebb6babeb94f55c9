"""Golden frames of the Phoenix wire format (reference/phoenix.md, captured from phoenix.js)."""

import json

import pytest

from services.gateway.protocols.aida import wire

pytestmark = pytest.mark.unit
BOT = "bot:2f6dc44d-dad1-4969-b22f-729c3b77f638"
V1 = wire.Serializer.for_vsn(None)
V2 = wire.Serializer.for_vsn("2.0.0")


def test_vsn_picks_the_serializer() -> None:
    """vsn 2.x → arrays; missing or 1.x → objects; anything else is refused."""
    assert V2.version == 2
    assert V1.version == 1
    assert wire.Serializer.for_vsn("1.0.0").version == 1
    with pytest.raises(ValueError):
        wire.Serializer.for_vsn("3.0.0")


def test_v2_join_reply_echoes_string_refs() -> None:
    """The captured join and its ok reply: join_ref and ref come back as the same strings."""
    join = V2.decode(f'["6","6","{BOT}","phx_join",{{"access_token":"secret-token"}}]')
    assert (join.join_ref, join.ref, join.event) == ("6", "6", "phx_join")
    assert join.payload == {"access_token": "secret-token"}
    encoded = V2.encode(wire.reply(join, "ok", {}))
    assert encoded == f'["6","6","{BOT}","phx_reply",{{"status":"ok","response":{{}}}}]'


def test_v2_refs_are_never_renumbered() -> None:
    """A numeric ref stays a number and a string stays a string (phoenix.js compares with ===)."""
    numeric = V2.decode('[3, 17, "phoenix", "heartbeat", {}]')
    assert json.loads(V2.encode(wire.reply(numeric, "ok", {})))[:2] == [3, 17]
    heartbeat = V2.decode('[null,"10","phoenix","heartbeat",{}]')
    reply = V2.encode(wire.reply(heartbeat, "ok", {}))
    assert reply == '[null,"10","phoenix","phx_reply",{"status":"ok","response":{}}]'


def test_v2_push_and_close_frames() -> None:
    """Bot messages go out as [null,null,topic,event,payload]; phx_close carries the join_ref."""
    push = V2.encode(wire.push(BOT, "btu_msg", {"session": "s", "text": "hi"}))
    assert push == f'[null,null,"{BOT}","btu_msg",{{"session":"s","text":"hi"}}]'
    assert V2.encode(wire.close(BOT, "6")) == f'["6","6","{BOT}","phx_close",{{}}]'


def test_v2_extra_elements_are_ignored() -> None:
    """Phoenix's decoder takes the first five elements and ignores the rest."""
    msg = V2.decode(f'["1","2","{BOT}","utb_msg",{{"text":"x"}},"extra"]')
    assert msg.payload == {"text": "x"}


def test_v1_objects_both_ways() -> None:
    """V1: objects with topic, event, payload, ref (join_ref optional, not sent back)."""
    msg = V1.decode(f'{{"topic":"{BOT}","event":"phx_join","payload":{{}},"ref":"1"}}')
    assert (msg.ref, msg.join_ref) == ("1", None)
    assert json.loads(V1.encode(wire.reply(msg, "ok", {}))) == {
        "topic": BOT,
        "event": "phx_reply",
        "payload": {"status": "ok", "response": {}},
        "ref": "1",
    }


def test_binary_push_is_parsed() -> None:
    """The captured binary push: kind 0, four length bytes, then join_ref, ref, topic, event."""
    frame = b"\x00\x01\x01(\x0669bot:2f6dc44d-dad1-4969-b22f-729c3b77f638uploadPNGDATA"
    msg = V2.decode_binary(frame)
    assert (msg.join_ref, msg.ref, msg.topic, msg.event) == ("6", "9", BOT, "upload")
    assert msg.payload == b"PNGDATA"


@pytest.mark.parametrize(
    "frame",
    [b"\x01\x01\x01\x05\x0234bot:xok", b"\x00\x09\x01\x01\x01ab", b"", b"\x00\x01"],
    ids=["reply-kind", "lengths-past-end", "empty", "short-header"],
)
def test_bad_binary_frames_are_refused(frame: bytes) -> None:
    """Binary frames other than well-formed pushes raise PhoenixFrameError (never crash)."""
    with pytest.raises(wire.PhoenixFrameError):
        V2.decode_binary(frame)


def test_binary_needs_v2() -> None:
    """A V1 socket has no binary format."""
    with pytest.raises(wire.PhoenixFrameError):
        V1.decode_binary(b"\x00\x01\x01\x01\x01abcd")


@pytest.mark.parametrize(
    ("text", "has_ref"),
    [
        ("not json", False),
        ('{"topic":"x"}', False),
        ('["1","2","bot:x"]', False),
        ('["1","2",5,"ev",{}]', True),
        ('["1","2","bot:x","ev",[1,2]]', True),
        ('["1",{"a":1},"bot:x","ev",{}]', False),
    ],
)
def test_malformed_text_frames(text: str, has_ref: bool) -> None:
    """Malformed frames raise PhoenixFrameError, carrying the ref when it could be read."""
    with pytest.raises(wire.PhoenixFrameError) as raised:
        V2.decode(text)
    assert (raised.value.ref is not None) == has_ref
