"""Thin subscribers: get, set and delete a robot's schedule by request/reply (queue group)."""

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from faststream.nats import NatsBroker, NatsMessage
from pydantic import ValidationError

from shared import subjects
from shared.broker import misaddressed, publish_event, undecoded
from shared.contracts import (
    DeleteSchedule,
    GetSchedule,
    RobotCommandIssued,
    Schedule,
    ScheduleProblem,
    ScheduleRejected,
    SetSchedule,
)

from .application import ScheduleApp
from .domain import ScheduleRefused

log = logging.getLogger(__name__)
Request = TypeVar("Request", GetSchedule, SetSchedule, DeleteSchedule)


async def publish_command(broker: NatsBroker, event: RobotCommandIssued) -> None:
    """Put a command into its robot's queue in ROBOT; its event id is the dedupe key, so a
    repeated publish of the same event is dropped by the stream."""
    subject = subjects.robot_command(project=event.project_key, robot=event.robot_id)
    await publish_event(broker, event, subject, stream=subjects.ROBOT_STREAM)


def _refused(entry: str, message: str) -> ScheduleRefused:
    return ScheduleRefused([ScheduleProblem(entry=entry, message=message)])


def decode(msg: NatsMessage, kind: str, model: type[Request]) -> Request:
    """The request in `msg`, if it is well formed and names the project of its own subject (a
    body naming another project gets nothing of that project)."""
    try:
        request = model.model_validate_json(msg.body)
    except ValidationError as err:
        # Locations and pydantic's messages only: the input itself is not echoed.
        what = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in err.errors()[:3]
        )
        raise _refused("*", f"malformed {model.__name__}: {what}") from err
    project = request.project_key
    if misaddressed(msg, subjects.schedule_request(kind, project), project, what=kind, log=log):
        raise _refused("project_key", "the request names another project than its subject")
    return request


async def answer(
    msg: NatsMessage, kind: str, model: type[Request], use: Callable[[Request], Awaitable[Schedule]]
) -> Schedule | ScheduleRejected:
    """Decode, run the use case, and turn a refusal into the rejection the caller reads."""
    try:
        return await use(decode(msg, kind, model))
    except ScheduleRefused as err:
        return ScheduleRejected(problems=err.problems)


def register(broker: NatsBroker, app: ScheduleApp) -> None:
    """Attach the request/reply subscribers; any replica answers (queue group)."""
    queue = subjects.SCHEDULE_QUEUE

    @broker.subscriber(subjects.SCHEDULE_GET_ALL, queue=queue, decoder=undecoded)
    async def on_get(msg: NatsMessage) -> Schedule | ScheduleRejected:
        return await answer(msg, "get", GetSchedule, app.get)

    @broker.subscriber(subjects.SCHEDULE_SET_ALL, queue=queue, decoder=undecoded)
    async def on_set(msg: NatsMessage) -> Schedule | ScheduleRejected:
        return await answer(msg, "set", SetSchedule, app.set)

    @broker.subscriber(subjects.SCHEDULE_DELETE_ALL, queue=queue, decoder=undecoded)
    async def on_delete(msg: NatsMessage) -> Schedule | ScheduleRejected:
        return await answer(msg, "delete", DeleteSchedule, app.delete)
