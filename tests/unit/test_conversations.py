"""Pure parts of conversations: cursors, the text filter, CSV safety, transcript entries, pages
that fit one NATS message."""

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from services.dialog.conversations.application import entries_of, fit
from services.dialog.conversations.queries import like_pattern
from services.dialog.models import TurnRow
from services.gateway.admin.formats.conversations import (
    csv_rows,
    cursor_position,
    cursor_row,
    position_cursor,
    row_cursor,
    safe_cell,
    utc,
)
from services.gateway.protocols.rsvp.wire import answer_body
from shared.contracts import TurnAnswered
from shared.contracts.conversation import MAX_REPLY_BYTES, ConversationPosition, ExportEntry
from shared.contracts.paging import BadCursor, encode_cursor

AT = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def row(n: int, **fields: object) -> TurnRow:
    values: dict[str, object] = {
        "id": n,
        "turn_event_id": uuid4(),
        "reply_event_id": uuid4(),
        "correlation_id": uuid4(),
        "project_key": uuid4(),
        "session_id": "s1",
        "protocol": "rsvp",
        "question": "hi",
        "answer": "hello",
        "engine": "aiml",
        "content_version": 3,
        "received_at": AT,
        "answered_at": AT,
        "engine_ms": 1.0,
        "stage": "release",
        "details": {"event": "text"},
    }
    return TurnRow.model_validate(values | fields)


def test_a_position_cursor_round_trips_to_the_microsecond() -> None:
    """The cursor of a conversation list gives back its exact position."""
    position = ConversationPosition(last_at=AT, session_id="uid-abc")
    assert cursor_position(position_cursor(position)) == position


@pytest.mark.parametrize(
    "cursor",
    [
        encode_cursor({"at": "not a time", "id": "x"}),
        encode_cursor({"at": AT.isoformat()}),
        encode_cursor({"after": 5}),
        "%%%",
    ],
)
def test_a_forged_position_cursor_is_a_bad_cursor(cursor: str) -> None:
    """Anything but a cursor this API made is refused as BadCursor (a 422, not a 500)."""
    with pytest.raises(BadCursor):
        cursor_position(cursor)


@pytest.mark.parametrize("after", [-1, "7", True, 1.5, None])
def test_a_row_cursor_holds_a_row_number_only(after: object) -> None:
    """A transcript cursor is a non-negative row number; anything else is BadCursor."""
    assert cursor_row(row_cursor(42)) == 42
    with pytest.raises(BadCursor):
        cursor_row(encode_cursor({"after": after}))


def test_times_are_utc_and_within_what_the_database_takes() -> None:
    """No zone means UTC; other zones are converted; a time that leaves year 1 is refused."""
    assert utc(datetime(2025, 3, 1)) == datetime(2025, 3, 1, tzinfo=UTC)
    paris = datetime(2025, 3, 1, 13, tzinfo=timezone(timedelta(hours=1)))
    assert utc(paris) == datetime(2025, 3, 1, 12, tzinfo=UTC) and utc(None) is None
    with pytest.raises(ValueError, match="out of range"):
        utc(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))


def test_the_text_filter_takes_wildcards_literally() -> None:
    """% _ and \\ in what an operator searches are matched as themselves."""
    assert like_pattern("50%_off\\") == "%50\\%\\_off\\\\%"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\r=1", "'\r=1"),
        ("hello = world", "hello = world"),
        (None, ""),
        (7, "7"),
        (AT, AT.isoformat()),
    ],
)
def test_csv_cells_never_start_a_formula(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def test_csv_rows_quote_and_protect_every_column() -> None:
    """Commas, quotes and new lines survive; a formula in any text column is defused."""
    entry = ExportEntry(
        session_id="s1",
        protocol="rsvp",
        turn=9,
        at=AT,
        author="user",
        text='=cmd|" /C calc"!A0, then\nmore',
        event="text",
        engine=None,
        operator="-ops",
        stage=None,
        version=None,
    )
    lines = csv_rows([entry], header=True)
    header, cells = list(csv.reader(io.StringIO(lines)))
    assert header[0] == "session_id" and header[-1] == "text"
    found = dict(zip(header, cells, strict=True))
    assert found["text"] == "'" + entry.text and found["operator"] == "'-ops"
    assert found["at"] == AT.isoformat() and found["engine"] == ""


def test_a_turn_is_the_users_message_and_the_bots_answer() -> None:
    """A turn gives the user's side, then the bot's with its engine, stage and version."""
    user, bot = entries_of(row(1))
    assert (user.author, user.text, user.engine, user.at) == ("user", "hi", None, AT)
    assert (bot.author, bot.text, bot.engine, bot.stage, bot.version) == (
        "bot",
        "hello",
        "aiml",
        "release",
        3,
    )


def test_a_turn_during_handoff_has_no_bot_answer_and_names_the_operator() -> None:
    silent = row(2, answer="", engine="none", details={"event": "text", "operator": "ana"})
    [user] = entries_of(silent)
    assert (user.author, user.operator) == ("user", "ana")


def test_what_an_operator_said_is_theirs_and_a_socket_opening_is_nobodys() -> None:
    said = row(
        3,
        kind="said",
        question="",
        answer="A nurse is coming",
        engine="operator",
        details={"event": "say", "source": "operator", "operator": "ana"},
    )
    [entry] = entries_of(said)
    assert (entry.author, entry.operator, entry.engine, entry.event) == (
        "operator",
        "ana",
        "operator",
        "say",
    )
    greeting = row(4, question="", answer="Welcome", details={"event": "start"})
    assert [e.author for e in entries_of(greeting)] == ["bot"]


def test_a_page_stops_at_its_limit_or_before_one_message_grows_too_big() -> None:
    """`limit` rows at most; a page ends before the row that would pass MAX_REPLY_BYTES (the
    next page continues after the last row taken); one huge row still goes in alone."""
    rows = [row(n) for n in range(1, 6)]
    page, after = fit(rows, 3, entries_of)
    assert (len(page), after) == (6, 3)
    assert fit(rows, 10, entries_of) == (fit(rows, 5, entries_of)[0], None)
    big = "x" * 65536
    huge = [row(n, question=big, answer=big) for n in range(1, 20)]
    page, after = fit(huge, 50, entries_of)
    size = sum(len(e.model_dump_json()) for e in page)
    assert after == page[-1].turn and size < MAX_REPLY_BYTES < size + 2 * len(big) + 4096
    assert fit(huge[:1], 1, entries_of)[1] is None


def test_rsvp_during_handoff_returns_what_the_operator_said_or_nothing() -> None:
    """An answer of no engine is only what was said since (empty stage: silence)."""
    reply = TurnAnswered.first(
        project_key=uuid4(),
        session_id="uid-1",
        turn_event_id=uuid4(),
        text="",
        engine="none",
        said_before=["One moment", "I found it"],
    )
    body = answer_body(reply, skillid=None)
    assert body["stage"] == [{"message": "One moment"}, {"message": "I found it"}]
    assert (body["status"], body["topic"]) == (0, "operator")
    empty = answer_body(reply.model_copy(update={"said_before": []}), skillid=None)
    assert empty["stage"] == []
    answered = reply.model_copy(update={"engine": "aiml", "text": "Hi", "said_before": ["Hey"]})
    assert answer_body(answered, skillid=None)["stage"] == [{"message": "Hey"}, {"message": "Hi"}]


def test_what_a_machines_condition_said_is_the_bots_alone() -> None:
    """A tick (the clock found a condition true) shows the bot's answer and no user message."""
    tick = row(
        4, question="", answer="Thanks for paying!", engine="machine", details={"event": "tick"}
    )
    [entry] = entries_of(tick)
    assert (entry.author, entry.text, entry.event) == ("bot", "Thanks for paying!", "tick")
