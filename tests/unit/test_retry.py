"""Backoff: how long services wait for NATS and Postgres, what they log, and what a handler
that meets a database outage does with its message."""

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from faststream._internal.context import ContextRepo
from faststream.exceptions import NackMessage
from nats.errors import NotJSMessageError
from sqlalchemy import exc

from shared.broker import REDELIVERY, RedeliverLater
from shared.db import unreachable
from shared.retry import Backoff, Dependency, reason, redact, wait_for, with_backoff

FAST = Backoff(first_s=0.001, factor=2.0, max_s=0.004, jitter_s=0.0)


def test_waits_double_from_the_first_and_stop_growing_at_the_cap() -> None:
    """0.5 s after the first failure, then 1, 2, 4, and never more than 5 s."""
    policy = Backoff(first_s=0.5, factor=2.0, max_s=5.0)
    assert [policy.delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert REDELIVERY.delay(1) == 0.5 and REDELIVERY.delay(100) == 5.0


def test_the_jitter_only_ever_adds_and_at_most_jitter_s() -> None:
    """Replicas do not knock in step, and none waits much longer than the policy says."""
    policy = Backoff(first_s=0.5, factor=2.0, max_s=5.0, jitter_s=0.25)
    wait = policy.wait()
    for attempt in range(1, 8):
        state = SimpleNamespace(attempt_number=attempt)
        for _ in range(20):
            waited = wait(state)  # type: ignore[arg-type]  # tenacity reads attempt_number only
            assert policy.delay(attempt) <= waited <= policy.delay(attempt) + 0.25


def test_an_attempt_is_repeated_until_it_succeeds_with_one_log_line_per_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two refusals, then an answer: the answer is returned, and each refusal is one line
    naming the attempt and the reason."""
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionRefusedError(111, "Connection refused")
        return "up"

    with caplog.at_level(logging.WARNING, logger="shared.retry"):
        assert asyncio.run(with_backoff("waiting for NATS", flaky, FAST)) == "up"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("waiting for NATS: attempt 1 failed (ConnectionRefusedError")
    assert "attempt 2 failed" in lines[1] and "next try in" in lines[1]


def test_waiting_for_a_dependency_says_when_it_answers(caplog: pytest.LogCaptureFixture) -> None:
    """After failures, one info line says the dependency answers now."""
    answers = iter([OSError("socket missing"), None])

    async def probe() -> None:
        failure = next(answers)
        if failure is not None:
            raise failure

    with caplog.at_level(logging.INFO, logger="shared.retry"):
        asyncio.run(wait_for(Dependency("Postgres (db:5432/x)", probe), FAST))
    assert [r.getMessage() for r in caplog.records][-1] == "Postgres (db:5432/x) answers now"


def test_logged_reasons_never_carry_passwords(caplog: pytest.LogCaptureFixture) -> None:
    """An error quoting a URL with credentials is logged without them."""
    secret = "s3cr3t-pass"
    attempts = 0

    async def refuses() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise OSError(f"cannot reach postgresql://app:{secret}@db:5432/x?password={secret}")

    with caplog.at_level(logging.WARNING, logger="shared.retry"):
        asyncio.run(with_backoff("waiting for Postgres", refuses, FAST))
    assert secret not in caplog.text and "postgresql://***@db:5432/x" in caplog.text
    assert redact("nats://u:p@h:4222,nats://h2:4222") == "nats://***@h:4222,nats://h2:4222"
    assert reason(TimeoutError()) == "TimeoutError"


def test_a_cancelled_wait_stops_at_once() -> None:
    """Stopping a service while it waits cancels the wait (nothing swallows the cancel)."""

    async def never() -> None:
        raise ConnectionRefusedError

    async def scenario() -> None:
        task = asyncio.create_task(with_backoff("waiting", never, Backoff(first_s=30)))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


def test_outages_are_told_apart_from_bugs() -> None:
    """Refused sockets and SQLAlchemy's wrapping of them count as unreachable; bad data not."""
    wrapped = exc.OperationalError("SELECT 1", {}, ConnectionRefusedError())
    try:
        try:
            raise ConnectionResetError
        except ConnectionResetError as inner:
            raise RuntimeError("pool gave up") from inner
    except RuntimeError as chained:
        assert unreachable(chained)
    assert unreachable(wrapped) and unreachable(FileNotFoundError())
    assert not unreachable(ValueError("bad turn")) and not unreachable(KeyError("x"))


class _Raw:
    """A nats-py message as the middleware sees it: JetStream metadata, or none (core NATS)."""

    subject = "chat.turn.p"

    def __init__(self, deliveries: int | None) -> None:
        self.deliveries = deliveries

    @property
    def metadata(self) -> SimpleNamespace:
        if self.deliveries is None:
            raise NotJSMessageError
        return SimpleNamespace(num_delivered=self.deliveries)


def _message(deliveries: int | None) -> Any:
    return SimpleNamespace(raw_message=_Raw(deliveries))


async def _consume(error: Exception, deliveries: int | None) -> None:
    async def handler(_msg: Any) -> None:
        raise error

    await RedeliverLater(None, context=ContextRepo()).consume_scope(handler, _message(deliveries))


def test_a_message_met_by_an_outage_comes_back_later_and_later() -> None:
    """A JetStream message whose handler could not reach Postgres is nacked with the
    redelivery backoff of its delivery count, not at once."""
    for deliveries, delay in [(1, 0.5), (3, 2.0), (40, 5.0)]:
        with pytest.raises(NackMessage) as nacked:
            asyncio.run(_consume(FileNotFoundError(2, "No such file"), deliveries))
        assert nacked.value.extra_options == {"delay": delay}


def test_bugs_and_core_requests_are_not_delayed() -> None:
    """A bug fails as before; so does an outage met by a core NATS request (no redelivery)."""
    with pytest.raises(ValueError):
        asyncio.run(_consume(ValueError("bad"), 1))
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(_consume(ConnectionRefusedError(), None))
