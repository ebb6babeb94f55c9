"""The conversation queries' parts: which sessions a filter matches, a session with its list
columns, a text searched anywhere, and the inbox's query (SQLAlchemy, built here, run by
store.py)."""

from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Float, and_, case, cast, exists, false, func, or_, true
from sqlalchemy import Select as SqlSelect
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from shared.contracts.conversation import SNIPPET_CHARS, ConversationFilter, HandoffTriggers

from ..models import SessionRow, TurnRow

INBOX_DAYS = 7  # how long a request for a human waits in the inbox


def like_pattern(text: str) -> str:
    """An ILIKE pattern finding `text` anywhere, its own % _ and \\ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def same_session(turn: Any = TurnRow) -> ColumnElement[bool]:
    """A turn row (or an alias of the table) belongs to the session row."""
    return and_(
        turn.project_key == col(SessionRow.project_key),
        turn.session_id == col(SessionRow.session_id),
    )


def in_window(where: ConversationFilter, turn: Any = TurnRow) -> list[ColumnElement[bool]]:
    """Conditions on a turn row: inside the filter's time window."""
    found: list[ColumnElement[bool]] = []
    if where.since is not None:
        found.append(turn.answered_at >= where.since)
    if where.until is not None:
        found.append(turn.answered_at < where.until)
    return found


def session_matches(project_key: UUID, where: ConversationFilter) -> list[ColumnElement[bool]]:
    """Conditions on a session row: the project, the protocol, and (with a time window or a
    text) a message inside the window that holds the text."""
    found = [col(SessionRow.project_key) == project_key]
    if where.protocol is not None:
        found.append(col(SessionRow.protocol) == where.protocol)
    hit = aliased(TurnRow)  # its own name: the export's outer query reads turns too
    inside = in_window(where, hit)
    if where.q is not None:
        pattern = like_pattern(where.q)
        inside.append(
            col(hit.question).ilike(pattern, escape="\\")
            | col(hit.answer).ilike(pattern, escape="\\")
        )
    if where.engine is not None:
        inside.append(col(hit.engine) == where.engine)
    if where.below is not None:
        inside.append(confidence(hit) < where.below)
    if inside:
        found.append(exists().where(same_session(hit), *inside))
    if where.held is not None:
        held = col(SessionRow.handoff).is_not(None)
        found.append(held if where.held else ~held)
    return found


def confidence(turn: Any) -> ColumnElement[float]:
    """The best candidate's score of a turn's FAQ or NLU answer (null for other engines)."""

    def score(key: str) -> ColumnElement[Any]:
        path = func.json_extract_path_text(turn.details, key, "candidates", "0", "score")
        return cast(path, Float)

    return func.coalesce(score("faq"), score("intent"))


def listing() -> Select[SessionRow, Any, Any]:
    """Sessions with their number of turns and their newest message (cut)."""
    turns = (
        select(func.count())
        .where(same_session(), col(TurnRow.kind) == "turn")
        .correlate(SessionRow)
        .scalar_subquery()
    )
    text = case((col(TurnRow.answer) != "", col(TurnRow.answer)), else_=col(TurnRow.question))
    last_text = (
        select(func.left(text, SNIPPET_CHARS))
        .where(same_session())
        .order_by(col(TurnRow.id).desc())
        .limit(1)
        .correlate(SessionRow)
        .scalar_subquery()
    )
    return select(SessionRow, turns, func.coalesce(last_text, ""))


def inbox_query(project_key: UUID, triggers: HandoffTriggers, *, limit: int) -> SqlSelect[Any]:
    """The inbox's sessions (see PgConversations.inbox), each with its listing columns, the
    trigger that raised it (what was said, the intent) and its machine's state."""
    raised = aliased(TurnRow)
    later = aliased(TurnRow)
    intent = func.json_extract_path_text(raised.details, "intent", "name")  # IntentMatch
    matches: list[ColumnElement[bool]] = [
        col(raised.question).ilike(like_pattern(word), escape="\\") for word in triggers.keywords
    ]
    if triggers.intents:
        matches.append(intent.in_(triggers.intents))
    # correlated to this row's session: not correlated, an operator's message in ANY session
    # (any project's) after the trigger would hide it from this inbox
    operator_after = (
        exists()
        .where(
            same_session(later),
            col(later.id) > col(raised.id),
            func.json_extract_path_text(later.details, "operator").is_not(None),
        )
        .correlate_except(later)
    )
    trigger = (
        select(col(raised.question).label("said"), intent.label("intent"))
        .where(
            same_session(raised),
            col(raised.kind) == "turn",
            or_(*matches) if matches else false(),
            ~operator_after,
        )
        .order_by(col(raised.id).desc())
        .limit(1)
        .correlate(SessionRow)
        .subquery()
        .lateral()
    )
    state = func.jsonb_extract_path_text(col(SessionRow.state), "_machine", "state")
    in_state = state.in_(triggers.states) if triggers.states else false()
    held = col(SessionRow.handoff).is_not(None)
    return (
        listing()
        .add_columns(trigger.c.said, trigger.c.intent, state)
        .outerjoin(trigger, true())
        .where(
            col(SessionRow.project_key) == project_key,
            # a request left a week unanswered is stale; this also keeps the trigger
            # search to the sessions active lately, however long the project's history
            held | (col(SessionRow.last_at) >= func.now() - timedelta(days=INBOX_DAYS)),
            held | trigger.c.said.is_not(None) | in_state,
        )
        .order_by(col(SessionRow.last_at).desc(), col(SessionRow.session_id).desc())
        .limit(limit)
    )
