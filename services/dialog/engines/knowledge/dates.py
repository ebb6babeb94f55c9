"""Dates (system_date, "YYYY-MM-DD") and times (system_time, "HH:MM:SS") said in text.

dateparser finds and reads English (and what it can of Chinese): search_dates finds the words,
and each is read again with DateDataParser, which both reads relative phrases better ("the day
after tomorrow") and says whether a time of day was given. dateparser misses "10am" in a
sentence and most Chinese, so a small table reads clock times and the common Chinese forms
(明天, 下周三, 7月5日, 三天后, 下午三点半).
"""

import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from shared.contracts.knowledge import Lang

from .text import Found, cn_number, is_cjk

DATE, TIME = "system_date", "system_time"

_EN_DATE_SAID = re.compile(
    r"\b(?:today|tonight|tomorrow|yesterday|weekend|days?|weeks?|months?|years?|"
    r"(?:mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*)\b"
    r"|\d(?:st|nd|rd|th)\b|\d[/.-]\d",
    re.I,
)
_EN_TIME_SAID = re.compile(
    r"\d|\b(?:noon|midnight|o'?clock)\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten"
    r"|eleven|twelve|fifteen|twenty|thirty|forty|fifty)\s+(?:hours?|minutes?)\b",
    re.I,
)
_EN_NOT_DATES = frozenset(("may", "sun", "sat", "march", "mar"))
_BARE_NUMBER = re.compile(r"\W*\d+\W*")
# dateparser takes "table for two tomorrow" as "two tomorrow": the count is not the date's.
_COUNT_BEFORE_DAY = re.compile(
    r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+"
    r"(?=(?:today|tonight|tomorrow)\b)",
    re.I,
)
_EN_CLOCK = re.compile(
    r"(?<![A-Za-z0-9:])(?:(\d{1,2})(?::(\d{2}))?\s*(?:([ap])\.?m\b\.?|o'?clock\b)"
    r"|(\d{1,2}):(\d{2})(?![0-9:])|\b(noon|midnight)\b)",
    re.I,
)
_AROUND_DATE = re.compile(
    r"(?:\b(?:at|on|around|by)\b|[\s,])*(.*?)(?:\s*\b(?:at|on|around|by)|[\s,])*$", re.I
)
_BARE_HOUR = re.compile(r"(?:at\s+)?(\d{1,2})(?::(\d{2}))?", re.I)
_CN_NUMERAL = "\\d零一二两三四五六七八九十"
_CN_DAYS = {"大后天": 3, "后天": 2, "明天": 1, "明日": 1, "明晚": 1, "明早": 1}
_CN_DAYS |= {"今天": 0, "今日": 0, "今晚": 0, "今早": 0, "昨天": -1, "前天": -2}
_CN_DAY = re.compile("|".join(sorted(_CN_DAYS, key=len, reverse=True)))
_CN_WEEKDAY = re.compile("(下个?|这个?|本)?(?:周|星期|礼拜)([一二三四五六日天])")
_CN_MONTH_DAY = re.compile(
    f"(?:(\\d{{4}})年)?([{_CN_NUMERAL}]{{1,3}})月([{_CN_NUMERAL}]{{1,3}})[日号]"
)
_CN_LATER = re.compile(f"([{_CN_NUMERAL}]{{1,3}})天(?:以后|之后|后)")
_CN_CLOCK = re.compile(
    f"(凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|今晚|明晚)?([{_CN_NUMERAL}]{{1,3}})[点時时]"
    f"(?:(半)|(一刻)|([{_CN_NUMERAL}]{{1,3}})分?)?"
)
_CN_AFTERNOON = frozenset(("下午", "傍晚", "晚上", "今晚", "明晚"))


def _number(said: str) -> int:
    return int(said) if said.isdigit() else cn_number(said)


def _clock(start: int, end: int, key: str, hour: int, minute: int) -> Found | None:
    if hour > 23 or minute > 59:
        return None
    return Found(TIME, key, time(hour, minute).isoformat(), start, end)


def _day(start: int, end: int, key: str, day: date) -> Found:
    return Found(DATE, key, day.isoformat(), start, end)


def _cn_weekday(m: re.Match[str], today: date) -> date:
    wanted = "一二三四五六日".find(m.group(2)) % 7 if m.group(2) != "天" else 6
    monday = today - timedelta(today.weekday())
    next_week = (m.group(1) or "").startswith("下")
    if next_week or (not m.group(1) and wanted < today.weekday()):
        monday += timedelta(7)
    return monday + timedelta(wanted)


def _cn_hour(period: str | None, hour: int) -> int:
    if (period in _CN_AFTERNOON and hour < 12) or (period == "中午" and hour < 11):
        return hour + 12
    return hour


def _cn_dates(text: str, today: date) -> Iterator[Found | None]:
    for m in _CN_DAY.finditer(text):
        yield _day(m.start(), m.end(), m.group(), today + timedelta(_CN_DAYS[m.group()]))
    for m in _CN_WEEKDAY.finditer(text):
        yield _day(m.start(), m.end(), m.group(), _cn_weekday(m, today))
    for m in _CN_MONTH_DAY.finditer(text):
        year = int(m.group(1)) if m.group(1) else today.year
        try:
            day = date(year, _number(m.group(2)), _number(m.group(3)))
        except ValueError:
            continue
        if not m.group(1) and day < today:
            day = day.replace(year=year + 1)
        yield _day(m.start(), m.end(), m.group(), day)
    for m in _CN_LATER.finditer(text):
        yield _day(m.start(), m.end(), m.group(), today + timedelta(_number(m.group(1))))
    for m in _CN_CLOCK.finditer(text):
        minute = 30 if m.group(3) else 15 if m.group(4) else _number(m.group(5) or "0")
        hour = _cn_hour(m.group(1), _number(m.group(2)))
        yield _clock(m.start(), m.end(), m.group(), hour, minute)


def _parsed_dates(text: str, base: datetime, languages: list[str]) -> Iterator[Found | None]:
    from dateparser.date import DateDataParser  # on the first date read (0.1 s)
    from dateparser.search import search_dates

    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future"}
    reader = DateDataParser(
        languages=languages, settings=settings | {"RETURN_TIME_AS_PERIOD": True}
    )
    cursor = 0
    for said, _ in search_dates(text, languages=languages, settings=settings) or []:
        start = text.find(said, cursor)
        cursor = end = start + len(said)
        data = reader.get_date_data(said)
        if (
            start < 0
            or data.date_obj is None
            or said.strip().casefold() in _EN_NOT_DATES
            or _BARE_NUMBER.fullmatch(said)
        ):
            continue
        if _EN_DATE_SAID.search(said) or data.period != "time":
            first, last = _date_words(said)
            yield _day(start + first, start + last, said[first:last], data.date_obj.date())
        if data.period == "time" and _EN_TIME_SAID.search(said):
            yield _clock(start, end, said, data.date_obj.hour, data.date_obj.minute)


def _date_words(said: str) -> tuple[int, int]:
    """Where the date is in `said`, without "on"/"at" around it or a clock time said with it
    ("tomorrow at 3pm" → "tomorrow")."""
    count = _COUNT_BEFORE_DAY.match(said)
    first, last = (count.end() if count else 0), len(said)
    clock = _EN_CLOCK.search(said, first)
    if clock is not None:
        last = clock.start()
        if not _EN_DATE_SAID.search(said[first:last]):
            first, last = clock.end(), len(said)
    core = _AROUND_DATE.fullmatch(said, first, last)
    return core.span(1) if core and core.group(1) else (0, len(said))


def _clock_times(text: str) -> Iterator[Found | None]:
    for m in _EN_CLOCK.finditer(text):
        if m.group(6):
            hour, minute = (12 if m.group(6).lower() == "noon" else 0), 0
        elif m.group(4):
            hour, minute = int(m.group(4)), int(m.group(5))
        else:
            hour, minute, half = int(m.group(1)), int(m.group(2) or 0), (m.group(3) or "").lower()
            if half and hour > 12:
                continue  # "13pm" is no time
            if half:
                hour = hour % 12 + (12 if half == "p" else 0)
        yield _clock(m.start(), m.end(), m.group(), hour, minute)


def find_dates(text: str, *, lang: Lang, now: datetime, asking: bool = False) -> list[Found]:
    """Dates and times said in `text`, in text order, relative to `now` (the user's time).

    Args:
        text: What the user said.
        lang: The caller's language; Chinese text is read as Chinese whatever it says.
        now: When the user speaks, in the user's time zone (its wall-clock time is used):
            "tomorrow" is the day after now's date; "at 10am" is a time and no date.
        asking: A time is what the bot asked for, so a bare hour ("8", "at 10:30") is a time.
    """
    base = now.replace(tzinfo=None)
    languages = ["zh", "en"] if lang == "cn" or is_cjk(text) else ["en"]
    finders = (
        _cn_dates(text, base.date()),
        _clock_times(text),
        _parsed_dates(text, base, languages),
    )
    found = [f for finder in finders for f in finder if f]
    bare = _BARE_HOUR.fullmatch(text.strip())
    if asking and bare and not found:
        offset = len(text) - len(text.lstrip())
        start, end = offset + bare.start(1), offset + bare.end()
        hour, minute = int(bare.group(1)), int(bare.group(2) or 0)
        found += [f for f in [_clock(start, end, text[start:end], hour, minute)] if f]
    kept: list[Found] = []
    # Table and clock matches come first: where dateparser overlaps them, it has misread.
    for f in found:
        if not any(f.start < k.end and k.start < f.end and f.entity == k.entity for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)
