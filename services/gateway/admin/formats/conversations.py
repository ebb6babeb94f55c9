"""The conversation routes' cursors and export formats (pure: no I/O).

Cursors follow shared/contracts/paging.py: a conversation list continues after a position
(last activity, session id), a transcript or an export after a stored row. The export is CSV
(safe to open in a spreadsheet) or one JSON array, written a page at a time.
"""

import csv
import io
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Literal

from pydantic import ValidationError

from shared.contracts.conversation import ConversationPosition, ExportEntry
from shared.contracts.paging import BadCursor, decode_cursor, encode_cursor

ExportFormat = Literal["csv", "json"]
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
COLUMNS = (
    *("session_id", "protocol", "turn", "at", "author", "operator"),
    *("event", "engine", "stage", "version", "text"),
)
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def position_cursor(position: ConversationPosition) -> str:
    """The cursor of the conversations after `position`."""
    return encode_cursor({"at": position.last_at.isoformat(), "id": position.session_id})


def cursor_position(cursor: str) -> ConversationPosition:
    """The position a conversation cursor stands for; BadCursor unless this API made it."""
    found = decode_cursor(cursor, keys=frozenset({"at", "id"}))
    try:
        position = ConversationPosition(last_at=found["at"], session_id=found["id"])
        return position.model_copy(update={"last_at": utc(position.last_at)})
    except (ValidationError, ValueError) as err:
        raise BadCursor("cursor is not one this API made") from err


def row_cursor(after: int) -> str:
    """The cursor of a transcript's (or an export's) rows after row `after`."""
    return encode_cursor({"after": after})


def cursor_row(cursor: str) -> int:
    """The row a transcript or export cursor continues after; BadCursor unless this API made
    it."""
    after = decode_cursor(cursor, keys=frozenset({"after"}))["after"]
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise BadCursor("cursor is not one this API made")
    return after


def utc(moment: datetime | None) -> datetime | None:
    """A query's time in UTC (one without a zone is UTC already); ValueError when it is outside
    the years 1-9999 there (as 0001-01-01T00:00+14:00), which the database could not take."""
    if moment is None or moment.tzinfo is None:
        return moment and moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as err:
        raise ValueError(f"{moment.isoformat()} is out of range") from err


def safe_cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs: a leading = + - @ (or tab,
    carriage return) gets a ' in front."""
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_rows(entries: Iterable[ExportEntry], *, header: bool) -> str:
    """CSV lines (RFC 4180 quoting, CRLF) of `entries`, after the header line if asked."""
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow([safe_cell(getattr(entry, column)) for column in COLUMNS])
    return out.getvalue()


async def export_body(
    pages: AsyncIterator[list[ExportEntry]], form: ExportFormat
) -> AsyncIterator[bytes]:
    """The export as it is sent: CSV with a header, or one JSON array, a page at a time."""
    first = True
    if form == "json":
        yield b"["
    async for page in pages:
        if form == "csv":
            yield csv_rows(page, header=first).encode()
            first = False
            continue
        for entry in page:
            yield (b"" if first else b",\n") + entry.model_dump_json().encode()
            first = False
    if form == "json":
        yield b"]\n"
