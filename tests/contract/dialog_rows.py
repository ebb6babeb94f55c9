"""Rows the dialog's contract tests write: a session, a turn of it, a message said first."""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from services.dialog.models import SessionRow, TurnRow
from services.dialog.turns.store import Changed, SessionState, TurnBatches, TurnRecord

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def session(project: UUID, session_id: str = "s", **state: str) -> SessionState:
    """A session as the turn path writes it."""
    return SessionState(project_key=project, session_id=session_id, protocol="xparo", state=state)


def session_row(project: UUID, session_id: str = "s", **state: str) -> SessionRow:
    """A session as the Sessions port creates it."""
    return SessionRow(project_key=project, session_id=session_id, protocol="xparo", state=state)


def turn(
    project: UUID, session_id: str, answer: str, *, at: int = 0, event: str = "text"
) -> TurnRecord:
    """A user's turn answered `at` seconds after T0."""
    when = T0 + timedelta(seconds=at)
    return TurnRecord(
        turn_event_id=uuid4(),
        reply_event_id=uuid4(),
        correlation_id=uuid4(),
        project_key=project,
        session_id=session_id,
        protocol="xparo",
        question="q",
        answer=answer,
        engine="aiml",
        content_version=None,
        received_at=when,
        answered_at=when,
        engine_ms=0.1,
        stage="test",
        details={"event": event},
    )


def said(project: UUID, session_id: str, answer: str, *, at: int = 0) -> TurnRow:
    """A message said first (by an operator or a schedule) `at` seconds after T0."""
    row = turn(project, session_id, answer, at=at).as_row()
    row.kind, row.protocol, row.question, row.engine = "said", "", "", "operator"
    row.details = {"event": "say", "source": "operator", "operator": None}
    return row


async def write(
    turns: TurnBatches, changed: list[Changed], rows: list[TurnRecord]
) -> set[tuple[UUID, str]]:
    """One batch's write; the sessions it refused."""
    async with turns.write() as batch:
        return await batch.save(changed, rows)


async def start(turns: TurnBatches, project: UUID, session_id: str = "s") -> None:
    """A session made by a first turn's batch (with no transcript row)."""
    assert await write(turns, [Changed(session(project, session_id), None)], []) == set()


def new_project() -> UUID:
    return uuid4()
