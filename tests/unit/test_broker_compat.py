"""The nats-py / FastStream timeout mismatch stays fixed."""

import asyncio

import pytest
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext

from shared.broker import _fetch_times_out_as_nats


def test_a_spent_fetch_deadline_raises_the_nats_timeout_pull_loops_catch() -> None:
    """A bare asyncio timeout from fetch becomes nats' TimeoutError; messages pass through."""

    async def times_out(*_args: object) -> list[str]:
        raise TimeoutError

    async def returns(*_args: object) -> list[str]:
        return ["msg"]

    with pytest.raises(NatsTimeout):
        asyncio.run(_fetch_times_out_as_nats(times_out)())
    assert asyncio.run(_fetch_times_out_as_nats(returns)()) == ["msg"]
    assert getattr(JetStreamContext.PullSubscription.fetch, "__switchboard_patched__", False)
