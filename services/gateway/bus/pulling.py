"""Pulls that must go on: a durable JetStream consumer pulled again after NATS broke it."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from shared.retry import Backoff

log = logging.getLogger(__name__)
# How long a broken pull (robot commands, an AIDA bot's backlog) waits before binding again.
RETRY = Backoff(first_s=0.25, max_s=5.0)


async def keep_pulling(
    pull: Callable[[], Awaitable[None]],
    *,
    going: Callable[[], bool],
    again: Callable[[], Awaitable[Any]],
    what: str,
) -> None:
    """Run `pull` while `going()`. When it breaks (a NATS node lost, a consumer leader being
    elected), wait RETRY's backoff, run `again` (make its durable consumer again, in case it
    was lost) and pull anew: the durable consumer kept what was not acknowledged."""
    failures = 0
    while going():
        try:
            await pull()
        except Exception as err:
            failures += 1
            wait = RETRY.delay(failures)
            log.warning("%s interrupted, again in %.1f s: %r", what, wait, err)
            await asyncio.sleep(wait)
            with contextlib.suppress(Exception):
                await again()
