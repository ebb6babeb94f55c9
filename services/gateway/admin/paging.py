"""The admin API's list convention, on the HTTP side (see shared/contracts/paging.py).

`?limit=` (1 to 1000, default 50) and `?cursor=` (the previous page's `next`); the answer holds its
items and `next` (null on the last page), and a `Link: <…>; rel="next"` header.
"""

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Query, Request, Response

from shared.contracts.paging import DEFAULT_LIMIT, MAX_CURSOR_CHARS, MAX_LIMIT, BadCursor

from ..edge.problems import Problem

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
Cursor = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR_CHARS, description="The previous page's `next`, for the next page"),
]
__all__ = ["DEFAULT_LIMIT", "Cursor", "Limit", "bad_cursor", "link_next", "read_cursor"]
T = TypeVar("T")


def link_next(request: Request, response: Response, next_cursor: str | None) -> None:
    """Point the `Link` header at the next page (a relative reference: right behind a proxy)."""
    if next_cursor is not None:
        query = request.url.include_query_params(cursor=next_cursor).query
        response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'


def bad_cursor(err: BadCursor) -> Problem:
    """A forged or stale cursor: the client's mistake, answered 422."""
    return Problem(422, f"cursor: {err}")


def read_cursor(cursor: str, read: Callable[[str], T]) -> T:
    """Where a page continues, as `read` finds it in `cursor` (its BadCursor answered 422)."""
    try:
        return read(cursor)
    except BadCursor as err:
        raise bad_cursor(err) from err
