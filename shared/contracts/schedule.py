"""Robot schedules (XPARO's `schedule_control`), owned by the schedule service.

XPARO's entry format is `{"<command>": {"date": "YYYY-MM-DD", "time": "HH:MM"}}`; a repeating
entry is `{"<command>": {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"}}` (a one-shot entry
may name a `timezone` too; UTC otherwise).
"""

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from .base import Contract
from .robot import RobotId

EntryName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
MAX_ENTRIES = 500


class GetSchedule(Contract):
    """Query: a robot's schedule."""

    project_key: UUID
    robot_id: RobotId


class SetSchedule(Contract):
    """Command: create or update entries (others are kept). Entries are checked by the service."""

    project_key: UUID
    robot_id: RobotId
    entries: dict[str, Any] = Field(max_length=MAX_ENTRIES, description="XPARO entries")
    correlation_id: UUID


class DeleteSchedule(Contract):
    """Command: remove the named entries, or every entry when `names` is None."""

    project_key: UUID
    robot_id: RobotId
    names: list[str] | None = Field(None, max_length=MAX_ENTRIES)
    correlation_id: UUID


class Schedule(Contract):
    """Answer: a robot's schedule in XPARO's shape (what `schedule_control` carries)."""

    kind: Literal["schedule"] = "schedule"
    robot_id: RobotId
    schedule_control: dict[str, dict[str, str]] = Field(
        description='Entry name → {"date", "time"} or {"cron", "timezone"} (+ "timezone")'
    )


class ScheduleProblem(Contract):
    """Why one entry was refused."""

    entry: str = Field(description="The entry's name (the command)")
    message: str = Field(description="What is wrong, e.g. 2026-02-30 is not a date")


class ScheduleRejected(Contract):
    """Answer: nothing was changed, because of these problems."""

    kind: Literal["rejected"] = "rejected"
    problems: list[ScheduleProblem]


ScheduleReply = Annotated[Schedule | ScheduleRejected, Field(discriminator="kind")]
