"""Waiting for NATS and Postgres with backoff.

A service started before its broker or database must neither crash-loop nor wait in silence: it
tries again with exponential backoff (plus a little jitter, so replicas do not knock in step),
logs one line per failed attempt with the reason, and carries on the moment the dependency
answers. Reasons never carry credentials (`redact`).
"""

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

log = logging.getLogger(__name__)
T = TypeVar("T")
_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)
_PASSWORD_PARAM = re.compile(r"(?P<key>password=)[^&\s]*", re.IGNORECASE)


@dataclass(frozen=True)
class Backoff:
    """How long to wait before attempt n+1: first_s * factor**(n-1), at most max_s, plus up to
    jitter_s at random."""

    first_s: float = 0.5
    factor: float = 2.0
    max_s: float = 5.0
    jitter_s: float = 0.25

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based), without jitter."""
        return float(min(self.first_s * self.factor ** max(attempt - 1, 0), self.max_s))

    def wait(self) -> wait_base:
        """The tenacity wait: `delay` plus up to jitter_s at random."""
        growing = wait_exponential(multiplier=self.first_s, exp_base=self.factor, max=self.max_s)
        return growing + wait_random(0, self.jitter_s)


DEFAULT_BACKOFF = Backoff()


@dataclass(frozen=True)
class Dependency:
    """Something a service needs before it can work: `probe` raises while it is unreachable."""

    name: str
    probe: Callable[[], Awaitable[None]]


def redact(text: str) -> str:
    """`text` without the user:password of any URL in it, nor any password=... parameter."""
    return _PASSWORD_PARAM.sub(r"\g<key>***", _CREDENTIALS.sub(r"\g<scheme>***@", text))


def reason(err: BaseException) -> str:
    """A failure in one line: the error's type and message, credentials removed."""
    message = " ".join(str(err).split())
    return redact(f"{type(err).__name__}: {message}" if message else type(err).__name__)


def retrying(what: str, backoff: Backoff = DEFAULT_BACKOFF) -> AsyncRetrying:
    """A tenacity loop that never gives up on `what` (cancel it to stop), logging each failure."""

    def say(state: RetryCallState) -> None:
        outcome = state.outcome
        err = outcome.exception() if outcome is not None else None
        wait = state.upcoming_sleep
        log.warning(
            "%s: attempt %d failed (%s); next try in %.1f s",
            what,
            state.attempt_number,
            reason(err) if err is not None else "no result",
            wait,
        )

    return AsyncRetrying(
        wait=backoff.wait(),
        retry=retry_if_exception_type(Exception),
        before_sleep=say,
        reraise=True,
    )


async def with_backoff(
    what: str, attempt: Callable[[], Awaitable[T]], backoff: Backoff = DEFAULT_BACKOFF
) -> T:
    """`attempt()`'s result once it succeeds, trying again with `backoff` while it raises."""
    async for trying in retrying(what, backoff):
        with trying:
            return await attempt()
    raise AssertionError("unreachable: tenacity stops only by returning or raising")


async def wait_for(dependency: Dependency, backoff: Backoff = DEFAULT_BACKOFF) -> None:
    """Return once `dependency` answers, logging when it needed more than one attempt."""
    failed = False

    async def probe() -> None:
        nonlocal failed
        try:
            await dependency.probe()
        except Exception:
            failed = True
            raise

    await with_backoff(f"waiting for {dependency.name}", probe, backoff)
    if failed:
        log.info("%s answers now", dependency.name)
