"""The identity stores (projects, admin and robot tokens, robot credentials, the audit log) on
Postgres over asyncpg: what the admin API and the protocols rely on, checked on the stores
themselves, on the gateway's plain pool and on the dialog's pool with json codecs."""

from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest

from services.dialog.db import dialog_database
from shared.contracts.paging import BadCursor, encode_cursor
from shared.db import Database
from shared.identity import (
    AuditStore,
    ProjectExists,
    ProjectStore,
    TokenExists,
    TokenStore,
    UnknownProject,
)
from shared.identity.secrets import hash_secret
from tests.support.backends import Backends


@pytest.fixture(scope="module")
async def plain(backends: Backends) -> AsyncIterator[Database]:
    """A pool as the gateway opens it (no codecs, default search path)."""
    db = Database(backends.database_url, max_size=2)
    await db.open()
    yield db
    await db.close()


@pytest.fixture(scope="module")
async def coded(backends: Backends) -> AsyncIterator[Database]:
    """The dialog's pool (json and jsonb codecs, the dialog schema as search path)."""
    db = dialog_database(backends.database_url, max_size=2)
    await db.open()
    yield db
    await db.close()


async def test_settings_read_the_same_on_a_pool_with_json_codecs_and_on_one_without(
    plain: Database, coded: Database
) -> None:
    """A setting kept through the gateway's pool is read back as the same value through the
    dialog's (which decodes jsonb itself), and changing one setting keeps the others."""
    made = await ProjectStore(plain).create(f"codecs-{uuid4().hex}", title="Codecs")
    triggers = {"phrases": ["a human", "agent"], "after_fallbacks": 2}
    await ProjectStore(plain).set_setting(made.project.key, "handoff", triggers)
    await ProjectStore(coded).set_setting(made.project.key, "alerts", {"battery": 20})
    for db in (plain, coded):
        found = await ProjectStore(db).get(made.project.key)
        assert found is not None
        assert found.settings == {
            "xparo_name": "Codecs",
            "handoff": triggers,
            "alerts": {"battery": 20},
        }


async def test_a_project_secret_is_stored_only_as_its_hash(
    plain: Database, pg: asyncpg.Connection
) -> None:
    """The row keeps the secret's SHA-256 and its first characters, never the secret; a rotated
    secret replaces both and the old one stops authenticating."""
    store = ProjectStore(plain)
    made = await store.create(f"hashed-{uuid4().hex}")
    row = await pg.fetchrow("SELECT * FROM identity.projects WHERE key = $1", made.project.key)
    assert row is not None and made.secret not in [str(v) for v in row.values()]
    assert row["secret_hash"] == hash_secret(made.secret)
    assert row["secret_prefix"] == made.secret[:8]
    rotated = await store.rotate_secret(made.project.name)
    assert await store.authenticate(str(made.project.key), made.secret) is None
    assert await store.authenticate(str(made.project.key), rotated.secret) is not None


async def test_a_rename_to_a_taken_name_is_refused_and_changes_nothing(plain: Database) -> None:
    """Renaming to another project's name raises ProjectExists and leaves both as they were;
    other fields change; an unknown project is UnknownProject; a field no update changes is
    refused before anything is written."""
    store = ProjectStore(plain)
    mine = (await store.create(f"mine-{uuid4().hex}")).project
    theirs = (await store.create(f"theirs-{uuid4().hex}")).project
    with pytest.raises(ProjectExists):
        await store.update(mine.key, name=theirs.name, goal="Taken")
    assert (await store.find(str(mine.key))).goal == "Basic"
    with pytest.raises(ProjectExists):
        await store.create(theirs.name)
    changed = await store.update(mine.key, name=mine.name, fallback="Ask me later", rules="")
    assert (changed.name, changed.fallback, changed.title) == (mine.name, "Ask me later", mine.name)
    with pytest.raises(UnknownProject):
        await store.update(uuid4(), goal="Nowhere")
    with pytest.raises(ValueError, match="secret_hash"):
        await store.update(mine.key, secret_hash="0" * 64)
    assert (await store.find(mine.name)).secret_hash == mine.secret_hash


async def test_deleting_a_project_revokes_its_robots_tokens_and_credentials(
    plain: Database,
) -> None:
    """After a project is deleted its robots' REST tokens and credentials open nothing, it is
    unknown, and a second delete answers False."""
    projects, tokens = ProjectStore(plain), TokenStore(plain)
    made = await projects.create(f"gone-{uuid4().hex}")
    key = made.project.key
    rest = await tokens.issue_robot_token(project=key, robot_id="r1")
    credential = await tokens.issue_credential(project=key, robot_id="r1")
    assert credential is not None and await tokens.credential(key, credential) is not None
    assert await projects.delete(key) is True
    assert await tokens.robot(rest) is None
    assert await tokens.credential(key, credential) is None
    assert await projects.get(key) is None
    assert await projects.delete(key) is False
    with pytest.raises(UnknownProject):
        await projects.rotate_secret(str(key))


async def test_an_admin_token_name_is_taken_until_it_is_replaced_or_revoked(
    plain: Database,
) -> None:
    """A second token of one name is refused (TokenExists) unless it replaces the first, whose
    secret then stops working; the token's scope and role are read back; revoking twice
    answers False the second time."""
    tokens, project = TokenStore(plain), uuid4()
    name = f"ops-{uuid4().hex}"
    first = await tokens.create_admin(name, projects=[project], role="viewer")
    with pytest.raises(TokenExists):
        await tokens.create_admin(name, projects=None)
    second = await tokens.create_admin(name, projects=None, replace=True)
    assert await tokens.admin(first.secret) is None
    found = await tokens.admin(second.secret)
    assert found is not None and found.projects is None and not found.read_only
    assert found.token_hash == hash_secret(second.secret) != second.secret
    scoped = await tokens.admin(
        (await tokens.create_admin(f"s-{uuid4().hex}", projects=[project])).secret
    )
    assert scoped is not None and scoped.allows(project) and not scoped.allows(uuid4())
    assert name in [t.name for t in await tokens.admins()]
    assert await tokens.revoke_admin(name) is True
    assert await tokens.admin(second.secret) is None
    assert await tokens.revoke_admin(name) is False


async def test_a_robot_holds_one_rest_token_and_one_credential(plain: Database) -> None:
    """A new REST token retires the robot's previous one; a robot that has a credential gets
    no second one; a credential opens only its own project; a revoked credential opens nothing
    and is not revoked twice."""
    projects, tokens = ProjectStore(plain), TokenStore(plain)
    key = (await projects.create(f"robots-{uuid4().hex}")).project.key
    old = await tokens.issue_robot_token(project=key, robot_id="r1")
    new = await tokens.issue_robot_token(project=key, robot_id="r1")
    assert await tokens.robot(old) is None
    held = await tokens.robot(new)
    assert held is not None and (held.project_key, held.robot_id) == (key, "r1")
    credential = await tokens.issue_credential(project=key, robot_id="r1")
    assert credential is not None
    assert await tokens.issue_credential(project=key, robot_id="r1") is None
    assert await tokens.credential(uuid4(), credential) is None
    found = await tokens.credential(key, credential)
    assert found is not None and found.robot_id == "r1"
    assert await tokens.revoke_credential(project=key, robot_id="r1") is True
    assert await tokens.credential(key, credential) is None
    assert await tokens.revoke_credential(project=key, robot_id="r1") is False


async def test_the_audit_log_pages_newest_first_and_refuses_a_cursor_it_never_made(
    plain: Database,
) -> None:
    """Entries of one project come newest first, a page at a time, with their details; a
    cursor naming an id no entry can have is BadCursor (the API's 422), not a database error."""
    audit, project = AuditStore(plain), uuid4()
    for n in range(3):
        await audit.record(
            actor="admin:ops",
            action=f"PUT /admin/projects/{{project}}/faq {n}",
            target="/x" * 1500,
            status=200,
            project_key=project,
            details={"n": n},
        )
    first = await audit.page(projects=[project], limit=2)
    assert [e.details for e in first.entries] == [{"n": 2}, {"n": 1}]
    assert len(first.entries[0].target) == 2000  # kept up to the column's size
    assert first.next is not None
    rest = await audit.page(projects=[project], limit=2, cursor=first.next)
    assert [e.details for e in rest.entries] == [{"n": 0}] and rest.next is None
    assert (await audit.page(projects=[uuid4()], limit=5)).entries == []
    with pytest.raises(BadCursor):
        await audit.page(projects=None, limit=5, cursor=encode_cursor({"id": 2**64}))
