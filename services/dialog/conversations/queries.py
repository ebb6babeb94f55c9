"""The conversation queries' optional filters, built as SQL text with bind parameters only:
each condition is a template of sql.py whose `{}` slots become `$n`, and its value goes into
the parameter list, never into the text. store.py runs what this builds."""

from typing import Any
from uuid import UUID

from shared.contracts.conversation import ConversationFilter, ConversationPosition

from . import sql

INBOX_DAYS = 7  # how long a request for a human waits in the inbox


def like_pattern(text: str) -> str:
    """An ILIKE pattern finding `text` anywhere, its own % _ and \\ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Conditions:
    """Conditions AND-ed together, and the parameters they bind (shared with the statement
    they go into, and with any Conditions nested in them)."""

    def __init__(self, params: list[Any] | None = None) -> None:
        self.params: list[Any] = [] if params is None else params
        self._parts: list[str] = []

    def param(self, value: Any) -> str:
        """Bind `value`; its placeholder."""
        self.params.append(value)
        return f"${len(self.params)}"

    def add(self, template: str, *values: Any) -> None:
        """A condition: `template` (a constant of sql.py) with its slots bound to `values`."""
        self._parts.append(template.format(*(self.param(v) for v in values)))

    def nest(self, template: str, inner: "Conditions") -> None:
        """A condition holding `inner`'s conditions (one slot), unless it has none."""
        if inner:
            self._parts.append(template.format(inner.text()))

    def text(self) -> str:
        return " AND ".join(self._parts) or "TRUE"

    def __bool__(self) -> bool:
        return bool(self._parts)


def window(where: ConversationFilter, found: Conditions, turn: str) -> None:
    """Conditions on a turn row (alias `turn`): inside the filter's time window."""
    if where.since is not None:
        found.add(sql.SINCE[turn], where.since)
    if where.until is not None:
        found.add(sql.UNTIL[turn], where.until)


def session_conditions(project_key: UUID, where: ConversationFilter, found: Conditions) -> None:
    """Conditions on the session row: the project, the protocol, the holder and (with a time
    window, a text, an engine or a confidence) a message of it that matches them all."""
    found.add(sql.PROJECT_IS, project_key)
    if where.protocol is not None:
        found.add(sql.PROTOCOL_IS, where.protocol)
    hit = Conditions(found.params)
    window(where, hit, "hit")
    if where.q is not None:
        hit.add(sql.HOLDS_TEXT, like_pattern(where.q))
    if where.engine is not None:
        hit.add(sql.ENGINE_IS, where.engine)
    if where.below is not None:
        hit.add(sql.LESS_SURE, where.below)
    found.nest(sql.HAS_HIT, hit)
    if where.held is not None:
        found.add(sql.HELD if where.held else sql.NOT_HELD)


def find_query(
    project_key: UUID,
    where: ConversationFilter,
    *,
    limit: int,
    after: ConversationPosition | None,
) -> tuple[str, list[Any]]:
    """One page of the sessions `where` matches (sql.FIND), and its parameters."""
    found = Conditions()
    session_conditions(project_key, where, found)
    if after is not None:
        found.add(sql.BEFORE, after.last_at, after.session_id)
    return sql.FIND.format(found.text(), found.param(limit)), found.params


def export_query(
    project_key: UUID, where: ConversationFilter, *, limit: int, after: int | None
) -> tuple[str, list[Any]]:
    """The export's rows (sql.EXPORT), and its parameters."""
    found = Conditions()
    session_conditions(project_key, where, found)
    window(where, found, "t")
    return sql.EXPORT.format(
        found.text(), found.param(after or 0), found.param(limit)
    ), found.params
