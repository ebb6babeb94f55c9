"""Projects cached in each gateway: looked up once, and a rotated secret or a deleted project is
refused at once by every gateway, including one that had it cached."""

from collections.abc import AsyncIterator, Iterator
from uuid import UUID

import asyncpg
import httpx
import pytest
from nats.aio.client import Client as NatsClient
from typer.testing import CliRunner
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from services.gateway.bus.identity_cache import CachedProjects
from shared.cli import app
from shared.db import Database
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject

LOOKUPS = 50


@pytest.fixture(scope="module")
def two_gateways(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One dialog and two gateway replicas."""
    running = Stack(backends, tmp_path_factory.mktemp("identity-logs")).start(dialogs=1, gateways=2)
    yield running
    running.stop()


def rsvp(stack: Stack, replica: int, key: UUID, secret: str) -> int:
    params = {"botid": str(key), "token": secret, "uid": "u1", "q": "hello"}
    url = f"{stack.http_url(replica)}/sandbox/chat"
    return httpx.get(url, params=params, timeout=15).status_code


async def xparo_opens(stack: Stack, replica: int, project: TestProject) -> bool:
    try:
        async with connect(stack.ws_url(project, replica=replica), open_timeout=15):
            return True
    except InvalidStatus:
        return False


def admin(stack: Stack, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=stack.http_url(0), headers=headers, timeout=30)


async def test_a_secret_rotated_on_one_gateway_is_refused_at_once_by_another(
    two_gateways: Stack, admin_token: str, project: TestProject
) -> None:
    """Gateway 2 has the project cached (an RSVP answer, a socket); right after its secret is
    rotated through gateway 1, gateway 2 refuses the old secret on both, and takes the new one."""
    assert rsvp(two_gateways, 1, project.key, project.secret) == 200
    assert await xparo_opens(two_gateways, 1, project)
    rotated = admin(two_gateways, admin_token).post(f"/admin/projects/{project.key}/secret")
    new = rotated.json()["secret"]
    assert rsvp(two_gateways, 1, project.key, project.secret) == 401
    assert not await xparo_opens(two_gateways, 1, project)
    assert rsvp(two_gateways, 1, project.key, new) == 200
    assert await xparo_opens(two_gateways, 1, TestProject(project.key, new))


def test_a_secret_rotated_from_the_command_line_is_refused_at_once(
    two_gateways: Stack, backends: Backends, project: TestProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`switchboard project rotate-secret` announces the change: a gateway that had the old
    secret cached refuses it at once."""
    assert rsvp(two_gateways, 0, project.key, project.secret) == 200
    monkeypatch.setenv("DATABASE_URL", backends.database_url)
    monkeypatch.setenv("NATS_URL", backends.nats_url)
    result = CliRunner().invoke(app, ["project", "rotate-secret", str(project.key)])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert rsvp(two_gateways, 0, project.key, project.secret) == 401


async def test_a_deleted_project_is_refused_at_once_by_a_gateway_that_had_it_cached(
    two_gateways: Stack, admin_token: str, project: TestProject
) -> None:
    """Deleted through gateway 1, the project is unknown to gateway 2 at once (RSVP: 404)."""
    assert rsvp(two_gateways, 1, project.key, project.secret) == 200
    name = admin(two_gateways, admin_token).get(f"/admin/projects/{project.key}").json()["name"]
    deleted = admin(two_gateways, admin_token).delete(
        f"/admin/projects/{project.key}", params={"confirm": name}
    )
    assert deleted.status_code == 202
    assert rsvp(two_gateways, 1, project.key, project.secret) == 404


class CountedDatabase(Database):
    """The gateway's pool, counting the statements the stores run on it."""

    statements = 0

    @property
    def pool(self) -> asyncpg.Pool:
        self.statements += 1
        return super().pool


@pytest.fixture
async def counted(backends: Backends) -> AsyncIterator[tuple[CachedProjects, CountedDatabase]]:
    """A CachedProjects whose database statements are counted."""
    database = CountedDatabase(backends.database_url, max_size=1)
    await database.open()
    yield CachedProjects(database, keep_s=60.0), database
    await database.close()


async def test_repeated_lookups_of_a_project_read_the_database_once(
    counted: tuple[CachedProjects, CountedDatabase], nc: NatsClient, project: TestProject
) -> None:
    """Once the gateway listens for changes, fifty authentications and secret lookups of one
    project cost one database read; a change announced drops it (the next one reads again)."""
    projects, database = counted
    await projects.listen(nc)
    for _ in range(LOOKUPS):
        assert await projects.authenticate(str(project.key), project.secret) is not None
        assert await projects.by_secret(project.secret) is not None
        assert await projects.authenticate(str(project.key), "0" * 64) is None
    assert database.statements == 1
    await nc.publish(f"config.changed.{project.key.hex}", b"{}")
    await nc.flush()
    await nc.request("$JS.API.INFO", b"", timeout=5)  # a round trip: the change arrived
    assert await projects.authenticate(str(project.key), project.secret) is not None
    assert database.statements == 2
