"""The ids and trace context a message carries, through the middleware every broker has."""

from typing import Any

import pytest
from faststream.nats import NatsMessage, TestNatsBroker
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from structlog.contextvars import get_contextvars

from shared.broker import make_broker
from shared.observability.tracing import setup_tracing, trace_ids, tracer


@pytest.fixture(scope="module", autouse=True)
def tracing() -> None:
    """The SDK's tracer provider, as every service installs it (once per process)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        setup_tracing("component")


async def test_a_consumer_sees_the_publishers_ids_and_trace() -> None:
    """A handler runs with the publisher's correlation id and event id bound for logging, in
    the publisher's trace, and the message carries a W3C traceparent."""
    broker = make_broker("nats://127.0.0.1:4222", name="test")
    seen: dict[str, Any] = {}

    @broker.subscriber("obs.test")
    async def handle(body: str, msg: NatsMessage) -> None:
        seen.update(ids=get_contextvars(), trace=trace_ids(), headers=dict(msg.headers))

    async with TestNatsBroker(broker) as test:
        with tracer.start_as_current_span("caller"):
            caller = trace_ids()
            await test.publish(
                "hi", "obs.test", correlation_id="corr-1", headers={"Nats-Msg-Id": "ev-1"}
            )
    assert caller is not None and seen["trace"] is not None
    assert seen["ids"] == {"correlation_id": "corr-1", "event_id": "ev-1"}
    assert seen["trace"][0] == caller[0]
    assert seen["headers"]["traceparent"].split("-")[1] == caller[0]
    assert get_contextvars() == {}
