"""The Sessions port (the sessions protocols open, merge, say into and delete), the same on
the in-memory fake and on Postgres."""

from uuid import uuid4

from services.dialog.models import TurnRow
from services.dialog.turns.store import Changed

from .dialog_rows import said, session, session_row, start, turn, write
from .stores import DialogStores


async def test_a_created_session_is_found_and_a_missing_one_is_none(dialog: DialogStores) -> None:
    """What create stores, find reads back (protocol, data, state); an unknown id is None."""
    project = uuid4()
    row = session_row(project, "s", topic="cats")
    row.data = {"name": "Ada"}
    await dialog.sessions.create(row)
    found = await dialog.sessions.find(project, "s")
    assert found is not None
    assert (found.protocol, found.data, found.state) == (
        "xparo",
        {"name": "Ada"},
        {"topic": "cats"},
    )
    assert await dialog.sessions.find(project, "other") is None
    assert await dialog.sessions.deleted(project, "other") is False


async def test_a_merge_keeps_other_keys_and_moves_the_version_on(dialog: DialogStores) -> None:
    """Merging replaces only the keys given (data and state), and each merge raises the
    session's version (the fence a batch that read it before runs into)."""
    project = uuid4()
    await start(dialog.turns, project)
    before = await dialog.sessions.find(project, "s")
    assert before is not None
    first = await dialog.sessions.merge(project, "s", data={"a": 1}, state={"x": "1"})
    second = await dialog.sessions.merge(project, "s", data={"b": 2}, state={})
    assert first is not None and second is not None
    assert (second.data, second.state) == ({"a": 1, "b": 2}, {"x": "1"})
    assert before.version < first.version < second.version


async def test_a_merge_into_a_missing_session_is_none_unless_it_may_create_it(
    dialog: DialogStores,
) -> None:
    """Without `create_as` a merge into an unknown session changes nothing (None); with it
    the session is made for that protocol and holds the merge."""
    project = uuid4()
    assert await dialog.sessions.merge(project, "s", data={"a": 1}, state={}) is None
    assert await dialog.sessions.find(project, "s") is None
    made = await dialog.sessions.merge(project, "s", data={"a": 1}, state={}, create_as="besser")
    assert made is not None and (made.protocol, made.data) == ("besser", {"a": 1})
    found = await dialog.sessions.find(project, "s")
    assert found is not None and found.data == {"a": 1}


async def test_a_deleted_session_stays_deleted(dialog: DialogStores) -> None:
    """Delete answers the session it removed; afterwards it is not found, reads as deleted,
    has no history, is not deleted twice and is not made again by a merge that may create."""
    project = uuid4()
    await start(dialog.turns, project)
    gone = await dialog.sessions.delete(project, "s")
    assert gone is not None and gone.session_id == "s"
    assert await dialog.sessions.find(project, "s") is None
    assert await dialog.sessions.deleted(project, "s") is True
    assert await dialog.sessions.history(project, "s", until=None, limit=10) is None
    assert await dialog.sessions.delete(project, "s") is None
    assert await dialog.sessions.merge(project, "s", data={}, state={}, create_as="besser") is None


async def test_saying_into_a_session_keeps_the_message_and_moves_the_version_on(
    dialog: DialogStores,
) -> None:
    """A message said first into a live session is kept with the session's protocol and the
    session's version rises; into an unknown session nothing is kept (None)."""
    project = uuid4()
    await start(dialog.turns, project)
    before = await dialog.sessions.find(project, "s")
    message = said(project, "s", "Hello from the operator")
    row = await dialog.sessions.say(message)
    assert row is not None and before is not None and row.version > before.version
    assert message.protocol == "xparo"
    assert await dialog.turns.said_since(project, "s") == ["Hello from the operator"]
    assert await dialog.sessions.say(said(project, "nobody", "lost")) is None


async def test_history_is_the_newest_turns_oldest_first_since_the_last_reset(
    dialog: DialogStores,
) -> None:
    """History lists the user's turns (not what was said first), oldest first: the newest
    `limit` of them, none answered after `until`, and none before the last reset."""
    project = uuid4()
    await start(dialog.turns, project)
    rows = [turn(project, "s", f"a{n}", at=n) for n in range(3)]
    rows.append(turn(project, "s", "reset", at=3, event="reset"))
    rows += [turn(project, "s", f"b{n}", at=4 + n) for n in range(3)]
    await write(dialog.turns, [], rows)
    await dialog.sessions.say(said(project, "s", "said", at=10))

    def answers(found: list[TurnRow] | None) -> list[str]:
        assert found is not None
        return [t.answer for t in found]

    history = dialog.sessions.history
    assert answers(await history(project, "s", until=None, limit=10)) == [
        "reset",
        "b0",
        "b1",
        "b2",
    ]
    assert answers(await history(project, "s", until=None, limit=2)) == ["b1", "b2"]
    until = rows[5].answered_at
    assert answers(await history(project, "s", until=until, limit=10)) == ["reset", "b0", "b1"]


async def test_one_project_never_sees_or_deletes_another_projects_session(
    dialog: DialogStores,
) -> None:
    """Two projects with the same session id: each reads only its own turns, and deleting one
    leaves the other's session and transcript whole."""
    mine, theirs = uuid4(), uuid4()
    for project in (mine, theirs):
        await write(
            dialog.turns,
            [Changed(session(project), None)],
            [turn(project, "s", f"from {project}")],
        )
    history = await dialog.sessions.history(theirs, "s", until=None, limit=10)
    assert history is not None and [t.answer for t in history] == [f"from {theirs}"]
    await dialog.sessions.delete(mine, "s")
    assert await dialog.sessions.find(theirs, "s") is not None
    assert await dialog.sessions.deleted(theirs, "s") is False
    kept = await dialog.sessions.history(theirs, "s", until=None, limit=10)
    assert kept is not None and [t.answer for t in kept] == [f"from {theirs}"]
    last = await dialog.turns.last_row(theirs, "s")
    assert last is not None and last.answer == f"from {theirs}"
