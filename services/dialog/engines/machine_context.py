"""What a state machine's conditions see (shared.expression's names), built for one event."""

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from shared.contracts.chat import FileRef
from shared.expression import Node, parse

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EventKind = Literal["start", "text", "json", "file", "gui", "tick"]


@dataclass(frozen=True)
class MachineEvent:
    """What happened: the session opened, the user said something, sent JSON, a file or a GUI
    event (a button, a form), or the clock ticked (a check of the waiting state's conditions).
    """

    kind: EventKind
    text: str = ""  # text events; for json events the payload's "message" string if any
    file: FileRef | None = None  # file events
    payload: Mapping[str, Any] | None = None  # json and gui events: the object sent


@functools.lru_cache(maxsize=4096)
def compiled(source: str) -> Node:
    """A condition's tree (the machine was validated: it parses)."""
    return parse(source)


@functools.lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass
class Context:
    """The names of one event's conditions; `intent`, `score` and `params` once predicted."""

    event: MachineEvent
    variables: Mapping[str, Any]
    now: datetime
    timezone: str
    intent: str | None = None
    score: float | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def names(self) -> dict[str, Any]:
        local = self.now.astimezone(zone(self.timezone))
        event = self.event
        return {
            "message": event.text if event.kind in ("text", "json") else "",
            "intent": self.intent,
            "score": self.score,
            "params": self.params,
            "vars": self.variables,
            "event": _event(event),
            "file": _file(event.file),
            "time": local.strftime("%H:%M"),
            "hour": local.hour,
            "minute": local.minute,
            "weekday": WEEKDAYS[local.weekday()],
            "date": local.strftime("%Y-%m-%d"),
        }


def _event(event: MachineEvent) -> dict[str, Any] | None:
    if event.kind in ("start", "tick"):
        return None
    found: dict[str, Any] = dict(event.payload or {})
    if event.kind == "text":
        found["message"] = event.text
    if event.kind == "file" and event.file is not None:
        found |= _file(event.file) or {}
    return {**found, "kind": event.kind}


def _file(file: FileRef | None) -> dict[str, Any] | None:
    if file is None:
        return None
    return {"name": file.name, "type": file.type, "size": file.size, "id": str(file.media_id)}
