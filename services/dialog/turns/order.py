"""Turn order per connection, and the one id of a turn's answer. Pure: no I/O, no clock."""

from typing import Any
from uuid import UUID, uuid5

_REPLY_IDS = UUID("3a7d0c1e-92b4-5f08-8e6a-4c1d2b9f7a30")  # namespace of TurnAnswered ids
CHANNELS_KEPT = 32  # connections of one session whose turn order is remembered


def waits_for_predecessor(*, channel: str, seq: int, answered: list[list[Any]]) -> bool:
    """True when an earlier turn of the same channel (connection) has not been answered yet.

    Turns are numbered per channel from 1; the session remembers the last one it answered on
    each of its latest channels (`answered`: [channel, seq] pairs, oldest first), so a user with
    two tabs open on one session is answered in order on each without waiting on the other.
    """
    last = next((int(s) for c, s in answered if c == channel), 0)
    return seq > last + 1


def answered_on(answered: list[list[Any]], *, channel: str, seq: int) -> list[list[Any]]:
    """`answered` once turn `seq` of `channel` was answered (the latest CHANNELS_KEPT)."""
    kept = [[c, s] for c, s in answered if c != channel]
    return [*kept[-(CHANNELS_KEPT - 1) :], [channel, seq]]


def early_retry_delay(deliveries: int, *, first: float, longest: float = 1.0) -> float:
    """How long an early turn waits before it is tried again: `first`, doubling per delivery up
    to `longest`, so a short wait is answered fast and a long one does not flood the stream."""
    return min(first * 2.0 ** max(deliveries - 1, 0), longest)


def reply_event_id(turn_event_id: UUID) -> UUID:
    """The one event id of a turn's answer: answering it again (after a crash between publish
    and commit) publishes a duplicate that JetStream and the gateways drop."""
    return uuid5(_REPLY_IDS, str(turn_event_id))
