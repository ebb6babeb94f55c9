"""The TurnBatches port (what answering a batch of turns reads and writes), the same on the
in-memory fake and on Postgres."""

from uuid import uuid4

import pytest

from services.dialog.sessions.store import MAX_SAID
from services.dialog.turns.store import AlreadyStored, Changed

from .dialog_rows import said, session, start, turn, write
from .stores import DialogStores


async def test_a_new_session_is_read_back_at_version_one(dialog: DialogStores) -> None:
    """A session a batch made reads back with its state at version 1; one never made is absent
    from the answer (not None: None means deleted)."""
    project = uuid4()
    assert (
        await write(dialog.turns, [Changed(session(project, "s", name="Ada"), None)], []) == set()
    )
    found = await dialog.turns.read_sessions([(project, "s"), (project, "new")])
    assert list(found) == [(project, "s")]
    row = found[(project, "s")]
    assert row is not None and (row.state, row.version) == ({"name": "Ada"}, 1)


async def test_each_write_from_a_fresh_read_moves_the_version_on(dialog: DialogStores) -> None:
    """A batch that read the session's current version writes it, and the version rises by one."""
    project = uuid4()
    await start(dialog.turns, project)
    for expected in (2, 3):
        [row] = (await dialog.turns.read_sessions([(project, "s")])).values()
        assert row is not None
        row.state = {"n": str(expected)}
        assert await write(dialog.turns, [Changed(row, row.version)], []) == set()
    [now] = (await dialog.turns.read_sessions([(project, "s")])).values()
    assert now is not None and (now.state, now.version) == ({"n": "3"}, 3)


async def test_a_stale_read_is_refused_with_its_turns(dialog: DialogStores) -> None:
    """A batch that read a session before another write is refused for it: neither its state
    nor its turns are stored; a new session made meanwhile refuses a second maker too."""
    project = uuid4()
    await start(dialog.turns, project)
    [read] = (await dialog.turns.read_sessions([(project, "s")])).values()
    assert read is not None
    await dialog.sessions.merge(project, "s", data={"vip": 1}, state={})
    read.state = {"stale": "yes"}
    late = turn(project, "s", "late")
    assert await write(dialog.turns, [Changed(read, read.version)], [late]) == {(project, "s")}
    assert await dialog.turns.stored([late.turn_event_id]) == {}
    [now] = (await dialog.turns.read_sessions([(project, "s")])).values()
    assert now is not None and now.state == {}
    second = await write(dialog.turns, [Changed(session(project, "s"), None)], [])
    assert second == {(project, "s")}


async def test_a_deleted_session_reads_as_none_and_is_not_made_again(
    dialog: DialogStores,
) -> None:
    """After a delete the session reads as None, and a batch that found it new cannot make it
    again (its turns are not stored)."""
    project = uuid4()
    await start(dialog.turns, project)
    await dialog.sessions.delete(project, "s")
    assert await dialog.turns.read_sessions([(project, "s")]) == {(project, "s"): None}
    again = turn(project, "s", "again")
    refused = await write(dialog.turns, [Changed(session(project, "s"), None)], [again])
    assert refused == {(project, "s")}
    assert await dialog.turns.stored([again.turn_event_id]) == {}


async def test_stored_turns_are_found_and_a_repeat_undoes_its_batch(dialog: DialogStores) -> None:
    """Written turns are found by their turn event id with what was answered; a batch holding
    a turn stored before raises AlreadyStored and none of its rows are kept."""
    project = uuid4()
    await start(dialog.turns, project)
    first = turn(project, "s", "first")
    await write(dialog.turns, [], [first])
    found = await dialog.turns.stored([first.turn_event_id, uuid4()])
    assert list(found) == [first.turn_event_id]
    assert (found[first.turn_event_id].answer, found[first.turn_event_id].project_key) == (
        "first",
        project,
    )
    fresh = turn(project, "s", "fresh")
    with pytest.raises(AlreadyStored):
        await write(dialog.turns, [], [fresh, first])
    assert await dialog.turns.stored([fresh.turn_event_id]) == {}


async def test_said_since_is_what_was_said_after_the_users_last_turn(
    dialog: DialogStores,
) -> None:
    """said_since lists messages said first and a state machine's tick answers since the user's
    last turn (a tick is not one), oldest first, at most MAX_SAID; the last row is the newest."""
    project = uuid4()
    await start(dialog.turns, project)
    await dialog.sessions.say(said(project, "s", "before"))
    await write(dialog.turns, [], [turn(project, "s", "user")])
    assert await dialog.turns.said_since(project, "s") == []
    for n in range(MAX_SAID):
        await dialog.sessions.say(said(project, "s", f"said {n}", at=n))
    tick = turn(project, "s", "the machine moved", at=30, event="tick")
    await write(dialog.turns, [], [tick])
    expected = [f"said {n}" for n in range(1, MAX_SAID)] + ["the machine moved"]
    assert await dialog.turns.said_since(project, "s") == expected
    last = await dialog.turns.last_row(project, "s")
    assert last is not None and last.turn_event_id == tick.turn_event_id
    assert await dialog.turns.last_row(project, "nobody") is None


async def test_one_project_never_reads_another_projects_turns(dialog: DialogStores) -> None:
    """Two projects with the same session id: sessions, said messages and last rows are read
    per project."""
    mine, theirs = uuid4(), uuid4()
    await start(dialog.turns, mine)
    await start(dialog.turns, theirs)
    await dialog.sessions.merge(theirs, "s", data={}, state={"who": "them"})
    await dialog.sessions.say(said(theirs, "s", "to them"))
    found = await dialog.turns.read_sessions([(mine, "s")])
    row = found[(mine, "s")]
    assert row is not None and row.state == {}
    assert await dialog.turns.said_since(mine, "s") == []
    assert await dialog.turns.last_row(mine, "s") is None
