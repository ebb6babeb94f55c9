"""The Conversations port (what operators read: lists, transcripts, the export, handoff and
the inbox), the same on the in-memory fake and on Postgres."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from services.dialog.turns.store import Changed, TurnRecord
from shared.contracts.conversation import (
    ConversationFilter,
    ConversationPosition,
    HandoffTriggers,
)

from .dialog_rows import T0, said, session, turn, write
from .stores import DialogStores

EVERYTHING = ConversationFilter()


async def open_at(
    dialog: DialogStores,
    project: UUID,
    session_id: str,
    last_at: datetime,
    *rows: TurnRecord,
    protocol: str = "xparo",
) -> None:
    """A session last active at `last_at`, with `rows` as its transcript."""
    row = session(project, session_id)
    row.protocol, row.last_at = protocol, last_at
    assert await write(dialog.turns, [Changed(row, None)], list(rows)) == set()


def asked(project: UUID, session_id: str, question: str, answer: str, *, at: int = 0) -> TurnRecord:
    return replace(turn(project, session_id, answer, at=at), question=question)


async def test_a_listed_session_counts_its_turns_and_shows_its_newest_message(
    dialog: DialogStores,
) -> None:
    """A session's list row counts the user's turns (not messages said first) and shows the
    newest message (its question when it has no answer); an unknown session is None."""
    project = uuid4()
    await open_at(
        dialog,
        project,
        "s",
        T0,
        asked(project, "s", "hi", "Hello"),
        asked(project, "s", "x", "", at=1),
    )
    listed = await dialog.conversations.listed(project, "s")
    assert listed is not None and (listed.turns, listed.last_text) == (2, "x")
    await dialog.sessions.say(said(project, "s", "An operator here", at=2))
    listed = await dialog.conversations.listed(project, "s")
    assert listed is not None and (listed.turns, listed.last_text) == (2, "An operator here")
    assert await dialog.conversations.listed(project, "nobody") is None
    assert await dialog.conversations.listed(uuid4(), "s") is None


async def test_a_transcript_pages_oldest_first_by_row(dialog: DialogStores) -> None:
    """A session's rows come oldest first, `limit` at a time, the next page after the last
    row's id; another project's session of the same id is not mixed in."""
    project, other = uuid4(), uuid4()
    rows = [asked(project, "s", f"q{n}", f"a{n}", at=n) for n in range(3)]
    await open_at(dialog, project, "s", T0, *rows)
    await open_at(dialog, other, "s", T0, asked(other, "s", "theirs", "theirs"))
    first = await dialog.conversations.turns(project, "s", limit=2, after=None)
    assert [t.answer for t in first] == ["a0", "a1"]
    rest = await dialog.conversations.turns(project, "s", limit=2, after=first[-1].id)
    assert [t.answer for t in rest] == ["a2"]


async def test_conversations_list_newest_activity_first_and_page_by_position(
    dialog: DialogStores,
) -> None:
    """Sessions come newest activity first (session id breaking ties), a page at a time after
    the last one's position; another project's are never listed."""
    project = uuid4()
    for name, minutes in (("a", 1), ("b", 3), ("c", 3), ("d", 2)):
        await open_at(dialog, project, name, T0 + timedelta(minutes=minutes))
    await open_at(dialog, uuid4(), "e", T0 + timedelta(minutes=9))
    page = await dialog.conversations.find(project, EVERYTHING, limit=3, after=None)
    assert [c.session.session_id for c in page] == ["c", "b", "d"]
    last = page[-1].session
    assert last.last_at is not None
    position = ConversationPosition(last_at=last.last_at, session_id=last.session_id)
    rest = await dialog.conversations.find(project, EVERYTHING, limit=3, after=position)
    assert [c.session.session_id for c in rest] == ["a"]


async def test_a_filter_finds_sessions_by_protocol_text_window_and_holder(
    dialog: DialogStores,
) -> None:
    """A filter keeps sessions of its protocol, with a message in its window holding its text
    (any case, question or answer), or held by an operator (or not)."""
    project = uuid4()
    await open_at(dialog, project, "cats", T0, asked(project, "cats", "Do you like CATS?", "Yes"))
    await open_at(
        dialog,
        project,
        "dogs",
        T0,
        asked(project, "dogs", "dogs?", "Dogs too", at=60),
        protocol="aida",
    )
    await dialog.conversations.hand_off(project, "dogs", "ops")

    async def found(**where: object) -> list[str]:
        listed = await dialog.conversations.find(
            project, ConversationFilter.model_validate(where), limit=10, after=None
        )
        return sorted(c.session.session_id for c in listed)

    assert await found(q="cats") == ["cats"]
    assert await found(q="DOGS TOO") == ["dogs"]
    assert await found(protocol="aida") == ["dogs"]
    assert await found(since=T0 + timedelta(seconds=30)) == ["dogs"]
    assert await found(until=T0 + timedelta(seconds=30)) == ["cats"]
    assert await found(held=True) == ["dogs"]
    assert await found(held=False) == ["cats"]
    assert await found(q="parrots") == []


async def test_a_filter_finds_sessions_by_engine_confidence_and_a_text_as_written(
    dialog: DialogStores,
) -> None:
    """A filter keeps sessions with an answer of its engine, or an FAQ or NLU answer less sure
    than its bound; a text holding % _ or ' is looked for as written, not as a pattern."""
    project = uuid4()
    faq = asked(project, "faq", "price?", "50% off")
    faq = replace(faq, engine="faq", details={"faq": {"candidates": [{"score": 0.4}]}})
    nlu = asked(project, "nlu", "it's me", "500 off")
    nlu = replace(nlu, engine="nlu", details={"intent": {"candidates": [{"score": 0.9}]}})
    await open_at(dialog, project, "faq", T0, faq)
    await open_at(dialog, project, "nlu", T0, nlu)
    await open_at(dialog, project, "aiml", T0, asked(project, "aiml", "hi", "hello"))

    async def found(**where: object) -> list[str]:
        listed = await dialog.conversations.find(
            project, ConversationFilter.model_validate(where), limit=10, after=None
        )
        return sorted(c.session.session_id for c in listed)

    assert await found(engine="faq") == ["faq"]
    assert await found(below=0.5) == ["faq"]
    assert await found(below=0.95) == ["faq", "nlu"]
    assert await found(engine="nlu", below=0.5) == []
    assert await found(q="50%") == ["faq"]
    assert await found(q="it's") == ["nlu"]
    assert await found(q="5_0") == []


async def test_the_export_is_the_matching_rows_oldest_first_with_their_protocol(
    dialog: DialogStores,
) -> None:
    """The export lists the rows of the sessions the filter matches, inside its window,
    oldest first with the session's protocol, a page after a row id; other projects' rows
    are never in it."""
    project = uuid4()
    await open_at(dialog, project, "s1", T0, asked(project, "s1", "q", "one", at=0))
    await open_at(
        dialog, project, "s2", T0, asked(project, "s2", "q", "two", at=10), protocol="aida"
    )
    await write(dialog.turns, [], [asked(project, "s1", "q", "three", at=20)])
    other = uuid4()
    await open_at(dialog, other, "s1", T0, asked(other, "s1", "q", "lost", at=5))
    rows = await dialog.conversations.export(project, EVERYTHING, limit=10, after=None)
    assert [(r.answer, protocol) for r, protocol in rows] == [
        ("one", "xparo"),
        ("two", "aida"),
        ("three", "xparo"),
    ]
    later = await dialog.conversations.export(project, EVERYTHING, limit=1, after=rows[0][0].id)
    assert [r.answer for r, _ in later] == ["two"]
    window = ConversationFilter(since=T0 + timedelta(seconds=5))
    aida = await dialog.conversations.export(project, window, limit=10, after=None)
    assert [r.answer for r, _ in aida] == ["two", "three"]


async def test_a_handoff_goes_to_one_operator_at_a_time(dialog: DialogStores) -> None:
    """An operator takes a session the bot holds; another operator is refused (the holder
    stays, and is answered as `before`); None gives it back; each change moves the session's
    version on; an unknown session is None."""
    project = uuid4()
    await open_at(dialog, project, "s", T0)
    taken = await dialog.conversations.hand_off(project, "s", "ada")
    assert taken is not None and (taken.before, taken.session.handoff) == (None, "ada")
    refused = await dialog.conversations.hand_off(project, "s", "grace")
    assert refused is not None and (refused.before, refused.session.handoff) == ("ada", "ada")
    back = await dialog.conversations.hand_off(project, "s", None)
    assert back is not None and (back.before, back.session.handoff) == ("ada", None)
    assert back.session.version > taken.session.version
    assert await dialog.conversations.hand_off(project, "nobody", "ada") is None


async def test_the_inbox_holds_what_waits_for_a_human(dialog: DialogStores) -> None:
    """The inbox lists held sessions, sessions whose user asked for a human (with what they
    said) unless an operator spoke after it, and sessions resting in a trigger state; not a
    quiet session, nor one asking a week ago, nor another project's."""
    project = uuid4()
    now = datetime.now(UTC)
    await open_at(dialog, project, "held", now)
    await dialog.conversations.hand_off(project, "held", "ada")
    await open_at(
        dialog,
        project,
        "asks",
        now - timedelta(minutes=1),
        asked(project, "asks", "a HUMAN please", "One moment"),
    )
    await open_at(
        dialog,
        project,
        "dealt",
        now - timedelta(minutes=2),
        asked(project, "dealt", "human!", "ok"),
    )
    await dialog.sessions.say(said(project, "dealt", "Ada here", at=1))
    await open_at(
        dialog, project, "old", now - timedelta(days=8), asked(project, "old", "human", "ok")
    )
    await open_at(
        dialog, project, "quiet", now - timedelta(minutes=3), asked(project, "quiet", "hello", "hi")
    )
    await dialog.sessions.merge(project, "quiet", data={}, state={"_machine": {"state": "stuck"}})
    other = uuid4()
    await open_at(dialog, other, "theirs", now, asked(other, "theirs", "human", "ok"))
    triggers = HandoffTriggers(states=["stuck"])
    waiting = await dialog.conversations.inbox(project, triggers, limit=10)
    assert [(w.listed.session.session_id, w.said, w.state) for w in waiting] == [
        ("held", None, None),
        ("asks", "a HUMAN please", None),
        ("quiet", None, "stuck"),
    ]


async def test_an_operator_speaking_in_another_project_leaves_this_inbox_alone(
    dialog: DialogStores,
) -> None:
    """A user waiting for a human stays in their project's inbox when an operator then speaks in
    a session of another project (the Postgres query once checked "an operator spoke later" in
    any session, so one project's handoff hid every other project's waiting users)."""
    project, other = uuid4(), uuid4()
    now = datetime.now(UTC)
    await open_at(dialog, project, "asks", now, asked(project, "asks", "a human please", "wait"))
    await open_at(dialog, other, "helped", now, asked(other, "helped", "hello", "hi"))
    spoken = said(other, "helped", "Ada here", at=1)
    spoken.details = {"event": "say", "source": "operator", "operator": "ada"}
    await dialog.sessions.say(spoken)
    waiting = await dialog.conversations.inbox(project, HandoffTriggers(), limit=10)
    assert [(w.listed.session.session_id, w.said) for w in waiting] == [("asks", "a human please")]


async def test_the_inbox_raises_a_session_by_intent_and_takes_a_keyword_as_written(
    dialog: DialogStores,
) -> None:
    """A user turn classified as a trigger intent puts its session in the inbox with that
    intent; a keyword holding % is looked for as written (not as a wildcard)."""
    project = uuid4()
    now = datetime.now(UTC)
    classified = asked(project, "billing", "my bill", "ok")
    classified = replace(classified, details={"intent": {"name": "talk_to_agent"}})
    await open_at(dialog, project, "billing", now, classified)
    plain = asked(project, "plain", "100 percent", "ok")
    await open_at(dialog, project, "plain", now - timedelta(minutes=1), plain)
    literal = asked(project, "literal", "100% sure", "ok")
    await open_at(dialog, project, "literal", now - timedelta(minutes=2), literal)
    triggers = HandoffTriggers(keywords=["100%"], intents=["talk_to_agent"])
    waiting = await dialog.conversations.inbox(project, triggers, limit=10)
    assert [(w.listed.session.session_id, w.said, w.intent) for w in waiting] == [
        ("billing", "my bill", "talk_to_agent"),
        ("literal", "100% sure", None),
    ]
