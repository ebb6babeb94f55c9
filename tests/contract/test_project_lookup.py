"""The ProjectLookup port (what every protocol asks of the projects: find one, check a
client's secret), the same on the gateway fakes' FakeProjects and on Postgres's ProjectStore."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import uuid4

import pytest

from shared.db import Database
from shared.identity import Project, ProjectLookup, ProjectStore
from shared.identity.secrets import hash_secret, new_secret, secret_prefix
from tests.support.backends import Backends
from tests.support.gateway_fakes import FakeProjects

from .stores import BACKENDS, open_database


@dataclass
class Known:
    """A port that knows one project, and that project's secret in clear."""

    projects: ProjectLookup
    project: Project
    secret: str


@pytest.fixture(scope="module")
async def identity_db(backends: Backends) -> AsyncIterator[Database]:
    db = await open_database(backends)
    yield db
    await db.close()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> ProjectStore | None:
    """Postgres's ProjectStore, or None for the fake."""
    if request.param == "memory":
        return None
    return ProjectStore(request.getfixturevalue("identity_db"))


@pytest.fixture
async def known(store: ProjectStore | None) -> Known:
    """One project, in the fake or created in Postgres."""
    if store is None:
        secret = new_secret()
        project = Project(
            key=uuid4(),
            name=f"lookup-{uuid4().hex}",
            secret_hash=hash_secret(secret),
            secret_prefix=secret_prefix(secret),
        )
        return Known(FakeProjects(project), project, secret)
    made = await store.create(f"lookup-{uuid4().hex}")
    return Known(store, made.project, made.secret)


async def test_the_right_key_and_secret_authenticate(known: Known) -> None:
    """A client with the project's key and secret gets the project back."""
    found = await known.projects.authenticate(str(known.project.key), known.secret)
    assert found is not None and found.key == known.project.key


async def test_a_wrong_secret_or_an_unknown_key_is_refused(known: Known) -> None:
    """A wrong secret, another project's key or a key that is no UUID authenticates nothing."""
    key = str(known.project.key)
    assert await known.projects.authenticate(key, new_secret()) is None
    assert await known.projects.authenticate(key, known.secret[:-1]) is None
    assert await known.projects.authenticate(key, "") is None
    assert await known.projects.authenticate(str(uuid4()), known.secret) is None
    assert await known.projects.authenticate("not-a-key", known.secret) is None


async def test_a_secret_alone_finds_its_project(known: Known) -> None:
    """RSVP callers may send the secret without the bot id: it finds its project; any other
    secret (or the stored hash itself) finds none."""
    found = await known.projects.by_secret(known.secret)
    assert found is not None and found.key == known.project.key
    assert await known.projects.by_secret(new_secret()) is None
    assert await known.projects.by_secret(known.project.secret_hash) is None


async def test_a_project_is_got_by_its_key_only(known: Known) -> None:
    """get answers the project for its key, None for any other key."""
    found = await known.projects.get(known.project.key)
    assert found is not None and found.secret_prefix == known.project.secret_prefix
    assert await known.projects.get(uuid4()) is None
