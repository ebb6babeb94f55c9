"""The wider dialect XPARO's real robot client speaks (lazyxcientist/xparo_ros2).

Every message it sends is kept as a robot report (`robot.event.<project>.<robot>`), with these
answers: `ADD_robots_info` → `{"ROBOT_CREDENTIAL": ...}` the first time a device is seen;
`ADD_Logs_history_database` → `{"log_updated": "<id>"}`; `ADD_*_database` and any message with a
`task_id`/`unique_id` → `{"task_updated": "<that id>"}`; `ROBOT_HEARTBEAT` keeps the robot online.
Resource figures of log sessions also become telemetry samples.

Which robot a message is from, when the connection does not say (the robot posts its records
over REST with the project secret): its `device_id`; else, in its own records (`ADD_*_database`),
its `unique_id`, which the client sets to its device id; else, for `UPDATE_Logs_history_database`,
the robot that started that log session, whose id the log id carries (`<robot>.<random>`), so any
gateway replica files the update under it without a lookup.
"""

import json
import math
import re
from typing import Any
from uuid import UUID, uuid4

from shared import subjects
from shared.contracts import (
    DEFAULT_ROBOT,
    BehaviorUpdate,
    LogUpdated,
    RemoteCommand,
    RobotCommandIssued,
    RobotPresence,
    RobotReported,
    ScheduleControl,
    TelemetrySampled,
    robot_id_or_none,
    utcnow,
)
from shared.identity import TokenStore

from ...bus.bridge import Bridge
from ...edge.errors import GatewayError

SAFE_NAME = re.compile(r"^(?!\.)[A-Za-z0-9_.-]{1,128}$")
MAX_REPORT_BYTES = 256 * 1024
NAMED_MAPS = ("log_files", "custom_aiml", "custom_maps", "custom_sets", "custom_Sets")
ROBOT_CONTENT_KEYS = {
    "aiml": "aiml",
    "maps": "maps",
    "Sets": "sets",
    "sets": "sets",
    "properties": "properties",
}
RESOURCE_FIELDS = ("resources_consuption", "resources_consumption")
LOG_UPDATE = "UPDATE_Logs_history_database"


class DialectError(GatewayError):
    """A robot message that cannot be kept; the message is for the robot."""


def check_names(payload: Any) -> None:
    """Refuse file names that could leave their folder, and oversized payloads."""
    if len(json.dumps(payload, default=str)) > MAX_REPORT_BYTES:
        raise DialectError(f"message over {MAX_REPORT_BYTES // 1024} KiB")
    if not isinstance(payload, dict):
        return
    for field in NAMED_MAPS:
        names = payload.get(field)
        if isinstance(names, dict):
            for name in names:
                if not SAFE_NAME.match(str(name)):
                    raise DialectError(f"{field}: {str(name)[:80]!r} is not a plain file name")
        elif isinstance(names, list):
            for name in names:
                if isinstance(name, str) and not SAFE_NAME.match(name.rsplit("/", 1)[-1]):
                    raise DialectError(f"{field}: {name[:80]!r} is not a plain file name")
                if isinstance(name, str) and (".." in name.split("/") or name.startswith("/")):
                    raise DialectError(f"{field}: {name[:80]!r} leaves the log folder")


def record_id(payload: Any) -> str | None:
    """The id a robot refers to a record by (task_id, unique_id, id or run_id)."""
    if not isinstance(payload, dict):
        return None
    for field in ("task_id", "unique_id", "id", "run_id", "request_id"):
        value = payload.get(field)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)[:128]
    return None


def robot_named(key: str, payload: Any) -> str | None:
    """The robot a message says it is from (see the module docstring), or None."""
    if not isinstance(payload, dict):
        return None
    device = robot_id_or_none(payload.get("device_id"))
    if device is None and key.startswith("ADD_") and key.endswith("_database"):
        device = robot_id_or_none(payload.get("unique_id"))
    if device is None and key == LOG_UPDATE:
        device = log_owner(payload.get("id"))
    return device


def new_log_id(robot: str) -> str:
    """A log session id that says which robot started the session (none for `default`: an
    unnamed robot's updates must not reach the robot of that name's command queue)."""
    return uuid4().hex if robot == DEFAULT_ROBOT else f"{robot}.{uuid4().hex}"


def log_owner(log_id: Any) -> str | None:
    """The robot that started the log session `log_id` (None: not one of our log ids)."""
    if not isinstance(log_id, str) or "." not in log_id:
        return None
    return robot_id_or_none(log_id.split(".", 1)[0])


def resource_metrics(payload: Any) -> dict[str, float]:
    """The numeric resource figures of a log session update (lists and objects are skipped)."""
    if not isinstance(payload, dict):
        return {}
    found: dict[str, Any] = next(
        (payload[f] for f in RESOURCE_FIELDS if isinstance(payload.get(f), dict)), {}
    )
    return {
        name: float(value)
        for name, value in found.items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and SAFE_NAME.match(name)
    }


def xparo_command_frame(issued: RobotCommandIssued, *, token: str | None) -> dict[str, Any]:
    """A command as the real client's dispatch keys: its RUN_TASK, aiml, log_updated, ..."""
    match issued.command:
        case RemoteCommand(command=name, parameters=parameters):
            return {name: parameters}
        case BehaviorUpdate(xml=xml):
            return {"aiml": xml}
        case LogUpdated(session_id=session):
            return {"log_updated": session}
        case ScheduleControl(schedule=schedule):
            return {"schedule_control": schedule}
        case _:
            return {"REST_API_TOKEN": token}


class RobotDialect:
    """Keeps what a robot reports and answers the way its client expects."""

    def __init__(self, bridge: Bridge, tokens: TokenStore, *, project: UUID) -> None:
        self._bridge = bridge
        self._tokens = tokens
        self._project = project

    async def report(
        self, robot: str, key: str, payload: Any, *, record: str | None = None
    ) -> None:
        """Keep one message as a robot report."""
        check_names(payload)
        event = RobotReported.first(
            project_key=self._project,
            robot_id=robot,
            key=key[:128],
            record_id=record if record is not None else record_id(payload),
            payload=payload,
        )
        subject = subjects.robot_event(project=self._project, robot=robot)
        await self._bridge.publish(event, subject, subjects.ROBOT_STREAM)

    async def robots_info(self, payload: Any) -> tuple[str, dict[str, Any]]:
        """Register a device; its first time gets a ROBOT_CREDENTIAL. Returns (robot, reply)."""
        device = robot_id_or_none(payload.get("device_id") if isinstance(payload, dict) else None)
        if device is None:
            raise DialectError("ADD_robots_info needs a device_id (1-64 of A-Z a-z 0-9 _ -)")
        await self.report(device, "ADD_robots_info", payload, record=device)
        secret = await self._tokens.issue_credential(project=self._project, robot_id=device)
        return device, ({"ROBOT_CREDENTIAL": secret} if secret else {})

    async def heartbeat(self, robot: str, payload: Any) -> None:
        """A sign of life outside the socket: the robot stays online."""
        event = RobotPresence.first(
            project_key=self._project,
            robot_id=robot,
            state="heartbeat",
            connection="rest",
            protocol="xparo",
        )
        subject = subjects.robot_event(project=self._project, robot=robot)
        await self._bridge.publish(
            event, subject, subjects.ROBOT_STREAM, ttl_s=subjects.ROBOT_EVENT_TTL_S
        )

    async def log_session(self, robot: str, key: str, payload: Any) -> dict[str, Any]:
        """ADD_ starts a log session (its id is returned); UPDATE_ adds to one."""
        if key.startswith("ADD_"):
            session = new_log_id(robot)
            await self.report(robot, key, payload, record=session)
            reply: dict[str, Any] = {"log_updated": session}
        else:
            session_id = payload.get("id") if isinstance(payload, dict) else None
            if not isinstance(session_id, str | int) or isinstance(session_id, bool):
                raise DialectError(f"{key} needs the id that log_updated gave")
            await self.report(robot, key, payload, record=str(session_id))
            reply = {}
        metrics = resource_metrics(payload)
        if metrics:
            sample = TelemetrySampled.first(
                project_key=self._project, robot_id=robot, received_at=utcnow(), metrics=metrics
            )
            subject = subjects.telemetry_sample(project=self._project, robot=robot)
            await self._bridge.publish(sample, subject, subjects.TELEMETRY_STREAM)
        return reply

    async def other(self, robot: str, key: str, payload: Any) -> dict[str, Any]:
        """Any other message: kept; acknowledged with task_updated when it names a record."""
        await self.report(robot, key, payload)
        found = record_id(payload)
        return {"task_updated": found} if found is not None else {}


def content_fields(value: Any) -> dict[str, str]:
    """`save_aiml`'s value: an AIML string, or the robot's {"aiml", "maps", "Sets", ...} object."""
    if isinstance(value, str):
        return {"aiml": value}
    if not isinstance(value, dict):
        raise DialectError('save_aiml expects AIML text or {"aiml": ..., "maps": ..., ...}')
    fields: dict[str, str] = {}
    for key, name in ROBOT_CONTENT_KEYS.items():
        if key in value:
            if not isinstance(value[key], str):
                raise DialectError(f"save_aiml.{key} must be a string")
            fields[name] = value[key]
    if "aiml" not in fields:
        raise DialectError("save_aiml needs an 'aiml' string")
    return fields
