"""Admin HTTP API for robots: list them, send them commands, follow delivery, read telemetry.

Every route needs `Authorization: Bearer <admin token>` (created with `switchboard admin-token
create`) whose scope covers the project. Errors are problem+json (see problems.py).
"""

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from shared import subjects
from shared.contracts import (
    CommandList,
    CommandState,
    GetCommands,
    GetLatestTelemetry,
    GetReports,
    GetRobots,
    GetTelemetryRange,
    LatestTelemetry,
    ReportList,
    RobotCommandBody,
    RobotCommandIssued,
    RobotId,
    RobotList,
    TelemetryRange,
)
from shared.contracts.telemetry import MAX_BUCKET_S
from shared.identity import AdminToken, ProjectStore, TokenStore

from .admin_auth import admin_scope
from .admin_content_files import release_tree
from .admin_fleet import admin_fleet_routes
from .admin_inbox import admin_inbox_routes
from .bus.bridge import Bridge, BridgeError
from .bus.dialog_content import DialogContent
from .edge.problems import Problem
from .protocols.xparo import schedule

T = TypeVar("T")
COMMAND: TypeAdapter[Any] = TypeAdapter(RobotCommandBody)
ROBOTS: TypeAdapter[RobotList] = TypeAdapter(RobotList)
COMMANDS: TypeAdapter[CommandList] = TypeAdapter(CommandList)
LATEST: TypeAdapter[LatestTelemetry] = TypeAdapter(LatestTelemetry)
RANGE: TypeAdapter[TelemetryRange] = TypeAdapter(TelemetryRange)
REPORTS: TypeAdapter[ReportList] = TypeAdapter(ReportList)


class SendCommand(BaseModel):
    """A command for a robot, in the frame shape the robot will receive."""

    type: Literal["behavior_update", "remote_command", "log_updated", "REST_API_TOKEN"] = Field(
        description="Command type; REST_API_TOKEN mints a fresh token at delivery"
    )
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="behavior_update {tree_name, xml} (without xml: the release stage's tree"
        " of that name), remote_command "
        "{command, parameters}, log_updated {session_id}, REST_API_TOKEN {}",
    )
    expires_in_s: float | None = Field(
        None, gt=0, le=30 * 24 * 3600, description="Not delivered after this many seconds"
    )


class CommandQueued(BaseModel):
    """The command is in the robot's queue."""

    command_id: UUID
    robot_id: str
    type: str
    status: Literal["queued"] = "queued"
    expires_at: datetime | None


def admin_router(projects: ProjectStore, tokens: TokenStore, bridge: Bridge) -> APIRouter:
    """The /admin routes for robots and telemetry."""
    router = APIRouter(prefix="/admin/projects/{project}", tags=["robots"])

    Scope = Annotated[tuple[UUID, AdminToken], Depends(admin_scope(projects, tokens))]
    content = DialogContent(bridge)

    @router.get("/robots", response_model=RobotList)
    async def list_robots(scoped: Scope) -> RobotList:
        """The project's robots, with online status and last seen."""
        key = scoped[0]
        return await _ask(
            bridge, subjects.telemetry_query("robots", key), GetRobots(project_key=key), ROBOTS
        )

    @router.post("/robots/{robot}/commands", status_code=202, response_model=CommandQueued)
    async def send_command(robot: RobotId, body: SendCommand, scoped: Scope) -> CommandQueued:
        """Queue a command for a robot; it is delivered now, or when the robot reconnects."""
        key, token = scoped
        data = body.data
        if body.type == "behavior_update" and "xml" not in data:  # the release stage's tree
            name = str(data.get("tree_name", "MainTree"))
            data = {**data, "xml": await release_tree(content, key, name)}
        try:
            command = COMMAND.validate_python({**data, "type": body.type})
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in ("data", *first["loc"]) if p != body.type)
            raise Problem(422, f"{where}: {first['msg']}") from err
        expires = None
        if body.expires_in_s is not None:
            expires = datetime.now(UTC) + timedelta(seconds=body.expires_in_s)
        issued = RobotCommandIssued.first(
            project_key=key,
            robot_id=robot,
            command=command,
            expires_at=expires,
            issued_by=f"admin:{token.name}",
        )
        try:
            await bridge.publish(
                issued, subjects.robot_command(project=key, robot=robot), subjects.ROBOT_STREAM
            )
        except BridgeError as err:
            raise Problem(503, str(err)) from err
        return CommandQueued(
            command_id=issued.event_id, robot_id=robot, type=body.type, expires_at=expires
        )

    @router.get("/robots/{robot}/commands", response_model=CommandList)
    async def robot_commands(
        robot: RobotId, scoped: Scope, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> CommandList:
        """A robot's commands, newest first, with their delivery status."""
        query = GetCommands(project_key=scoped[0], robot_id=robot, limit=limit)
        return await _ask(bridge, subjects.telemetry_query("commands", scoped[0]), query, COMMANDS)

    @router.get("/commands/{command_id}", response_model=CommandState)
    async def command(command_id: UUID, scoped: Scope) -> CommandState:
        """One command's delivery status."""
        query = GetCommands(project_key=scoped[0], command_id=command_id, limit=1)
        found = await _ask(bridge, subjects.telemetry_query("commands", scoped[0]), query, COMMANDS)
        if not found.commands:
            raise Problem(404, f"no command {command_id} in this project (yet)")
        return found.commands[0]

    @router.get("/telemetry/latest", response_model=LatestTelemetry)
    async def latest(scoped: Scope, robot_id: RobotId | None = None) -> LatestTelemetry:
        """The newest sample of each robot (or of one)."""
        query = GetLatestTelemetry(project_key=scoped[0], robot_id=robot_id)
        return await _ask(bridge, subjects.telemetry_query("latest", scoped[0]), query, LATEST)

    @router.get("/robots/{robot}/telemetry", response_model=TelemetryRange)
    async def telemetry_range(
        robot: RobotId,
        scoped: Scope,
        metric: Annotated[str, Query(description="Metric name, e.g. cpu_usage")],
        start: Annotated[datetime, Query(description="ISO 8601 with time zone")],
        end: Annotated[datetime, Query(description="ISO 8601 with time zone")],
        bucket_s: Annotated[
            float, Query(ge=1, le=MAX_BUCKET_S, description="Bucket width in seconds")
        ] = 60,
    ) -> TelemetryRange:
        """One metric over a time range, as min/avg/max per bucket."""
        try:
            query = GetTelemetryRange(
                project_key=scoped[0],
                robot_id=robot,
                metric=metric,
                start=start,
                end=end,
                bucket_s=bucket_s,
            )
        except ValidationError as err:
            raise Problem(422, err.errors()[0]["msg"].removeprefix("Value error, ")) from err
        return await _ask(bridge, subjects.telemetry_query("range", scoped[0]), query, RANGE)

    @router.get("/robots/{robot}/schedule")
    async def read_schedule(robot: RobotId, scoped: Scope) -> dict[str, Any]:
        """The robot's schedule, as `{"schedule_control": {...}}`."""
        return await _schedule(schedule.get_schedule(bridge, project=scoped[0], robot=robot))

    @router.put("/robots/{robot}/schedule")
    async def change_schedule(
        robot: RobotId, scoped: Scope, entries: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        """Create or update entries (XPARO format, or cron + timezone); the robot is sent the
        new schedule."""
        change = schedule.set_schedule(bridge, project=scoped[0], robot=robot, value=entries)
        return await _schedule(change)

    @router.delete("/robots/{robot}/schedule")
    async def remove_schedule(
        robot: RobotId, scoped: Scope, name: Annotated[list[str] | None, Query()] = None
    ) -> dict[str, Any]:
        """Remove the named entries (`?name=a&name=b`), or every entry."""
        change = schedule.delete_schedule(bridge, project=scoped[0], robot=robot, value=name)
        return await _schedule(change)

    @router.delete("/robots/{robot}/credential", status_code=204)
    async def revoke_credential(robot: RobotId, scoped: Scope) -> None:
        """Revoke the robot's ROBOT_CREDENTIAL; it must use the project secret again."""
        if not await tokens.revoke_credential(project=scoped[0], robot_id=robot):
            raise Problem(404, f"robot {robot} has no credential")

    @router.get("/robots/{robot}/reports", response_model=ReportList)
    async def reports(
        robot: RobotId,
        scoped: Scope,
        key: str | None = None,
        record_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> ReportList:
        """What the robot reported (robot info, log sessions, task results, ...), newest first."""
        query = GetReports(
            project_key=scoped[0], robot_id=robot, key=key, record_id=record_id, limit=limit
        )
        return await _ask(bridge, subjects.telemetry_query("reports", scoped[0]), query, REPORTS)

    admin_fleet_routes(router, projects, tokens, bridge)
    admin_inbox_routes(router, projects, tokens, bridge)
    return router


async def _schedule(change: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    try:
        return await change
    except schedule.ScheduleRefused as err:
        raise Problem(422, str(err), problems=err.problems) from err
    except BridgeError as err:
        raise Problem(503, "the schedule service did not answer; try again") from err


async def _ask(bridge: Bridge, subject: str, query: BaseModel, answer: TypeAdapter[T]) -> T:
    try:
        return await bridge.ask(subject, query, answer)
    except BridgeError as err:
        raise Problem(503, "the telemetry service did not answer; try again") from err
