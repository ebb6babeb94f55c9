"""Contracts are frozen and strict; secrets are hashed and compared safely; subjects are safe."""

from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.gateway.bus.reply_routing import REPLY
from shared import subjects
from shared.contracts import BotSpoke, TurnAnswered, TurnReceived
from shared.identity.secrets import hash_secret, new_secret, secret_matches
from shared.logging import redact


def _turn() -> TurnReceived:
    return TurnReceived.first(
        project_key=uuid4(), session_id="s1", protocol="xparo", text="hi", channel="c", seq=1
    )


def test_first_event_correlates_to_itself_and_caused_events_chain() -> None:
    """A new request's event is its own correlation; what it causes points back to it."""
    turn = _turn()
    assert turn.correlation_id == turn.event_id and turn.causation_id is None
    reply = TurnAnswered(
        **turn.caused(),
        project_key=turn.project_key,
        session_id="s1",
        turn_event_id=turn.event_id,
        text="hello",
        engine="aiml",
    )
    assert reply.causation_id == turn.event_id and reply.correlation_id == turn.correlation_id


def test_contracts_are_frozen_strict_and_round_trip() -> None:
    """Unknown fields are refused, nothing changes after creation, JSON round-trips exactly."""
    turn = _turn()
    assert TurnReceived.model_validate_json(turn.model_dump_json()) == turn
    with pytest.raises(ValidationError):
        turn.text = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        TurnReceived.model_validate({**turn.model_dump(), "extra": 1})
    with pytest.raises(ValidationError):
        TurnReceived.model_validate({**turn.model_dump(), "seq": 0})


def test_secrets_are_stored_hashed_and_checked() -> None:
    """Only the hash is kept; the right secret matches, a wrong one or a missing project not."""
    secret = new_secret()
    stored = hash_secret(secret)
    assert secret not in stored and len(secret) == 64
    assert secret_matches(secret, stored)
    assert not secret_matches(new_secret(), stored)
    assert not secret_matches(secret, None)


def test_subject_builders_refuse_tokens_that_would_widen_a_subject() -> None:
    """A session id with dots or wildcards cannot reach other subjects."""
    project = uuid4()
    assert (
        subjects.chat_reply(project=project, session="abc_1") == f"chat.reply.{project.hex}.abc_1"
    )
    for bad in ("a.b", "*", ">", "a b", ""):
        with pytest.raises(ValueError):
            subjects.chat_reply(project=project, session=bad)


def test_logs_never_show_secrets_from_urls() -> None:
    """Handshake paths and token query parameters are redacted before logging."""
    line = '"WebSocket /ws/chatbot_api/abcdef123/5a1c/" q?token=rsvpai&uid=1'
    assert redact(line) == '"WebSocket /ws/chatbot_api/***/5a1c/" q?token=***&uid=1'


def test_secret_headers_are_redacted_from_logged_handshakes() -> None:
    """The handshake headers a WebSocket library prints at DEBUG keep no token or cookie."""
    logged = "> GET /?project=p HTTP/1.1\n> Host: x\n> X-Project-Token: s3cr3t\n> Cookie: a=b"
    logged += "\n< authorization: Bearer t0k3n"
    cleaned = redact(logged)
    assert "s3cr3t" not in cleaned and "t0k3n" not in cleaned and "a=b" not in cleaned
    assert "> Host: x" in cleaned and "> X-Project-Token: ***" in cleaned


def test_a_reply_decodes_as_what_it_is() -> None:
    """What chat.reply carries reaches a socket as the answer or the spoken message it is (each
    gateway decodes every reply it routes), and anything else is refused."""
    turn = uuid4()
    answer = TurnAnswered(
        correlation_id=turn,
        project_key=uuid4(),
        session_id="s-1",
        turn_event_id=turn,
        text="hello",
        engine="aiml",
    )
    spoke = BotSpoke(
        correlation_id=uuid4(), project_key=uuid4(), session_id="s-1", text="hi", source="operator"
    )
    assert REPLY.validate_json(answer.model_dump_json()) == answer
    assert REPLY.validate_json(spoke.model_dump_json()) == spoke
    with pytest.raises(ValidationError):
        REPLY.validate_json(answer.model_dump_json()[:-1] + ', "kind": "spoke"}')
    schema = REPLY.core_schema
    union = schema["schema"] if schema["type"] == "definitions" else schema
    assert union["type"] == "union" and union.get("mode") == "left_to_right"  # ~4x faster
