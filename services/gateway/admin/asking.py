"""Asking another service from an admin route: the request built (a value its contract refuses
is a 422), the answer awaited (none is a 503: try again), and the answers that are problems."""

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..bus.bridge import Bridge, BridgeError
from ..edge.problems import Problem

T = TypeVar("T")


async def ask(
    bridge: Bridge,
    subject: str,
    query: BaseModel,
    answer: TypeAdapter[T],
    *,
    service: str,
    timeout_s: float | None = None,
) -> T:
    """The answer of the `service` owning `subject`, or a 503 problem naming it."""
    try:
        return await bridge.ask(subject, query, answer, timeout_s=timeout_s)
    except BridgeError as err:
        raise Problem(503, f"the {service} service did not answer; try again") from err


def built(make: Callable[[], T]) -> T:
    """A request message made by `make`, its contract's first refusal a 422 problem."""
    try:
        return make()
    except ValidationError as err:
        raise Problem(422, err.errors()[0]["msg"].removeprefix("Value error, ")) from err


def session_missing(session_id: str, *, deleted: bool) -> Problem:
    """The 404 of a session the dialog does not know (or has deleted)."""
    state = "was deleted" if deleted else "does not exist"
    return Problem(404, f"session {session_id} {state}")
