"""What became of each turn of a batch, and the replies a batch publishes."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from shared.contracts import TurnAnswered, TurnReceived

from .order import reply_event_id
from .store import SessionKey

PublishAll = Callable[[list[TurnAnswered]], Awaitable[None]]


@dataclass(frozen=True)
class Arrived:
    """A turn as a batch holds it; `force`: answer it even if an earlier one is missing (it
    has waited long enough); `again`: it was delivered before, so it may be stored already
    (looked up before it is answered)."""

    turn: TurnReceived
    force: bool = False
    again: bool = False


@dataclass(frozen=True)
class TurnOutcome:
    """What became of a turn: answered now, answered before, early (retry later), gone (its
    session was deleted: dropped unanswered, but a `start` is answered with the refusal),
    refused (its session changed while it was answered: answer it again), or a repeat (a reset
    right after a reset: its greeting stands, nothing is sent or kept)."""

    kind: Literal["answered", "duplicate", "early", "gone", "refused", "repeat"]
    reply: TurnAnswered | None = None


def refuse(
    arrived: Sequence[Arrived], outcomes: list[TurnOutcome], refused: set[SessionKey]
) -> None:
    """The turns answered (or skipped as repeated resets) in sessions whose write was refused
    are to be taken again."""
    if not refused:
        return
    for n, a in enumerate(arrived):
        kind = outcomes[n].kind
        if kind in ("answered", "repeat") and (a.turn.project_key, a.turn.session_id) in refused:
            outcomes[n] = TurnOutcome("refused")


def replies_of(
    arrived: Sequence[Arrived], outcomes: list[TurnOutcome], first: dict[UUID, int]
) -> list[TurnAnswered]:
    """The replies to publish, in the order of the turns; a turn that came twice in the batch
    takes the outcome of its first copy (a duplicate once that was answered)."""
    replies: list[TurnAnswered] = []
    for n, a in enumerate(arrived):
        was = first.get(a.turn.event_id, n)
        if was != n:
            earlier = outcomes[was]
            kind = "duplicate" if earlier.kind == "answered" else earlier.kind
            outcomes[n] = TurnOutcome(kind, earlier.reply)
            continue
        reply = outcomes[n].reply
        if reply is not None:
            replies.append(reply)
    return replies


def gone(turn: TurnReceived) -> TurnOutcome:
    """A turn of a deleted session is dropped unanswered; its `start` (a socket connecting to
    the session by name) is answered with the refusal, which closes that socket."""
    if turn.event != "start":
        return TurnOutcome("gone")
    refusal = TurnAnswered(
        **turn.caused(),
        event_id=reply_event_id(turn.event_id),
        project_key=turn.project_key,
        session_id=turn.session_id,
        turn_event_id=turn.event_id,
        text="",
        engine="none",
        protocol=turn.protocol,
        stage=turn.stage,
        refused="session_deleted",
    )
    return TurnOutcome("gone", refusal)
