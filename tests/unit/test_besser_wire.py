"""BESSER's frames: each reply kind encoded exactly as BAF 4.5.3 sends it (golden frames from
reference/besser.md §2.3 and §8), and client frames checked without closing the socket."""

import json
import re
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from services.gateway.protocols.besser.wire import (
    BesserFrameError,
    decode_base64,
    encode_part,
    error_frame,
    file_message,
    history_frames,
    json_object,
    parse_frame,
    reply_frames,
    timestamp,
)
from shared.contracts.chat import (
    ChartPart,
    FilePart,
    FileRef,
    ImagePart,
    LocationPart,
    OptionsPart,
    TablePart,
    TextPart,
)
from shared.contracts.session import HistoryTurn

AT = datetime(2026, 11, 22, 1, 45, 40, tzinfo=UTC)
# What BAF 4.5.3's Streamlit UI renders (websocket_callbacks.on_message, reference/besser.md §3);
# any other action makes its Payload.decode return None and the user sees nothing.
BAF_UI_RENDERS = {
    "agent_reply_str",
    "agent_reply_markdown",
    "agent_reply_html",
    "agent_reply_file",
    "agent_reply_audio",
    "agent_reply_image",
    "agent_reply_dataframe",
    "agent_reply_plotly",
    "agent_reply_location",
    "agent_reply_options",
    "agent_reply_rag",
    "user_message",
}


@pytest.mark.parametrize(
    ("part", "action", "message"),
    [
        (TextPart(kind="str", text="hello from s0"), "agent_reply_str", "hello from s0"),
        (TextPart(kind="markdown", text="**b**"), "agent_reply_markdown", "**b**"),
        (TextPart(kind="html", text="<b>b</b>"), "agent_reply_html", "<b>b</b>"),
        (OptionsPart(options=["Yes", "No"]), "agent_reply_options", '{"0": "Yes", "1": "No"}'),
        (
            TablePart(columns={"a": [1, 2], "b": ["x", "y"]}),
            "agent_reply_dataframe",
            '{"a":{"0":1,"1":2},"b":{"0":"x","1":"y"}}',
        ),
        (
            LocationPart(latitude=49.5, longitude=5.9),
            "agent_reply_location",
            {"latitude": 49.5, "longitude": 5.9},
        ),
        (
            FilePart(name="f.txt", type="text/plain", base64="aGk="),
            "agent_reply_file",
            {"name": "f.txt", "type": "text/plain", "base64": "aGk="},
        ),
        (ImagePart(base64="/9j/4AAQ"), "agent_reply_image", "/9j/4AAQ"),
    ],
)
def test_each_reply_kind_is_encoded_as_baf_sends_it(
    part: object, action: str, message: object
) -> None:
    assert encode_part(part) == (action, message)  # type: ignore[arg-type]


def test_a_plotly_figure_travels_as_a_json_string_plotly_can_read_back() -> None:
    figure = {
        "data": [{"type": "bar", "x": ["Mon"], "y": [21]}],
        "layout": {"title": {"text": "é"}},
    }
    action, message = encode_part(ChartPart(figure=figure))
    assert action == "agent_reply_plotly"
    assert isinstance(message, str) and json.loads(message) == figure


def test_a_reply_frame_has_baf_4_5_keys_and_timestamp_format() -> None:
    reply = uuid4()
    frames = reply_frames(
        [TextPart(kind="str", text="a"), OptionsPart(options=["x"])], "", at=AT, reply_id=reply
    )
    assert [list(f) for f in frames] == [
        ["action", "message", "history", "timestamp", "message_id"]
    ] * 2
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", f["timestamp"]) for f in frames)
    assert frames[0]["history"] is False
    assert frames[0]["message_id"] != frames[1]["message_id"]  # one id per frame


def test_an_answer_without_parts_is_one_str_frame_and_an_empty_one_none() -> None:
    reply = uuid4()
    assert [f["action"] for f in reply_frames([], "Hi Bob", at=AT, reply_id=reply)] == [
        "agent_reply_str"
    ]
    assert reply_frames([], "", at=AT, reply_id=reply) == []


def test_history_replays_the_user_side_then_the_bot_side_marked_history() -> None:
    turn = HistoryTurn(
        event="file",
        question="a.pdf",
        file=FileRef(media_id=uuid4(), name="a.pdf", type="application/pdf", size=3),
        received_at=AT,
        answer="Thanks",
        answered_at=AT,
        engine="machine",
        reply_event_id=uuid4(),
    )
    frames = history_frames(turn)
    assert [f["action"] for f in frames] == ["user_file", "agent_reply_str"]
    assert json.loads(frames[0]["message"]) == {"name": "a.pdf", "type": "application/pdf"}
    assert all(f["history"] is True for f in frames)
    start = turn.model_copy(update={"event": "start", "question": "", "file": None})
    assert [f["action"] for f in history_frames(start)] == ["agent_reply_str"]


def test_an_error_is_a_str_reply_baf_uis_render_with_the_reason_under_error() -> None:
    """A refusal reaches BAF's UIs as an agent_reply_str they render ("Error: ..."), its five
    keys as BAF sends them, and the bare reason under `error` for programs (BAF ignores it)."""
    frame = error_frame("unknown action 'bogus'", at=AT)
    assert frame == {
        "action": "agent_reply_str",
        "message": "Error: unknown action 'bogus'",
        "history": False,
        "timestamp": timestamp(AT),
        "message_id": None,
        "error": "unknown action 'bogus'",
    }
    assert frame["action"] in BAF_UI_RENDERS


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "JSON object"),
        ('["user_message"]', '"action"'),
        ('{"message": "hi"}', '"action"'),
        ('{"action": "user_message"}', 'needs a "message"'),
        ('{"action": "bogus", "message": "x"}', "unknown action 'bogus'"),
    ],
)
def test_bad_client_frames_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(BesserFrameError, match=re.escape(problem)):
        parse_frame(text)


def test_client_frames_as_baf_clients_send_them() -> None:
    five_keys = (
        '{"action":"reset","message":null,"history":false,"timestamp":null,"message_id":null}'
    )
    assert parse_frame(five_keys) == ("reset", None)
    assert parse_frame('{"action": "user_message", "message": "hi"}') == ("user_message", "hi")


def test_a_user_message_may_be_a_json_object_or_a_string_holding_one() -> None:
    assert json_object({"message": "x", "n": 1}) == {"message": "x", "n": 1}
    assert json_object('{"message": "inside json", "x": 1}') == {"message": "inside json", "x": 1}
    assert json_object("{not json") is None
    assert json_object("hello") is None


def test_user_file_is_a_json_string_with_name_type_and_base64() -> None:
    message = json.dumps({"name": "a.txt", "type": "text/plain", "base64": "YWJj"})
    assert file_message(message) == ("a.txt", "text/plain", b"abc")
    with pytest.raises(BesserFrameError, match="name"):
        file_message(json.dumps({"name": "", "type": "text/plain", "base64": "YWJj"}))
    with pytest.raises(BesserFrameError, match="base64"):
        file_message(json.dumps({"name": "a", "type": "text/plain", "base64": "!!"}))


def test_base64_may_come_as_a_data_url() -> None:
    assert decode_base64("data:audio/wav;base64,UklGRg==", "voice") == b"RIFF"
    with pytest.raises(BesserFrameError):
        decode_base64(None, "voice")
