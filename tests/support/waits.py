"""Waiting on a condition that something else makes true (a service stores a row, a consumer
catches up): poll it, and fail naming what never happened. Never a bare sleep, never a loop
that falls through when time is up."""

import asyncio
import time
from collections.abc import Awaitable, Callable


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, within_s: float, what: str, every: float = 0.02
) -> None:
    """Poll `condition` until it holds; fail naming `what` after `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(every)


def poll_until(
    condition: Callable[[], bool], *, within_s: float, what: str, every: float = 0.1
) -> None:
    """`wait_until` for blocking tests (sync clients): poll `condition`, fail naming `what`."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s} s waiting for {what}")
        time.sleep(every)
