"""A turn's transcript row as the turn path writes it and its stored reply as it is sent again,
and the greeting a new or reset session hears."""

from shared.contracts import TurnAnswered, TurnReceived

from ..engines.aiml import data_predicates, heard
from ..engines.brain import Brain
from ..engines.chain import Question, Said, greet
from ..models import TurnRow
from ..sessions.application import wire_protocol
from .store import SessionState, TurnRecord

DETAILS = {"faq", "intent", "url", "image", "action", "parts", "said_before"}  # a row's details
USER_KEYS = ("user_id", "session_name")  # who a BESSER socket says the user is (session data)


def reply_of(row: TurnRow) -> TurnAnswered:
    """The reply stored for a turn, rebuilt with its original ids."""
    details = row.details or {}
    return TurnAnswered.model_validate(
        {
            **{key: value for key, value in details.items() if key in DETAILS},
            "event_id": row.reply_event_id,
            "occurred_at": row.answered_at,
            "correlation_id": row.correlation_id,
            "causation_id": row.turn_event_id,
            "project_key": row.project_key,
            "session_id": row.session_id,
            "turn_event_id": row.turn_event_id,
            "text": row.answer,
            "engine": row.engine,
            "content_version": row.content_version,
            "protocol": wire_protocol(row.protocol),
            "stage": row.stage,
        }
    )


def record(turn: TurnReceived, reply: TurnAnswered, engine_ms: float) -> TurnRecord:
    return TurnRecord(
        turn_event_id=turn.event_id,
        reply_event_id=reply.event_id,
        correlation_id=turn.correlation_id,
        project_key=turn.project_key,
        session_id=turn.session_id,
        protocol=reply.protocol or turn.protocol,
        question=heard(text=turn.text, image=turn.image, state={})[0],
        answer=reply.text,
        engine=reply.engine,
        content_version=reply.content_version,
        received_at=turn.occurred_at,
        answered_at=reply.occurred_at,
        engine_ms=engine_ms,
        stage=reply.stage,
        details={
            **reply.model_dump(mode="json", include=DETAILS, exclude_none=True),
            **turn.model_dump(mode="json", include={"event", "file"}, exclude_none=True),
        },
    )


def row_of(turn: TurnReceived, reply: TurnAnswered, engine_ms: float) -> TurnRow:
    """A turn's transcript row as the ORM model (for the ORM's writers: replay)."""
    return record(turn, reply, engine_ms).as_row()


def greeting(brain: Brain, session: SessionState, turn: TurnReceived) -> Said:
    """A socket opened a new session (start) or starts it over (reset, which forgets its
    variables and state, keeping who the user is): the bot greets. A start of a session
    that has spoken already gets no greeting (engine none). Who the user is (a BESSER
    socket's user_id and session_name, in the start turn) is kept either way."""
    if turn.event == "reset":
        kept = {k: v for k, v in session.data.items() if k in USER_KEYS}
        session.data, session.state = kept, data_predicates(kept)
    given = {k: str(v) for k, v in (turn.payload or {}).items() if k in USER_KEYS}
    if given:
        session.data = {**session.data, **given}
        session.state = {**session.state, **data_predicates(given)}
    if turn.event == "start" and session.channel:
        return Said("", "none", session.state)
    question = Question(
        text="",
        lang=turn.lang,
        skill=None,
        now=turn.occurred_at,
        session_id=turn.session_id,
        event=turn.event,
        variables=session.data,
        stage=turn.stage,
    )
    return greet(brain, question, session.state)
