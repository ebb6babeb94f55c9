"""Services started before their database or broker: alive at once, not ready, and ready
without a restart once the dependency comes; a turn accepted during a database outage is
answered when the database is back. Each test has its own NATS and Postgres."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import nats
import pytest
from nats.aio.msg import Msg

from shared import subjects
from shared.contracts import TurnAnswered, TurnReceived
from shared.db import opened
from shared.devstack.embedded import EmbeddedNats, free_port
from shared.devstack.postgres import EmbeddedPostgres
from shared.identity import ProjectStore
from shared.migrations import upgrade
from shared.settings import CommonSettings
from tests.support.services import Service


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A migrated Postgres of this module's own (tests stop and start it)."""
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("own-pg") / "postgres")
    upgrade(pg.start())
    yield pg
    pg.stop()


def _project(database_url: str) -> UUID:
    async def create() -> UUID:
        async with opened(database_url) as database:
            return (await ProjectStore(database).create(uuid4().hex)).project.key

    return asyncio.run(create())


def _status(service: Service, path: str) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{service.port}{path}", timeout=2).status_code
    except httpx.HTTPError:
        return None


def _alive_not_ready(service: Service, within_s: float = 20.0) -> None:
    """/health answers 200 while /ready answers 503 (polled until /health answers)."""
    deadline = time.monotonic() + within_s
    while _status(service, "/health") != 200:
        assert service.process is not None and service.process.poll() is None, service.log_tail()
        assert time.monotonic() < deadline, f"no /health within {within_s} s"
        time.sleep(0.1)
    assert _status(service, "/ready") == 503


def _wait_logged(service: Service, text: str, within_s: float = 20.0) -> None:
    deadline = time.monotonic() + within_s
    while text not in service.log_tail():
        assert time.monotonic() < deadline, f"{text!r} not logged: {service.log_tail()}"
        time.sleep(0.1)


async def _turn_answered(nats_url: str, project: UUID, session: str, *, seq: int) -> str:
    """Publish a turn as a gateway does and return the reply's text."""
    nc = await nats.connect(nats_url)
    replies: asyncio.Queue[str] = asyncio.Queue()

    async def on_reply(msg: Msg) -> None:
        await replies.put(TurnAnswered.model_validate_json(msg.data).text)

    try:
        await nc.subscribe(subjects.chat_reply(project=project, session=session), cb=on_reply)
        turn = TurnReceived.first(
            project_key=project,
            session_id=session,
            protocol="xparo",
            text="hello",
            channel=session,
            seq=seq,
        )
        await nc.jetstream().publish(
            subjects.chat_turn(project, session, partitions=CommonSettings().chat_partitions),
            turn.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(turn.event_id)},
        )
        return await asyncio.wait_for(replies.get(), 30)
    finally:
        await nc.close()


def _nats(root: Path) -> EmbeddedNats:
    return EmbeddedNats(root / "nats" / "jetstream", port=free_port())


def test_a_dialog_started_before_postgres_becomes_ready_when_it_comes(
    own_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    """Postgres down: /health 200, /ready 503 and a log line per attempt; Postgres up: the
    same process turns ready and answers; Postgres restarted under it: a turn sent while it
    is down is answered once it is back."""
    database_url = own_postgres.start()
    project = _project(database_url)
    own_postgres.stop()
    broker = _nats(tmp_path)
    nats_url = broker.start(tmp_path / "nats.log")
    env = {"NATS_URL": nats_url, "DATABASE_URL": database_url}
    dialog = Service("dialog", env, tmp_path, name="dialog").start(wait=False)
    try:
        _alive_not_ready(dialog)
        _wait_logged(dialog, "waiting for Postgres")
        assert own_postgres.restart() == database_url
        dialog.wait_ready()
        assert dialog.process is not None and dialog.process.poll() is None  # not restarted
        assert asyncio.run(_turn_answered(nats_url, project, "s1", seq=1))

        own_postgres.stop()  # an outage while running: the turn waits, it is not dropped

        async def during_outage() -> str:
            answer = asyncio.create_task(_turn_answered(nats_url, project, "s1", seq=2))
            await asyncio.to_thread(_wait_logged, dialog, "a dependency is unreachable")
            await asyncio.to_thread(own_postgres.start)
            return await answer

        assert asyncio.run(during_outage())
    finally:
        dialog.stop()
        broker.stop()
        own_postgres.start()  # as the module found it


def test_a_dialog_and_a_gateway_started_before_nats_become_ready_when_it_comes(
    own_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    """NATS down: both alive and not ready, saying they wait for NATS; NATS up: both ready
    without a restart, and a turn is answered."""
    database_url = own_postgres.start()
    project = _project(database_url)
    broker = _nats(tmp_path)
    env = {"NATS_URL": broker.url, "DATABASE_URL": database_url}
    dialog = Service("dialog", env, tmp_path, name="dialog").start(wait=False)
    gateway_env = {**env, "GATEWAY_BESSER_PORT": str(free_port())}
    gateway = Service("gateway", gateway_env, tmp_path, name="gateway").start(wait=False)
    try:
        for service in (dialog, gateway):
            _alive_not_ready(service)
            _wait_logged(service, "waiting for NATS")
        broker.start(tmp_path / "nats.log")
        for service in (dialog, gateway):
            service.wait_ready()
            assert service.process is not None and service.process.poll() is None
        assert asyncio.run(_turn_answered(broker.url, project, "s2", seq=1))
    finally:
        gateway.stop()
        dialog.stop()
        broker.stop()
