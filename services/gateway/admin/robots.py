"""Admin HTTP API for robots: list them, send them commands, follow delivery, read telemetry.

Every route needs `Authorization: Bearer <admin token>` (created with `switchboard admin-token
create`) whose scope covers the project. Errors are problem+json (see ../problems.py).
"""

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, Body, Query
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

from ..bus.bridge import Bridge, BridgeError
from ..edge.problems import Problem
from ..protocols.xparo import schedule
from .asking import ask, built
from .auth import PROJECT_ROUTES, ProjectAdminDep
from .behaviors import release_tree
from .deps import BridgeDep, ContentDep, TokensDep

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


router = APIRouter(prefix=PROJECT_ROUTES, tags=["robots"])


@router.get("/robots", response_model=RobotList)
async def list_robots(admin: ProjectAdminDep, bridge: BridgeDep) -> RobotList:
    """The project's robots, with online status and last seen."""
    return await _ask(bridge, "robots", admin.project, GetRobots(project_key=admin.project), ROBOTS)


@router.post("/robots/{robot}/commands", status_code=202, response_model=CommandQueued)
async def send_command(
    robot: RobotId,
    body: SendCommand,
    admin: ProjectAdminDep,
    bridge: BridgeDep,
    content: ContentDep,
) -> CommandQueued:
    """Queue a command for a robot; it is delivered now, or when the robot reconnects."""
    key = admin.project
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
        issued_by=f"admin:{admin.token.name}",
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
    robot: RobotId,
    admin: ProjectAdminDep,
    bridge: BridgeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CommandList:
    """A robot's commands, newest first, with their delivery status."""
    query = GetCommands(project_key=admin.project, robot_id=robot, limit=limit)
    return await _ask(bridge, "commands", admin.project, query, COMMANDS)


@router.get("/commands/{command_id}", response_model=CommandState)
async def command(command_id: UUID, admin: ProjectAdminDep, bridge: BridgeDep) -> CommandState:
    """One command's delivery status."""
    query = GetCommands(project_key=admin.project, command_id=command_id, limit=1)
    found = await _ask(bridge, "commands", admin.project, query, COMMANDS)
    if not found.commands:
        raise Problem(404, f"no command {command_id} in this project (yet)")
    return found.commands[0]


@router.get("/telemetry/latest", response_model=LatestTelemetry)
async def latest(
    admin: ProjectAdminDep, bridge: BridgeDep, robot_id: RobotId | None = None
) -> LatestTelemetry:
    """The newest sample of each robot (or of one)."""
    query = GetLatestTelemetry(project_key=admin.project, robot_id=robot_id)
    return await _ask(bridge, "latest", admin.project, query, LATEST)


@router.get("/robots/{robot}/telemetry", response_model=TelemetryRange)
async def telemetry_range(
    robot: RobotId,
    admin: ProjectAdminDep,
    bridge: BridgeDep,
    metric: Annotated[str, Query(description="Metric name, e.g. cpu_usage")],
    start: Annotated[datetime, Query(description="ISO 8601 with time zone")],
    end: Annotated[datetime, Query(description="ISO 8601 with time zone")],
    bucket_s: Annotated[
        float, Query(ge=1, le=MAX_BUCKET_S, description="Bucket width in seconds")
    ] = 60,
) -> TelemetryRange:
    """One metric over a time range, as min/avg/max per bucket."""
    query = built(
        lambda: GetTelemetryRange(
            project_key=admin.project,
            robot_id=robot,
            metric=metric,
            start=start,
            end=end,
            bucket_s=bucket_s,
        )
    )
    return await _ask(bridge, "range", admin.project, query, RANGE)


@router.get("/robots/{robot}/schedule")
async def read_schedule(
    robot: RobotId, admin: ProjectAdminDep, bridge: BridgeDep
) -> dict[str, Any]:
    """The robot's schedule, as `{"schedule_control": {...}}`."""
    return await _schedule(schedule.get_schedule(bridge, project=admin.project, robot=robot))


@router.put("/robots/{robot}/schedule")
async def change_schedule(
    robot: RobotId,
    admin: ProjectAdminDep,
    bridge: BridgeDep,
    entries: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Create or update entries (XPARO format, or cron + timezone); the robot is sent the
    new schedule."""
    change = schedule.set_schedule(bridge, project=admin.project, robot=robot, value=entries)
    return await _schedule(change)


@router.delete("/robots/{robot}/schedule")
async def remove_schedule(
    robot: RobotId,
    admin: ProjectAdminDep,
    bridge: BridgeDep,
    name: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    """Remove the named entries (`?name=a&name=b`), or every entry."""
    change = schedule.delete_schedule(bridge, project=admin.project, robot=robot, value=name)
    return await _schedule(change)


@router.delete("/robots/{robot}/credential", status_code=204)
async def revoke_credential(robot: RobotId, admin: ProjectAdminDep, tokens: TokensDep) -> None:
    """Revoke the robot's ROBOT_CREDENTIAL; it must use the project secret again."""
    if not await tokens.revoke_credential(project=admin.project, robot_id=robot):
        raise Problem(404, f"robot {robot} has no credential")


@router.get("/robots/{robot}/reports", response_model=ReportList)
async def reports(
    robot: RobotId,
    admin: ProjectAdminDep,
    bridge: BridgeDep,
    key: str | None = None,
    record_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ReportList:
    """What the robot reported (robot info, log sessions, task results, ...), newest first."""
    query = GetReports(
        project_key=admin.project, robot_id=robot, key=key, record_id=record_id, limit=limit
    )
    return await _ask(bridge, "reports", admin.project, query, REPORTS)


async def _schedule(change: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    try:
        return await change
    except schedule.ScheduleRefused as err:
        raise Problem(422, str(err), problems=err.problems) from err
    except BridgeError as err:
        raise Problem(503, "the schedule service did not answer; try again") from err


async def _ask(bridge: Bridge, kind: str, key: UUID, query: BaseModel, answer: TypeAdapter[T]) -> T:
    """The telemetry service's answer to a query of `kind` about project `key`."""
    return await ask(
        bridge, subjects.telemetry_query(kind, key), query, answer, service="telemetry"
    )
