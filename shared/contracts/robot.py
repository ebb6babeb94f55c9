"""Robots: the commands operators send them, and what happens to those commands and robots."""

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from .base import Contract, Event
from .behavior import MAX_TREE_CHARS, check_behavior_tree

ROBOT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
RobotId = Annotated[str, StringConstraints(pattern=ROBOT_ID_PATTERN)]
_ROBOT_ID = re.compile(ROBOT_ID_PATTERN)
DEFAULT_ROBOT = "default"


def robot_id_or_none(value: object) -> str | None:
    """`value` when it is a usable robot (or session) id: 1-64 of A-Z a-z 0-9 _ -; else None."""
    return value if isinstance(value, str) and _ROBOT_ID.match(value) else None


class BehaviorUpdate(Contract):
    """Send a BehaviorTree.CPP v4 tree (a whole `<root>` document or the inside of MainTree)."""

    type: Literal["behavior_update"] = "behavior_update"
    tree_name: str = Field("MainTree", min_length=1, max_length=128, description="Tree id")
    xml: str = Field(min_length=1, max_length=MAX_TREE_CHARS, description="The tree's XML")

    @model_validator(mode="after")
    def _parse(self) -> "BehaviorUpdate":
        check_behavior_tree(self.xml, tree_name=self.tree_name)
        return self


class RemoteCommand(Contract):
    """Ask the robot to run one of its commands."""

    type: Literal["remote_command"] = "remote_command"
    command: str = Field(min_length=1, max_length=128, description="e.g. start_navigation")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Command arguments")


class LogUpdated(Contract):
    """Tell the robot which logging session to write to."""

    type: Literal["log_updated"] = "log_updated"
    session_id: str = Field(min_length=1, max_length=128, description="Logging session id")


class RestApiToken(Contract):
    """Give the robot a new REST token; it is minted when delivered, so it is never stored."""

    type: Literal["REST_API_TOKEN"] = "REST_API_TOKEN"


class ScheduleControl(Contract):
    """The robot's whole schedule, sent whenever it changes (XPARO's `schedule_control`)."""

    type: Literal["schedule_control"] = "schedule_control"
    schedule: dict[str, dict[str, str]] = Field(description="Entry name → its timing")


RobotCommandBody = Annotated[
    BehaviorUpdate | RemoteCommand | LogUpdated | RestApiToken | ScheduleControl,
    Field(discriminator="type"),
]


class RobotCommandIssued(Event):
    """An operator (or the schedule) sent a command; event_id is the command id."""

    kind: Literal["command_issued"] = "command_issued"
    project_key: UUID = Field(description="The robot's project")
    robot_id: RobotId = Field(description="The robot it is for")
    command: RobotCommandBody = Field(description="What to send")
    expires_at: datetime | None = Field(None, description="Not delivered after this time")
    issued_by: str = Field(max_length=200, description="Who sent it (admin token name, ...)")


class RobotCommandDelivered(Event):
    """A gateway wrote the command to the robot's socket."""

    kind: Literal["command_delivered"] = "command_delivered"
    project_key: UUID
    robot_id: RobotId
    command_id: UUID = Field(description="event_id of the RobotCommandIssued")


class RobotCommandAcknowledged(Event):
    """The robot said it received the command."""

    kind: Literal["command_acknowledged"] = "command_acknowledged"
    project_key: UUID
    robot_id: RobotId
    command_id: UUID = Field(description="event_id of the RobotCommandIssued")


class RobotCommandExpired(Event):
    """The command's expiry passed before it could be delivered; it never will be."""

    kind: Literal["command_expired"] = "command_expired"
    project_key: UUID
    robot_id: RobotId
    command_id: UUID = Field(description="event_id of the RobotCommandIssued")


class RobotPresence(Event):
    """A robot's socket opened, is still alive, or closed (one connection id per socket).

    `heartbeat` is a sign of life outside any socket (XPARO's REST ROBOT_HEARTBEAT): the robot
    counts as connected until it falls silent for the online window.
    """

    kind: Literal["presence"] = "presence"
    project_key: UUID
    robot_id: RobotId
    state: Literal["connected", "seen", "disconnected", "heartbeat"] = Field(
        description="What happened"
    )
    connection: str = Field(max_length=64, description="Id of the socket (a robot may reconnect)")
    protocol: str = Field(max_length=32, description="Wire protocol of the socket")


class RobotReported(Event):
    """Something a robot sent that is kept as it came: robot info, log sessions, task results,
    live behaviour-tree updates, table rows, and keys this server does not know."""

    kind: Literal["reported"] = "reported"
    project_key: UUID
    robot_id: RobotId
    key: str = Field(max_length=128, description="The message's key, e.g. TASK_RESULT")
    record_id: str | None = Field(None, max_length=128, description="Id the robot refers to it by")
    payload: Any = Field(description="The message's value, as sent")


RobotEvent = Annotated[
    RobotCommandDelivered
    | RobotCommandAcknowledged
    | RobotCommandExpired
    | RobotPresence
    | RobotReported,
    Field(discriminator="kind"),
]

CommandStatus = Literal["queued", "delivered", "acknowledged", "expired"]


class GetRobots(Contract):
    """Query: a project's robots with their presence."""

    project_key: UUID


class RobotState(Contract):
    """A robot as the fleet sees it."""

    robot_id: RobotId
    online: bool = Field(description="Connected, and seen within the online window")
    connected: bool = Field(description="Its last socket has not closed")
    last_seen: datetime | None = Field(description="Last sign of life")
    protocol: str | None = Field(description="Protocol of its last socket")


class RobotList(Contract):
    """Answer: robots by id."""

    robots: list[RobotState]


class GetCommands(Contract):
    """Query: commands of a project, newest first (one robot, or one command)."""

    project_key: UUID
    robot_id: RobotId | None = None
    command_id: UUID | None = None
    limit: int = Field(100, ge=1, le=1000)


class CommandState(Contract):
    """A command and how far it got."""

    command_id: UUID
    robot_id: RobotId
    type: str | None = Field(description="Command type (None until the issue event is seen)")
    status: CommandStatus
    issued_at: datetime | None
    expires_at: datetime | None
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    issued_by: str | None
    data: dict[str, Any] | None = Field(
        None, description="What it asked (its fields but the type; a tree's XML left out)"
    )


class CommandList(Contract):
    """Answer: commands, newest first."""

    commands: list[CommandState]


class GetReports(Contract):
    """Query: what robots reported (newest first), filtered by robot, key and record id."""

    project_key: UUID
    robot_id: RobotId | None = None
    key: str | None = Field(None, max_length=128)
    record_id: str | None = Field(None, max_length=128)
    limit: int = Field(100, ge=1, le=1000)


class ReportState(Contract):
    """One stored report."""

    event_id: UUID
    robot_id: RobotId
    key: str
    record_id: str | None
    payload: Any
    occurred_at: datetime


class ReportList(Contract):
    """Answer: reports, newest first."""

    reports: list[ReportState]
