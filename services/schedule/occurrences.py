"""When a cron entry next fires on the wall clock of its time zone, by cron's rule at
daylight-saving changes (pure: the instant to start from is passed in; all returned is UTC)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

# No zone moves its clocks by more than this at once; wall times are searched this far back.
_MAX_SHIFT = timedelta(hours=3)


def wall_instants(wall: datetime, tz: ZoneInfo, *, both_folds: bool) -> list[datetime]:
    """The UTC instants a naive wall time of `tz` stands for: one as a rule, the end of the gap
    for a time skipped by a spring-forward change, one or both for a time repeated at fall-back."""
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return [first.astimezone(UTC)]
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall:  # repeated
        folds = [first, second] if both_folds else [first]
        return [f.astimezone(UTC) for f in folds]
    # Skipped: the local clock reads less than `wall` at `second` and more at `first`; the
    # change itself lies in between, at whole seconds.
    lo, hi = second.astimezone(UTC), first.astimezone(UTC)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return [hi]


def _walls(cron: str, start: datetime) -> Iterator[datetime]:
    matches = croniter(cron, start)
    while True:
        yield matches.get_next(datetime)


def next_occurrence(cron: str, tz: ZoneInfo, *, after: datetime) -> datetime:
    """The first instant after `after` at which `cron` matches the wall clock of `tz`.

    Cron's rule at daylight-saving changes: a time skipped when clocks go forward fires once, at
    the end of the gap; a time repeated when clocks go back fires once if the entry names its
    hour and minute (`30 2 * * *`), but in both passes if its minute or hour is a wildcard
    (`*/15 * * * *`, which follows real time).
    """
    minute, hour = cron.split(" ")[:2]
    both_folds = minute.startswith("*") or hour.startswith("*")
    start = after.astimezone(tz).replace(tzinfo=None)
    # Near a fall-back change an earlier wall time may still be ahead (its second pass): start
    # that much earlier.
    before, later = ((after + d).astimezone(tz).utcoffset() for d in (-_MAX_SHIFT, _MAX_SHIFT))
    if before is not None and later is not None and before > later:
        start -= before - later
    best: datetime | None = None
    for wall in _walls(cron, start):
        instants = wall_instants(wall, tz, both_folds=both_folds)
        if best is not None and instants[0] >= best:
            break  # wall times only move later from here
        for instant in instants:
            if instant > after and (best is None or instant < best):
                best = instant
    assert best is not None
    return best
