"""The schedule's pure logic: checking XPARO entries, when they are due, what firing sends.

No I/O here: the clock is passed in. Times are wall-clock times of the entry's time zone (cron's
rule at daylight-saving changes, see `next_occurrence`); everything returned is aware UTC.
"""

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo, available_timezones

from croniter import CroniterBadDateError, CroniterError, croniter
from pydantic import TypeAdapter, ValidationError

from shared.contracts import RemoteCommand, RobotCommandIssued, ScheduleProblem
from shared.contracts.schedule import MAX_ENTRIES, EntryName

from .occurrences import next_occurrence, wall_instants

ISSUED_BY = "schedule"
MAX_VALUE_CHARS = 100
ONE_SHOT_KEYS = frozenset({"date", "time", "timezone"})
REPEATING_KEYS = frozenset({"cron", "timezone"})
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # fullmatch: ASCII digits only
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}(:[0-9]{2})?")
_NAME = TypeAdapter[str](EntryName)
_SHAPE = 'give {"date": "YYYY-MM-DD", "time": "HH:MM"} or {"cron": "<5 fields>"} (+ "timezone")'
_CRON_HELP = "minute hour day month weekday, e.g. '0 9 * * 1-5'"


class ScheduleError(Exception):
    """Root of the schedule service's errors."""


class EntryRefused(ScheduleError):
    """One entry cannot be stored; `message` says why in the user's terms."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ScheduleRefused(ScheduleError):
    """A change that is refused as a whole (nothing is stored), with one problem per cause."""

    def __init__(self, problems: list[ScheduleProblem]) -> None:
        super().__init__("; ".join(f"{p.entry}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Entry:
    """A checked entry: its XPARO value as given, and when it is next due."""

    name: str
    value: dict[str, str]
    timezone: str
    cron: str | None
    due: datetime


@dataclass(frozen=True)
class DueEntry:
    """An entry whose time has come, as the firing loop reads it."""

    id: UUID
    project_key: UUID
    robot_id: str
    name: str
    cron: str | None
    timezone: str
    due: datetime


@dataclass(frozen=True)
class Firing:
    """What to do with a due entry: fire for `fire_for` (None: too late), then wait for
    `next_due` (None: done)."""

    fire_for: datetime | None
    next_due: datetime | None


def short(text: str, limit: int = 60) -> str:
    """`text` cut short, so that no oversized input is echoed whole."""
    return text if len(text) <= limit else text[:limit] + "…"


def shown(text: str, limit: int = 60) -> str:
    """`text` quoted for a message, cut short."""
    return repr(short(text, limit))


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or EntryRefused (only names of the zone database count)."""
    if name not in _zone_names():
        raise EntryRefused(f"unknown time zone {shown(name)} (an IANA name like Europe/Berlin)")
    return ZoneInfo(name)


def check_name(name: str) -> str:
    """`name` if it can name an entry (and the robot command it fires), else EntryRefused."""
    try:
        _NAME.validate_python(name)
    except ValidationError as err:
        raise EntryRefused(
            "a name is 1 to 128 letters, digits or _ . : - (no / or spaces)"
        ) from err
    if set(name) == {"."}:
        raise EntryRefused("'.' and '..' cannot name an entry")
    return name


def _strings(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise EntryRefused(f"an entry is an object: {_SHAPE}")
    allowed = REPEATING_KEYS if "cron" in value else ONE_SHOT_KEYS
    for key, item in value.items():
        if key not in allowed:
            raise EntryRefused(f"unknown key {shown(str(key))}: {_SHAPE}")
        if not isinstance(item, str):
            raise EntryRefused(f"{key!r} must be a string")
        if len(item) > MAX_VALUE_CHARS:
            raise EntryRefused(f"{key!r} is longer than {MAX_VALUE_CHARS} characters")
    return dict(value)


def parse_entry(name: str, value: object, *, now: datetime) -> Entry:
    """Check one XPARO entry at time `now`; EntryRefused says what is wrong with it."""
    check_name(name)
    fields = _strings(value)
    tz_name = fields.get("timezone", "UTC")
    tz = zone(tz_name)
    if "cron" in fields:
        cron = check_cron(fields["cron"])
        return Entry(name, fields, tz_name, cron, next_occurrence(cron, tz, after=now))
    if "date" not in fields or "time" not in fields:
        raise EntryRefused(f"a one-shot entry needs both date and time: {_SHAPE}")
    due = one_shot_due(fields["date"], fields["time"], tz)
    if due < now.replace(second=0, microsecond=0):
        raise EntryRefused(f"{fields['date']} {fields['time']} {tz_name} has already passed")
    return Entry(name, fields, tz_name, None, due)


def parse_entries(
    entries: Mapping[str, Any],
    *,
    now: datetime,
    existing: Collection[str] = (),
    limit: int = MAX_ENTRIES,
) -> list[Entry]:
    """Check every entry of a change; ScheduleRefused lists each bad one (and a full robot)."""
    parsed, problems = [], []
    for name, value in entries.items():
        try:
            parsed.append(parse_entry(name, value, now=now))
        except EntryRefused as err:
            problems.append(ScheduleProblem(entry=short(name, 128), message=err.message))
    total = len(set(existing) | set(entries))
    if total > limit:
        message = f"a robot holds at most {limit} entries; this change would make {total}"
        problems.append(ScheduleProblem(entry="*", message=message))
    if problems:
        raise ScheduleRefused(problems)
    return parsed


def check_cron(expression: str) -> str:
    """`expression` if it is a 5-field cron expression that ever matches, else EntryRefused."""
    normal = " ".join(expression.split())
    if len(normal.split(" ")) != 5:
        raise EntryRefused(f"cron {shown(expression)} must have 5 fields: {_CRON_HELP}")
    try:
        croniter(normal, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError as err:
        raise EntryRefused(f"cron {shown(expression)} never matches a date") from err
    except (CroniterError, ValueError, KeyError, IndexError, OverflowError) as err:
        raise EntryRefused(f"cron {shown(expression)} is not valid: {_CRON_HELP}") from err
    return normal


def one_shot_due(day: str, at: str, tz: ZoneInfo) -> datetime:
    """The instant of `day` `at` (HH:MM or HH:MM:SS) on the wall clock of `tz`."""
    try:
        if not _DATE.fullmatch(day):
            raise ValueError
        wall_day = date.fromisoformat(day)
    except ValueError as err:
        raise EntryRefused(f"{shown(day)} is not a date (YYYY-MM-DD)") from err
    try:
        if not _TIME.fullmatch(at):
            raise ValueError
        wall_time = time.fromisoformat(at)
    except ValueError as err:
        raise EntryRefused(f"{shown(at)} is not a time of day (HH:MM, 00:00 to 23:59)") from err
    return wall_instants(datetime.combine(wall_day, wall_time), tz, both_folds=False)[0]


def settle(entry: DueEntry, *, now: datetime, grace_s: float) -> Firing:
    """Fire a due entry for its due time if that is within the grace window; a repeating entry
    further behind fires for its first occurrence within the window, if there was one. Either
    way a repeating entry then waits for its first occurrence after `now`."""
    grace = timedelta(seconds=grace_s)
    fire_for: datetime | None = entry.due if now - entry.due <= grace else None
    if entry.cron is None:
        return Firing(fire_for, None)
    tz = ZoneInfo(entry.timezone)
    if fire_for is None:
        recent = next_occurrence(entry.cron, tz, after=now - grace)
        fire_for = recent if recent <= now else None
    return Firing(fire_for, next_occurrence(entry.cron, tz, after=now))


def fire_id(entry_id: UUID, due: datetime) -> UUID:
    """The event id (and Nats-Msg-Id) of firing one entry for one due time: the same on every
    replica and every retry, so the stream's dedupe drops a repeat."""
    return uuid5(entry_id, due.astimezone(UTC).isoformat())


def fired_command(
    entry: DueEntry, fire_for: datetime, *, now: datetime, grace_s: float
) -> RobotCommandIssued:
    """The robot command a firing sends: the entry's name as a remote command. It expires at
    the end of the grace window (a robot offline then should not run it hours late)."""
    event_id = fire_id(entry.id, fire_for)
    scheduled_for = fire_for.astimezone(UTC).isoformat()
    return RobotCommandIssued(
        event_id=event_id,
        correlation_id=event_id,
        occurred_at=now,
        project_key=entry.project_key,
        robot_id=entry.robot_id,
        command=RemoteCommand(
            command=entry.name, parameters={"scheduled_for": scheduled_for, "entry": entry.name}
        ),
        expires_at=fire_for + timedelta(seconds=grace_s),
        issued_by=ISSUED_BY,
    )
