"""XPARO's schedule commands, answered by the schedule service.

`xparo_get_schedule` → `{"schedule_control": {...}}`; `xparo_schedule_control` {entries} creates
or updates entries and answers the whole schedule; `xparo_delete_schedule_control` removes every
entry (`{}`), or the named ones (`["name", ...]` or `{"name": ..., ...}`).
"""

from typing import Any
from uuid import UUID, uuid4

from pydantic import TypeAdapter

from shared import subjects
from shared.contracts import DeleteSchedule, GetSchedule, Schedule, ScheduleReply, SetSchedule

from ...bus.bridge import Bridge
from ...edge.errors import GatewayError

REPLY: TypeAdapter[Any] = TypeAdapter(ScheduleReply)


class ScheduleRefused(GatewayError):
    """The schedule service refused the change; `problems` say why, entry by entry."""

    def __init__(self, message: str, problems: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.problems = problems


async def get_schedule(bridge: Bridge, *, project: UUID, robot: str) -> dict[str, Any]:
    query = GetSchedule(project_key=project, robot_id=robot)
    return _answer(await bridge.ask(subjects.schedule_request("get", project), query, REPLY))


async def set_schedule(bridge: Bridge, *, project: UUID, robot: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise ScheduleRefused(
            'xparo_schedule_control expects {"<command>": {"date": "YYYY-MM-DD", "time": "HH:MM"}}',
            [],
        )
    command = SetSchedule(
        project_key=project, robot_id=robot, entries=value, correlation_id=uuid4()
    )
    return _answer(await bridge.ask(subjects.schedule_request("set", project), command, REPLY))


async def delete_schedule(
    bridge: Bridge, *, project: UUID, robot: str, value: Any
) -> dict[str, Any]:
    names: list[str] | None
    if value in (None, {}, [], "", "all"):
        names = None
    elif isinstance(value, list) and all(isinstance(n, str) for n in value):
        names = value
    elif isinstance(value, dict):
        names = [str(n) for n in value]
    else:
        raise ScheduleRefused("give {} for every entry, or the entries' names", [])
    command = DeleteSchedule(
        project_key=project, robot_id=robot, names=names, correlation_id=uuid4()
    )
    return _answer(await bridge.ask(subjects.schedule_request("delete", project), command, REPLY))


def _answer(reply: Any) -> dict[str, Any]:
    if isinstance(reply, Schedule):
        return {"schedule_control": reply.schedule_control}
    problems = [p.model_dump() for p in reply.problems]
    first = reply.problems[0]
    raise ScheduleRefused(f"{first.entry}: {first.message}", problems)
