"""`make replay`: the dialog transcripts and the telemetry and robot registry tables rebuilt from
the JetStream streams equal the live ones, duplicates in the streams included."""

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from services.dialog.replay import CHECKS as DIALOG_CHECKS
from services.telemetry.replay import CHECKS as TELEMETRY_CHECKS
from shared import subjects
from shared.contracts import (
    BotSpoke,
    DeleteSession,
    RemoteCommand,
    RobotCommandAcknowledged,
    RobotCommandDelivered,
    RobotCommandIssued,
    SayToSession,
    SessionInfo,
    utcnow,
)
from shared.replay import TableCheck, compare_schemas
from shared.settings import CommonSettings
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject
from tests.support.telemetry import (
    METRICS,
    consumer_drained,
    publish_event,
    publish_samples,
    simulated_samples,
)
from tests.support.waits import wait_until

from .xparo import ask, connect, recv, save, send

AIML = (
    "<category><pattern>HELLO</pattern><template>Hello there</template></category>"
    "<category><pattern>MY NAME IS *</pattern>"
    '<template><think><set name="name"><star/></set></think>Hi <star/></template></category>'
    '<category><pattern>WHO AM I</pattern><template>You are <get name="name"/></template>'
    "</category>"
)
TIMEOUT_S = 20.0


@pytest.fixture(scope="module")
def replay_stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway, a dialog and a telemetry replica for this module."""
    running = Stack(backends, tmp_path_factory.mktemp("logs")).start(dialogs=1, telemetry=1)
    yield running
    running.stop()


def run_replay(backends: Backends, service: str, project: UUID, into: str) -> str:
    """Run the replay as `make replay SERVICE=... PROJECT=... COMPARE=1` does; its output
    (the assertion names it when the exit code is not 0)."""
    args = ["--project", str(project), "--into", into, "--compare"]
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}.replay", *args],
        env={**os.environ, **backends.env()},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def rows(pg: asyncpg.Connection, schema: str, table: str, project: UUID) -> int:
    query = f"SELECT count(*) FROM {schema}.{table} WHERE project_key = $1"  # noqa: S608
    return int(await pg.fetchval(query, project))


async def drained(js: JetStreamContext, stream: str, durable: str) -> None:
    async def done() -> bool:
        return await consumer_drained(js, stream, durable)

    await wait_until(done, within_s=TIMEOUT_S, what=f"{durable} on {stream} drained")


async def tampered_is_noticed(
    backends: Backends, checks: tuple[TableCheck, ...], schema: str, live: str, project: UUID
) -> None:
    """The comparison itself can fail: after a rebuilt table is changed, it names the table."""
    found = await compare_schemas(
        backends.database_url, checks, live=live, rebuilt=schema, project=project
    )
    assert [d.table for d in found if not d.equal] == [checks[0].table]


async def say(nc: NatsClient, project: UUID, session: str, text: str) -> None:
    command = SayToSession(
        project_key=project,
        session_id=session,
        text=text,
        source="operator",
        correlation_id=uuid4(),
        operator="ops",
    )
    msg = await nc.request(
        subjects.dialog_session("say", project), command.model_dump_json().encode(), TIMEOUT_S
    )
    BotSpoke.model_validate_json(msg.data)


async def delete(nc: NatsClient, project: UUID, session: str) -> None:
    command = DeleteSession(project_key=project, session_id=session, correlation_id=uuid4())
    msg = await nc.request(
        subjects.dialog_session("delete", project), command.model_dump_json().encode(), TIMEOUT_S
    )
    SessionInfo.model_validate_json(msg.data)


def converse(stack: Stack, project: TestProject, sessions: list[str]) -> None:
    """Each session: a greeting, a name kept as a predicate, and the name asked back."""
    with_content = connect(stack.ws_url(project))
    assert save(with_content, AIML)["save_aiml"]["status"] is True
    with_content.close()
    for n, session in enumerate(sessions):
        ws = connect(stack.ws_url(project, query=f"session_id={session}"))
        assert ask(ws, "hello") == "Hello there"
        assert ask(ws, f"my name is user{n}") == f"Hi user{n}"
        assert ask(ws, "who am i") == f"You are user{n}"
        ws.close()


async def repeat_last(js: JetStreamContext, subject: str) -> None:
    """Publish the subject's newest message again under a fresh Nats-Msg-Id: the stream holds
    it twice (as after a gateway's retry beyond the dedupe window)."""
    last = await js.get_last_msg(subjects.CHAT_STREAM, subject)
    assert last.subject is not None and last.data is not None
    await js.publish(last.subject, last.data, headers={"Nats-Msg-Id": uuid4().hex})


async def test_replayed_transcripts_equal_the_live_ones(
    replay_stack: Stack,
    backends: Backends,
    project: TestProject,
    nc: NatsClient,
    pg: asyncpg.Connection,
) -> None:
    """Three XPARO sessions of turns, a message said by an operator, a deleted session and
    repeated turn and reply messages: the rebuilt turns, sessions and tombstones equal the
    live rows of the project."""
    key, js = project.key, nc.jetstream()
    sessions = [f"replay{n}{uuid4().hex[:8]}" for n in range(3)]
    await asyncio.to_thread(converse, replay_stack, project, sessions)
    await say(nc, key, sessions[0], "An operator here")
    await delete(nc, key, sessions[1])
    await repeat_last(
        js, subjects.chat_turn(key, sessions[2], partitions=CommonSettings().chat_partitions)
    )
    await repeat_last(js, subjects.chat_reply(project=key, session=sessions[2]))
    for partition in range(CommonSettings().chat_partitions):
        durable = subjects.dialog_partition_durable(partition)
        await drained(js, subjects.CHAT_STREAM, durable)
    assert await rows(pg, "dialog", "turns", key) == 2 * 3 + 1  # s1 deleted; the said message
    into = f"replay_test_{uuid4().hex[:12]}"
    try:
        output = await asyncio.to_thread(run_replay, backends, "dialog", key, into)
        for table in ("turns", "sessions", "deleted_sessions"):
            assert await rows(pg, into, table, key) == await rows(pg, "dialog", table, key)
        assert await rows(pg, into, "deleted_sessions", key) == 1
        assert "DIFFERENT" not in output and "duplicates" in output, output
        changed = f"UPDATE {into}.turns SET answer = 'changed' WHERE id = (SELECT min(id) FROM {into}.turns)"  # noqa: S608
        await pg.execute(changed)
        await tampered_is_noticed(backends, DIALOG_CHECKS, into, "dialog", key)
    finally:
        await pg.execute(f"DROP SCHEMA IF EXISTS {into} CASCADE")


def robot_session(stack: Stack, project: TestProject, robot: str) -> None:
    """A robot socket: connected, one task report kept, then gone (disconnected)."""
    ws = connect(stack.ws_url(project, prefix="/ws", query=f"robot_id={robot}"))
    send(ws, {"ADD_Task_history_database": {"unique_id": "task-1", "type": "bt_task"}})
    assert recv(ws) == {"task_updated": "task-1"}
    ws.close()


async def commands(js: JetStreamContext, project: UUID, robot: str) -> None:
    """Two commands for an offline robot: one delivered and acknowledged, one still queued."""
    for n in range(2):
        issued = RobotCommandIssued.first(
            project_key=project,
            robot_id=robot,
            command=RemoteCommand(command=f"dock{n}"),
            issued_by="ops",
        )
        await publish_event(js, subjects.robot_command(project=project, robot=robot), issued)
        if n == 0:
            for kind in (RobotCommandDelivered, RobotCommandAcknowledged):
                progress = kind(
                    **issued.caused(),
                    project_key=project,
                    robot_id=robot,
                    command_id=issued.event_id,
                )
                await publish_event(
                    js, subjects.robot_event(project=project, robot=robot), progress
                )


async def test_replayed_telemetry_and_robot_registry_equal_the_live_ones(
    replay_stack: Stack,
    backends: Backends,
    project: TestProject,
    nc: NatsClient,
    pg: asyncpg.Connection,
) -> None:
    """Samples of three robots (some published twice under new message ids), a robot socket
    that reported and left, and commands: the rebuilt samples, latest, robots, commands and
    reports equal the live rows of the project."""
    key, js = project.key, nc.jetstream()
    samples = simulated_samples(key, robots=3, per_robot=20, start=utcnow() - timedelta(hours=1))
    await publish_samples(js, samples)
    await publish_samples(js, samples[:10], fresh_msg_ids=True)
    await asyncio.to_thread(robot_session, replay_stack, project, "arm-1")
    await commands(js, key, "arm-2")

    async def stored() -> bool:
        return await rows(pg, "telemetry", "samples", key) == len(samples) * len(METRICS)

    await wait_until(stored, within_s=TIMEOUT_S, what="every sample stored")
    await drained(js, subjects.TELEMETRY_STREAM, subjects.TELEMETRY_DURABLE)
    await drained(js, subjects.ROBOT_STREAM, subjects.FLEET_DURABLE)
    assert await rows(pg, "telemetry", "robots", key) == 3 + 1  # and arm-1; arm-2 has commands only
    assert await rows(pg, "telemetry", "commands", key) == 2
    into = f"replay_test_{uuid4().hex[:12]}"
    try:
        output = await asyncio.to_thread(run_replay, backends, "telemetry", key, into)
        for check in TELEMETRY_CHECKS:
            live = await rows(pg, "telemetry", check.table, key)
            assert live > 0 and await rows(pg, into, check.table, key) == live, check.table
        assert "DIFFERENT" not in output, output
        lost = f"DELETE FROM {into}.samples WHERE ctid IN (SELECT ctid FROM {into}.samples LIMIT 1)"  # noqa: S608
        await pg.execute(lost)
        await tampered_is_noticed(backends, TELEMETRY_CHECKS, into, "telemetry", key)
    finally:
        await pg.execute(f"DROP SCHEMA IF EXISTS {into} CASCADE")
