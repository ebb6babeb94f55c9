"""The admin API's one convention for lists: `?limit=` and an opaque `?cursor=`.

A list answers an object whose items are under a named key (`items` for new routes) and whose
`next` is the cursor of the following page, or null on the last one. The gateway adds a
`Link: <…>; rel="next"` header. A cursor is the position after the last item (its sort key)
as base64url JSON: opaque to clients, checked when read, so a forged one is a 422, not a 500.
"""

import base64
import binascii
import json
from typing import Any

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_CURSOR_CHARS = 512


class BadCursor(ValueError):
    """The cursor was not made by this API (or was changed)."""


def encode_cursor(position: dict[str, Any]) -> str:
    """The cursor of the page after `position` (JSON-able values only)."""
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True, default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, keys: frozenset[str]) -> dict[str, Any]:
    """The position a cursor stands for; BadCursor unless it holds exactly `keys`."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise BadCursor("cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise BadCursor("cursor is not one this API made") from err
    if not isinstance(position, dict) or set(position) != keys:
        raise BadCursor("cursor is not one this API made")
    return position
