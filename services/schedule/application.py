"""The schedule's use cases: read a robot's schedule, change it (and push it to the robot)."""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from shared.contracts import (
    DeleteSchedule,
    GetSchedule,
    RobotCommandIssued,
    Schedule,
    ScheduleControl,
    SetSchedule,
    utcnow,
)

from .domain import ISSUED_BY, parse_entries
from .store import ScheduleStore, XparoSchedule

log = logging.getLogger(__name__)

Publish = Callable[[RobotCommandIssued], Awaitable[None]]
"""Put a command into the robot's command queue (ROBOT), deduplicated on its event id."""
Clock = Callable[[], datetime]


class ScheduleApp:
    """Reads and changes schedules; every change is pushed to its robot as `schedule_control`."""

    def __init__(self, store: ScheduleStore, publish: Publish, *, clock: Clock = utcnow) -> None:
        self.store, self.publish, self.clock = store, publish, clock

    async def get(self, query: GetSchedule) -> Schedule:
        found = await self.store.schedule(query.project_key, query.robot_id)
        return Schedule(robot_id=query.robot_id, schedule_control=found)

    async def set(self, command: SetSchedule) -> Schedule:
        """Create or update entries, all or none (ScheduleRefused says why none)."""
        async with self.store.editing(command.project_key, command.robot_id) as robot:
            now = self.clock()
            entries = parse_entries(command.entries, now=now, existing=await robot.names())
            schedule = await robot.upsert(entries, now=now)
            await self._push(command, schedule)
        return Schedule(robot_id=command.robot_id, schedule_control=schedule)

    async def delete(self, command: DeleteSchedule) -> Schedule:
        """Remove the named entries (unknown names are no error), or all of them."""
        async with self.store.editing(command.project_key, command.robot_id) as robot:
            schedule = await robot.delete(command.names)
            await self._push(command, schedule)
        return Schedule(robot_id=command.robot_id, schedule_control=schedule)

    async def _push(self, command: SetSchedule | DeleteSchedule, schedule: XparoSchedule) -> None:
        """Send the robot its whole new schedule, still under the robot's lock, so that pushes
        leave in commit order. If this fails the request fails; repeating it (changes are
        idempotent) pushes again."""
        await self.publish(
            RobotCommandIssued(
                correlation_id=command.correlation_id,
                project_key=command.project_key,
                robot_id=command.robot_id,
                command=ScheduleControl(schedule=schedule),
                issued_by=ISSUED_BY,
            )
        )
