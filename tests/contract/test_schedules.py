"""The ScheduleStore port (robots' schedules and what falls due), the same on the in-memory
fake and on Postgres."""

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from services.schedule.domain import Entry, Firing
from services.schedule.store import PgScheduleStore, ScheduleStore
from tests.support.backends import Backends
from tests.support.memory_schedule import MemorySchedules

from .stores import BACKENDS, open_database

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
# The firing loop claims due rows of every project: each test claims in an era of its own,
# before the rows earlier tests left behind (a settled row only moves later).
_ERAS = itertools.count()


@pytest.fixture(scope="module")
async def pg_schedules(backends: Backends) -> AsyncIterator[PgScheduleStore]:
    db = await open_database(backends)
    yield PgScheduleStore(db)
    await db.close()


@pytest.fixture(params=BACKENDS)
def schedules(request: pytest.FixtureRequest) -> ScheduleStore:
    """The schedule store, in memory or on Postgres."""
    if request.param == "memory":
        return MemorySchedules()
    store: PgScheduleStore = request.getfixturevalue("pg_schedules")
    return store


@pytest.fixture
def era() -> datetime:
    """A time no earlier test's row falls due at or before."""
    return datetime(1990, 1, 1, tzinfo=UTC) - timedelta(days=30 * next(_ERAS))


def entry(name: str, due: datetime = NOW, *, cron: str | None = None, text: str = "") -> Entry:
    return Entry(name=name, value={"command": text or name}, timezone="UTC", cron=cron, due=due)


async def upsert(store: ScheduleStore, project: UUID, robot: str, *entries: Entry) -> object:
    async with store.editing(project, robot) as editing:
        return await editing.upsert(entries, now=NOW)


async def test_a_schedule_reads_back_by_name_and_a_missing_one_is_empty(
    schedules: ScheduleStore,
) -> None:
    """An upsert answers the robot's whole schedule in name order, which is what it reads back
    afterwards; a robot with none has an empty schedule."""
    project = uuid4()
    answered = await upsert(schedules, project, "r1", entry("wave"), entry("dock"))
    expected = {"dock": {"command": "dock"}, "wave": {"command": "wave"}}
    assert answered == expected
    read = await schedules.schedule(project, "r1")
    assert read == expected and list(read) == ["dock", "wave"]
    assert await schedules.schedule(project, "r2") == {}
    async with schedules.editing(project, "r1") as editing:
        assert await editing.names() == {"dock", "wave"}


async def test_an_upsert_replaces_entries_of_the_same_name_and_keeps_the_rest(
    schedules: ScheduleStore,
) -> None:
    """Upserting a name already there replaces its value; other entries stay."""
    project = uuid4()
    await upsert(schedules, project, "r1", entry("wave"), entry("dock"))
    answered = await upsert(schedules, project, "r1", entry("wave", text="wave twice"))
    assert answered == {"dock": {"command": "dock"}, "wave": {"command": "wave twice"}}


async def test_delete_removes_the_named_entries_or_all(schedules: ScheduleStore) -> None:
    """Deleting names removes those (an unknown one is ignored) and answers what is left;
    deleting None empties the schedule."""
    project = uuid4()
    await upsert(schedules, project, "r1", entry("a"), entry("b"), entry("c"))
    async with schedules.editing(project, "r1") as editing:
        assert await editing.delete(["a", "nope"]) == {"b": {"command": "b"}, "c": {"command": "c"}}
        assert await editing.delete(None) == {}
    assert await schedules.schedule(project, "r1") == {}


async def test_one_project_never_sees_or_changes_another_projects_robot(
    schedules: ScheduleStore,
) -> None:
    """The same robot id in two projects has two schedules: writing or deleting one leaves the
    other as it was."""
    mine, theirs = uuid4(), uuid4()
    await upsert(schedules, theirs, "r1", entry("theirs"))
    await upsert(schedules, mine, "r1", entry("mine"))
    async with schedules.editing(mine, "r1") as editing:
        assert await editing.names() == {"mine"}
        await editing.delete(None)
    assert await schedules.schedule(theirs, "r1") == {"theirs": {"command": "theirs"}}


async def test_due_claims_what_is_due_soonest_first_and_up_to_the_limit(
    schedules: ScheduleStore, era: datetime
) -> None:
    """A claim holds the entries due by `now`, soonest first, at most `limit`; one not yet due
    is left out, and an entry comes with its robot, project and cron."""
    project = uuid4()
    minutes = [era + timedelta(minutes=n) for n in range(4)]
    await upsert(
        schedules,
        project,
        "r1",
        entry("third", minutes[2]),
        entry("first", minutes[0], cron="* * * * *"),
        entry("second", minutes[1]),
        entry("later", minutes[3]),
    )
    async with schedules.due(now=minutes[2], limit=2) as batch:
        claimed = [(e.name, e.due, e.project_key, e.robot_id) for e in batch.entries]
        assert claimed == [
            ("first", minutes[0], project, "r1"),
            ("second", minutes[1], project, "r1"),
        ]
        assert batch.entries[0].cron == "* * * * *"
    async with schedules.due(now=minutes[2], limit=10) as batch:
        assert [e.name for e in batch.entries] == ["first", "second", "third"]


async def test_a_settled_entry_falls_due_at_its_next_time_or_never(
    schedules: ScheduleStore, era: datetime
) -> None:
    """Settling moves an entry to its next due time (claimed again only then), or, with none,
    out of the firing for good while it stays in the robot's schedule; a claim whose block
    fails settles nothing."""
    project = uuid4()
    later = era + timedelta(hours=1)
    await upsert(schedules, project, "r1", entry("daily", era), entry("once", era))
    with pytest.raises(RuntimeError):
        async with schedules.due(now=era, limit=10) as batch:
            for due in batch.entries:
                batch.settle(due, Firing(fire_for=era, next_due=None), fired_at=era)
            raise RuntimeError("the replica failed before its commit")
    async with schedules.due(now=era, limit=10) as batch:
        assert sorted(e.name for e in batch.entries) == ["daily", "once"]
        for due in batch.entries:
            next_due = later if due.name == "daily" else None
            batch.settle(due, Firing(fire_for=era, next_due=next_due), fired_at=era)
    async with schedules.due(now=later - timedelta(seconds=1), limit=10) as batch:
        assert batch.entries == []
    async with schedules.due(now=later, limit=10) as batch:
        assert [(e.name, e.due) for e in batch.entries] == [("daily", later)]
    assert set(await schedules.schedule(project, "r1")) == {"daily", "once"}


async def test_a_replaced_or_deleted_entry_is_due_as_it_now_is(
    schedules: ScheduleStore, era: datetime
) -> None:
    """An entry upserted again falls due at its new time (with the same id), and a deleted
    one is never claimed."""
    project = uuid4()
    await upsert(schedules, project, "r1", entry("moved", era), entry("gone", era))
    async with schedules.due(now=era, limit=10) as batch:
        ids = {e.name: e.id for e in batch.entries}
    await upsert(schedules, project, "r1", entry("moved", era - timedelta(minutes=1)))
    async with schedules.editing(project, "r1") as editing:
        await editing.delete(["gone"])
    async with schedules.due(now=era, limit=10) as batch:
        claimed = [(e.name, e.id, e.due) for e in batch.entries]
    assert claimed == [("moved", ids["moved"], era - timedelta(minutes=1))]
