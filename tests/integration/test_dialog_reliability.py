"""Dialog replicas: order per session, state that survives restarts, redeliveries answered once."""

import asyncio
import json
import signal
from collections.abc import Iterator
from uuid import uuid4

import asyncpg
import nats
import pytest
from nats.aio.msg import Msg

from shared import subjects
from shared.contracts import TurnAnswered, TurnReceived
from shared.settings import CommonSettings
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject
from tests.support.waits import wait_until

from .xparo import NAME_AIML, ask, connect, recv, save

ECHO_AIML = "<category><pattern>SAY *</pattern><template><star/></template></category>"


async def _transcript_count(database_url: str, project: TestProject, session: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM dialog.turns WHERE project_key = $1 AND session_id = $2",
                project.key,
                session,
            )
        )
    finally:
        await conn.close()


async def _publish_turns(
    nats_url: str, project: TestProject, sessions: list[str], turns: int
) -> dict[str, list[str]]:
    """Publish `turns` numbered turns per session straight into CHAT; collect replies in order."""
    nc = await nats.connect(nats_url)
    got: dict[str, list[str]] = {s: [] for s in sessions}
    done = asyncio.Event()

    async def on_reply(msg: Msg) -> None:
        reply = TurnAnswered.model_validate_json(msg.data)
        got[reply.session_id].append(reply.text)
        if all(len(v) >= turns for v in got.values()):
            done.set()

    for s in sessions:
        await nc.subscribe(subjects.chat_reply(project=project.key, session=s), cb=on_reply)
    js = nc.jetstream()
    for n in range(1, turns + 1):
        for s in sessions:
            turn = TurnReceived.first(
                project_key=project.key,
                session_id=s,
                protocol="xparo",
                text=f"say {n}",
                channel=f"{s}-c",
                seq=n,
            )
            await js.publish(
                subjects.chat_turn(
                    project.key, turn.session_id, partitions=CommonSettings().chat_partitions
                ),
                turn.model_dump_json().encode(),
                headers={"Nats-Msg-Id": str(turn.event_id)},
            )
    await asyncio.wait_for(done.wait(), 60)
    await nc.close()
    return got


def test_two_replicas_answer_each_sessions_turns_in_order(
    stack: Stack, project: TestProject, backends: Backends
) -> None:
    """Turns published back to back for many sessions come back in order for each session,
    with two dialog replicas pulling from the same durable consumer."""
    assert len(stack.dialogs) == 2
    save(connect(stack.ws_url(project)), ECHO_AIML)
    sessions = [uuid4().hex for _ in range(8)]
    got = asyncio.run(_publish_turns(backends.nats_url, project, sessions, turns=15))
    for session in sessions:
        assert got[session] == [str(n) for n in range(1, 16)], session


def test_redelivered_turn_is_answered_and_stored_once(
    stack: Stack, project: TestProject, backends: Backends
) -> None:
    """The same turn event arriving twice (a redelivery) gives one answer and one transcript row."""
    session = uuid4().hex
    ws = connect(stack.ws_url(project, query=f"session_id={session}"))
    save(ws, ECHO_AIML)
    turn = TurnReceived.first(
        project_key=project.key,
        session_id=session,
        protocol="xparo",
        text="say once",
        channel="replayed",
        seq=1,
    )

    async def publish_twice() -> None:
        nc = await nats.connect(backends.nats_url)
        for _ in range(2):  # distinct msg ids: JetStream's own dedupe cannot hide the repeat
            await nc.jetstream().publish(
                subjects.chat_turn(
                    project.key, turn.session_id, partitions=CommonSettings().chat_partitions
                ),
                turn.model_dump_json().encode(),
                headers={"Nats-Msg-Id": str(uuid4())},
            )
        await nc.close()

    asyncio.run(publish_twice())
    assert recv(ws) == {"message": {"bot_response": "once"}}
    assert ask(ws, "say next") == "next"  # the duplicate's answer never arrived in between

    # The answer leaves before its transaction commits: wait for the row, then count.
    async def stored() -> int:
        async def both() -> bool:
            return await _transcript_count(backends.database_url, project, session) >= 2

        await wait_until(both, within_s=10, what="both turns stored")
        return await _transcript_count(backends.database_url, project, session)

    assert asyncio.run(stored()) == 2


def test_a_turn_waits_for_a_predecessor_that_arrives_late(
    stack: Stack, project: TestProject, backends: Backends
) -> None:
    """Turn 2 of a connection arrives seconds before turn 1 (as when turn 1 was taken by a
    replica that died and comes back after DIALOG_ACK_WAIT_S): it is answered after turn 1,
    with turn 1's state, not forced through on its own."""
    session = uuid4().hex
    ws = connect(stack.ws_url(project, query=f"session_id={session}"))
    save(ws, NAME_AIML)
    first, second = (
        TurnReceived.first(
            project_key=project.key,
            session_id=session,
            protocol="xparo",
            text=text,
            channel="late",
            seq=seq,
        )
        for seq, text in [(1, "my name is Ada"), (2, "what is my name")]
    )

    async def publish_out_of_order() -> None:
        nc = await nats.connect(backends.nats_url)
        for turn in (second, first):
            if turn is first:  # late by more than DIALOG_ACK_WAIT_S (4 s), less than
                await asyncio.sleep(5)  # DIALOG_EARLY_WAIT_S (8 s): the scenario, not a wait
            await nc.jetstream().publish(
                subjects.chat_turn(
                    project.key, turn.session_id, partitions=CommonSettings().chat_partitions
                ),
                turn.model_dump_json().encode(),
                headers={"Nats-Msg-Id": str(turn.event_id)},
            )
        await nc.close()

    asyncio.run(publish_out_of_order())
    assert recv(ws) == {"message": {"bot_response": "Hi Ada"}}
    assert recv(ws) == {"message": {"bot_response": "You are Ada"}}


@pytest.fixture(scope="module")
def restart_stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(backends, tmp_path_factory.mktemp("restart-logs")).start(dialogs=1)
    yield running
    running.stop()


def test_predicates_survive_a_dialog_crash_and_restart(
    restart_stack: Stack, project: TestProject
) -> None:
    """'my name is Bob', kill -9 every dialog replica, start a new one: it still knows Bob.
    The question asked while no replica ran waits in the stream and is answered afterwards."""
    ws = connect(restart_stack.ws_url(project))
    save(ws, NAME_AIML)
    assert ask(ws, "my name is Bob") == "Hi Bob"
    for dialog in restart_stack.dialogs:
        dialog.stop(signal.SIGKILL)
    ws.send(json.dumps({"ask_bot": "what is my name"}))
    restart_stack.start_dialog()
    assert recv(ws) == {"message": {"bot_response": "You are Bob"}}
