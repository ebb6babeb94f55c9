"""A request whose handler fails is answered at once as failed (shared/broker.py's
AnswerFailures), on a real NATS: the requester does not wait out its timeout."""

import asyncio
import time
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from faststream.nats import NatsBroker
from pydantic import BaseModel, TypeAdapter

from services.gateway.bus.bridge import Bridge, BridgeError
from shared.broker import SERVICE_FAILED, failed, make_broker
from tests.support.backends import Backends


class Ask(BaseModel):
    question: str


class Told(BaseModel):
    answer: str


@pytest.fixture
async def service(backends: Backends) -> AsyncIterator[tuple[NatsBroker, str]]:
    """A running service broker answering `ask.<id>`; the question "fail" makes it raise."""
    broker = make_broker(backends.nats_url, name="failing-service")
    subject = f"ask.{uuid4().hex}"

    @broker.subscriber(subject)
    async def answer(ask: Ask) -> Told:
        if ask.question == "fail":
            raise RuntimeError("a bug")
        return Told(answer=ask.question.upper())

    await broker.start()
    yield broker, subject
    await broker.stop()


async def test_a_failed_request_is_answered_at_once_as_failed(
    service: tuple[NatsBroker, str],
) -> None:
    """The failing request's answer comes well inside its 30 s timeout, empty, with the error's
    class in SERVICE_FAILED; the next request on the same subject is answered normally."""
    broker, subject = service
    started = time.monotonic()
    answer = await asyncio.wait_for(
        broker.request(Ask(question="fail"), subject, timeout=30), timeout=10
    )
    assert time.monotonic() - started < 10
    assert failed(answer) and answer.headers[SERVICE_FAILED] == "RuntimeError"
    assert answer.body == b""

    fine = await broker.request(Ask(question="hi"), subject, timeout=10)
    assert not failed(fine)
    assert Told.model_validate_json(fine.body) == Told(answer="HI")


async def test_the_gateway_reports_a_failed_request_as_the_service_failing(
    service: tuple[NatsBroker, str],
) -> None:
    """The gateway's bridge turns the failed answer into BridgeError (its routes' 503) at once,
    not into a decoding error (a 500) nor a wait of the whole timeout."""
    broker, subject = service
    bridge = Bridge(broker, request_timeout_s=30, partitions=8)
    started = time.monotonic()
    with pytest.raises(BridgeError, match="failed to answer"):
        await bridge.ask(subject, Ask(question="fail"), TypeAdapter(Told))
    assert time.monotonic() - started < 10
    assert await bridge.ask(subject, Ask(question="ok"), TypeAdapter(Told)) == Told(answer="OK")
