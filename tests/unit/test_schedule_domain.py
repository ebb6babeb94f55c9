"""The schedule's pure logic: XPARO entries checked, next occurrences across daylight-saving
changes, what firing decides and sends."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from services.schedule.domain import (
    DueEntry,
    EntryRefused,
    ScheduleRefused,
    fire_id,
    fired_command,
    parse_entries,
    parse_entry,
    settle,
)
from services.schedule.occurrences import next_occurrence
from shared.contracts import RemoteCommand

NOW = datetime(2026, 7, 1, 12, 0, 30, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def _refusal(value: Any, name: str = "wave") -> str:
    with pytest.raises(EntryRefused) as err:
        parse_entry(name, value, now=NOW)
    return err.value.message


def test_one_shot_entries_are_due_at_their_wall_time_in_their_zone() -> None:
    """date + time is UTC unless a zone is named; HH:MM:SS is accepted; the value is kept."""
    utc = parse_entry("wave", {"date": "2026-07-23", "time": "21:00"}, now=NOW)
    assert (utc.due, utc.cron, utc.timezone) == (datetime(2026, 7, 23, 21, tzinfo=UTC), None, "UTC")
    assert utc.value == {"date": "2026-07-23", "time": "21:00"}
    value = {"date": "2026-07-23", "time": "21:00:15", "timezone": "Europe/Berlin"}
    berlin = parse_entry("wave", value, now=NOW)
    assert berlin.due == datetime(2026, 7, 23, 19, 0, 15, tzinfo=UTC)  # CEST is UTC+2
    assert berlin.value == value


def test_repeating_entries_are_due_at_the_next_match() -> None:
    """A cron entry is first due at its next match after now, in its zone (UTC by default)."""
    daily = parse_entry("dock", {"cron": "0 9 * * *", "timezone": "Europe/Berlin"}, now=NOW)
    assert (daily.cron, daily.due) == ("0 9 * * *", datetime(2026, 7, 2, 7, tzinfo=UTC))
    hourly = parse_entry("ping", {"cron": "0  *  * * *"}, now=NOW)
    assert (hourly.cron, hourly.timezone) == ("0 * * * *", "UTC")
    assert hourly.due == datetime(2026, 7, 1, 13, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"date": "2026-02-30", "time": "10:00"}, "'2026-02-30' is not a date"),
        ({"date": "2026-7-1", "time": "10:00"}, "is not a date"),
        ({"date": "2026-07-02", "time": "24:00"}, "'24:00' is not a time of day"),
        ({"date": "2026-07-02", "time": "12:60"}, "'12:60' is not a time of day"),
        ({"date": "2026-07-02", "time": "25:00"}, "is not a time of day"),
        (
            {"date": "2026-07-02", "time": "\u0660\u0669:\u0660\u0660"},
            "is not a time",
        ),  # Arabic-Indic digits
        ({"date": "2026-07-01", "time": "11:59"}, "2026-07-01 11:59 UTC has already passed"),
        ({"date": "2026-07-02"}, "needs both date and time"),
        ({"date": "2026-07-02", "time": "10:00", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"date": "2026-07-02", "time": "10:00", "timezone": "../../etc/passwd"}, "time zone"),
        ({"cron": "0 9 * *"}, "must have 5 fields"),
        ({"cron": "0 9 * * * 2030"}, "must have 5 fields"),
        ({"cron": "61 9 * * *"}, "is not valid"),
        ({"cron": "0 0 30 2 *"}, "never matches"),
        ({"cron": "@daily"}, "must have 5 fields"),
        ({"cron": "0 9 * * *", "date": "2026-07-02"}, "unknown key 'date'"),
        ({"date": "2026-07-02", "time": "10:00", "repeat": "yes"}, "unknown key 'repeat'"),
        ({"date": "2026-07-02", "time": 1000}, "'time' must be a string"),
        ({"cron": "0 9 * * *", "timezone": "x" * 101}, "longer than 100 characters"),
        ("2026-07-02 10:00", "an entry is an object"),
        ([], "an entry is an object"),
    ],
)
def test_bad_values_are_refused_with_what_is_wrong(value: Any, message: str) -> None:
    """Impossible dates and times, past one-shots, unknown zones, bad cron and odd shapes are
    refused with a message naming the problem."""
    assert message in _refusal(value)


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".", "", "with space", "x" * 129, "é"])
def test_names_that_are_paths_or_oversized_are_refused(name: str) -> None:
    """An entry's name is the command it fires: no path segments, separators or oversized
    names."""
    message = _refusal({"date": "2026-07-02", "time": "10:00"}, name=name)
    assert "name" in message or "'.' and '..'" in message


def test_the_current_minute_is_not_yet_past() -> None:
    """A one-shot set for the minute now running is accepted (and will fire at once)."""
    entry = parse_entry("now", {"date": "2026-07-01", "time": "12:00"}, now=NOW)
    assert entry.due == datetime(2026, 7, 1, 12, tzinfo=UTC)


def test_a_change_lists_every_bad_entry_and_keeps_none() -> None:
    """One problem per bad entry (names cut short, never echoed whole); good entries do not
    save the change."""
    entries = {
        "good": {"date": "2026-08-01", "time": "08:00"},
        "feb": {"date": "2026-02-30", "time": "08:00"},
        "n" * 500: {"cron": "0 9 * * *"},
    }
    with pytest.raises(ScheduleRefused) as err:
        parse_entries(entries, now=NOW)
    assert [(p.entry[:4], len(p.entry) <= 129) for p in err.value.problems] == [
        ("feb", True),
        ("nnnn", True),
    ]


def test_a_robot_holds_at_most_the_limit_counting_what_it_has() -> None:
    """Existing and new names together may not exceed the limit; replacing an entry is free."""
    one = {"date": "2026-08-01", "time": "08:00"}
    assert len(parse_entries({"a": one, "b": one}, now=NOW, existing={"a", "c"}, limit=3)) == 2
    with pytest.raises(ScheduleRefused) as err:
        parse_entries({"b": one, "d": one}, now=NOW, existing={"a", "c"}, limit=3)
    [problem] = err.value.problems
    assert problem.message == "a robot holds at most 3 entries; this change would make 4"


def _walk(cron: str, start: datetime, count: int) -> list[str]:
    """`count` successive occurrences, as Berlin wall times with their offsets."""
    found, at = [], start
    for _ in range(count):
        at = next_occurrence(cron, BERLIN, after=at)
        found.append(at.astimezone(BERLIN).strftime("%m-%d %H:%M%z"))
    return found


def test_cron_in_berlin_across_the_spring_forward_change() -> None:
    """2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 fires once at 03:00, the day after at
    02:30 CEST again; a 09:00 entry stays at 09:00 local time (07:00 UTC instead of 08:00)."""
    start = datetime(2026, 3, 27, 12, tzinfo=UTC)
    assert _walk("30 2 * * *", start, 3) == [
        "03-28 02:30+0100",
        "03-29 03:00+0200",
        "03-30 02:30+0200",
    ]
    assert [d.astimezone(UTC).hour for d in _utc_walk("0 9 * * *", start, 3)] == [8, 7, 7]
    assert _walk("*/20 2 * * *", datetime(2026, 3, 29, 0, tzinfo=UTC), 2) == [
        "03-29 03:00+0200",  # 02:00, 02:20 and 02:40 were skipped: one firing at the gap's end
        "03-30 02:00+0200",
    ]


def _utc_walk(cron: str, start: datetime, count: int) -> list[datetime]:
    found, at = [], start
    for _ in range(count):
        at = next_occurrence(cron, BERLIN, after=at)
        found.append(at)
    return found


def test_cron_in_berlin_across_the_fall_back_change() -> None:
    """2026-10-25 03:00 CEST goes back to 02:00 CET: a fixed 02:30 fires once that night, while
    wildcard entries follow real time and fire in both passes of the repeated hour."""
    start = datetime(2026, 10, 24, 23, tzinfo=UTC)
    assert _walk("30 2 * * *", start, 2) == ["10-25 02:30+0200", "10-26 02:30+0100"]
    assert _walk("15 * * * *", start, 4) == [
        "10-25 01:15+0200",
        "10-25 02:15+0200",
        "10-25 02:15+0100",
        "10-25 03:15+0100",
    ]
    # From inside the second pass, the next half hour is the second 02:30, not 03:00.
    inside = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 02:10 CET
    assert _walk("*/30 * * * *", inside, 2) == ["10-25 02:30+0100", "10-25 03:00+0100"]
    # From the end of the first pass, the second pass is still ahead.
    first_pass_end = datetime(2026, 10, 25, 0, 45, tzinfo=UTC)  # 02:45 CEST
    assert _walk("*/30 * * * *", first_pass_end, 1) == ["10-25 02:00+0100"]


def _due(due: datetime, cron: str | None = None, tz: str = "UTC") -> DueEntry:
    return DueEntry(uuid4(), uuid4(), "r1", "wave", cron, tz, due)


def test_a_due_one_shot_fires_within_grace_and_is_then_done() -> None:
    """Within the grace window a one-shot fires for its due time; beyond it, it is dropped.
    Either way it is never due again."""
    due = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert settle(_due(due), now=due + timedelta(seconds=299), grace_s=300).fire_for == due
    late = settle(_due(due), now=due + timedelta(seconds=301), grace_s=300)
    assert (late.fire_for, late.next_due) == (None, None)


def test_a_late_repeating_entry_fires_once_and_moves_past_now() -> None:
    """A repeating entry behind by several occurrences fires once (for its first occurrence
    within the grace window) and then waits for its next occurrence after now."""
    entry = _due(datetime(2026, 7, 1, 11, 0, tzinfo=UTC), cron="*/10 * * * *")
    now = datetime(2026, 7, 1, 11, 42, tzinfo=UTC)
    firing = settle(entry, now=now, grace_s=900)
    assert firing.fire_for == datetime(2026, 7, 1, 11, 30, tzinfo=UTC)
    assert firing.next_due == datetime(2026, 7, 1, 11, 50, tzinfo=UTC)
    quiet = settle(entry, now=now, grace_s=60)
    assert (quiet.fire_for, quiet.next_due) == (None, firing.next_due)


def test_fire_ids_are_the_same_for_one_entry_and_due_time_only() -> None:
    """Every replica (and every retry) derives the same event id for one firing, whatever the
    offset the due time is written in; another due time or entry gives another id."""
    entry = _due(datetime(2026, 7, 1, 12, tzinfo=UTC))
    same = entry.due.astimezone(BERLIN)
    assert fire_id(entry.id, entry.due) == fire_id(entry.id, same)
    assert fire_id(entry.id, entry.due) != fire_id(entry.id, entry.due + timedelta(minutes=1))
    assert fire_id(entry.id, entry.due) != fire_id(uuid4(), entry.due)


def test_a_firing_sends_the_entry_as_a_remote_command_that_expires_after_grace() -> None:
    """The command is the entry's name, with when it was scheduled for; the event id is the
    fire id and the command expires when the grace window ends."""
    entry = _due(datetime(2026, 7, 1, 12, tzinfo=UTC))
    issued = fired_command(entry, entry.due, now=NOW, grace_s=300)
    assert issued.event_id == fire_id(entry.id, entry.due) == issued.correlation_id
    assert issued.command == RemoteCommand(
        command="wave", parameters={"scheduled_for": "2026-07-01T12:00:00+00:00", "entry": "wave"}
    )
    assert (issued.project_key, issued.robot_id, issued.issued_by) == (
        entry.project_key,
        "r1",
        "schedule",
    )
    assert issued.expires_at == entry.due + timedelta(seconds=300)
