"""The `switchboard` CLI against the real database."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from typer.testing import CliRunner

from shared.cli import app
from shared.db import opened
from shared.devstack.embedded import free_port
from shared.devstack.run import Stack
from shared.devstack.settings import StackSettings
from shared.identity import AuditEntry, AuditStore, TokenStore
from tests.support.backends import Backends


def _env(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def test_create_list_and_rotate_a_project(
    backends: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    """create prints key and secret once, list shows only a prefix, rotate changes the secret."""
    monkeypatch.setenv("DATABASE_URL", backends.database_url)
    runner = CliRunner()
    created = _env(runner.invoke(app, ["project", "create", "cli-bot"]).output)
    listed = runner.invoke(app, ["project", "list"]).output
    assert created["PROJECT_KEY"] in listed and created["PROJECT_SECRET"] not in listed
    rotated = _env(runner.invoke(app, ["project", "rotate-secret", "cli-bot"]).output)
    assert rotated["PROJECT_KEY"] == created["PROJECT_KEY"]
    assert rotated["PROJECT_SECRET"] != created["PROJECT_SECRET"]
    again = runner.invoke(app, ["project", "create", "cli-bot"])
    assert again.exit_code == 1 and "exists already" in again.output


def test_admin_tokens_are_scoped(backends: Backends, monkeypatch: pytest.MonkeyPatch) -> None:
    """An admin token printed once by the CLI opens only the projects it was created for."""
    monkeypatch.setenv("DATABASE_URL", backends.database_url)
    runner = CliRunner()
    mine = _env(runner.invoke(app, ["project", "create", f"scoped-{uuid4().hex}"]).output)
    other = _env(runner.invoke(app, ["project", "create", f"other-{uuid4().hex}"]).output)
    name = f"ops-{uuid4().hex}"
    made = runner.invoke(app, ["admin-token", "create", name, "--project", mine["PROJECT_KEY"]])
    secret = _env(made.output)["ADMIN_TOKEN"]
    assert secret.startswith("sbadm_")
    assert runner.invoke(app, ["admin-token", "create", name]).exit_code == 1

    async def check() -> tuple[bool, bool, bool]:
        async with opened(backends.database_url) as database:
            store = TokenStore(database)
            token = await store.admin(secret)
            assert token is not None and await store.admin(secret + "x") is None
            return (
                token.allows(UUID(mine["PROJECT_KEY"])),
                token.allows(UUID(other["PROJECT_KEY"])),
                token.token_hash != secret,
            )

    assert asyncio.run(check()) == (True, False, True)


def test_an_admin_token_is_listed_by_its_start_and_revoked_by_name(
    backends: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    """list shows the token's name and start, never the token; after revoke it opens nothing,
    and revoking it again says there is no such token."""
    monkeypatch.setenv("DATABASE_URL", backends.database_url)
    runner = CliRunner()
    name = f"ops-{uuid4().hex}"
    secret = _env(runner.invoke(app, ["admin-token", "create", name]).output)["ADMIN_TOKEN"]
    listed = runner.invoke(app, ["admin-token", "list"]).output
    [line] = [line for line in listed.splitlines() if line.startswith(name)]
    assert f"{secret[:8]}…" in line and secret not in listed and "every project" in line

    async def opens() -> bool:
        async with opened(backends.database_url) as database:
            return await TokenStore(database).admin(secret) is not None

    assert asyncio.run(opens())
    revoked = runner.invoke(app, ["admin-token", "revoke", name])
    assert revoked.exit_code == 0, revoked.output
    assert not asyncio.run(opens())
    assert name not in runner.invoke(app, ["admin-token", "list"]).output
    again = runner.invoke(app, ["admin-token", "revoke", name])
    assert again.exit_code == 1 and "no admin token" in again.output


def test_a_read_only_admin_token_is_made_and_listed_as_a_viewer(
    backends: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`admin-token create --read-only` makes a viewer's token (stored hashed, with its role);
    list shows each token's role."""
    monkeypatch.setenv("DATABASE_URL", backends.database_url)
    runner = CliRunner()
    viewer, admin = f"look-{uuid4().hex}", f"ops-{uuid4().hex}"
    made = runner.invoke(app, ["admin-token", "create", viewer, "--read-only"])
    secret = _env(made.output)["ADMIN_TOKEN"]
    runner.invoke(app, ["admin-token", "create", admin])
    listed = runner.invoke(app, ["admin-token", "list"]).output.splitlines()
    assert " viewer " in next(line for line in listed if line.startswith(viewer))
    assert " admin " in next(line for line in listed if line.startswith(admin))

    async def stored() -> tuple[bool, str]:
        async with opened(backends.database_url) as database:
            token = await TokenStore(database).admin(secret)
            assert token is not None
            return token.read_only, token.token_hash

    read_only, token_hash = asyncio.run(stored())
    assert read_only and token_hash != secret


def test_command_line_changes_are_in_the_audit_log(
    backends: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating and re-keying a project, and making an admin token, from the CLI are audited
    (without the secrets) like the admin API's changes."""
    monkeypatch.setenv("DATABASE_URL", backends.database_url)
    runner = CliRunner()
    created = _env(runner.invoke(app, ["project", "create", f"audited-{uuid4().hex}"]).output)
    key = UUID(created["PROJECT_KEY"])
    runner.invoke(app, ["project", "rotate-secret", str(key)])
    made = _env(runner.invoke(app, ["admin-token", "create", f"a-{uuid4().hex}"]).output)

    async def entries() -> tuple[list[AuditEntry], list[AuditEntry]]:
        async with opened(backends.database_url) as database:
            audit = AuditStore(database)
            mine = (await audit.page(projects=[key], limit=10)).entries
            recent = (await audit.page(projects=None, limit=50)).entries
            return mine, recent

    mine, recent = asyncio.run(entries())
    assert [e.action for e in mine] == ["project rotate-secret", "project create"]
    assert all(e.actor.startswith("cli:") for e in mine)
    token = next(e for e in recent if e.action.startswith("admin-token create"))
    assert token.details == {"scope": "every project", "role": "admin"}
    everything = repr([(e.target, e.details) for e in recent])
    assert created["PROJECT_SECRET"] not in everything and made["ADMIN_TOKEN"] not in everything


REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    """`python -m shared.cli …` from the checkout, as a user types it: no DATABASE_URL."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "NATS_URL"}}
    env["SWITCHBOARD_DATA"] = str(data)
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0, done.stdout
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return done.stderr


def test_the_cli_finds_the_database_of_a_running_make_run(tmp_path: Path) -> None:
    """With `make run`'s embedded Postgres up (Unix socket only) and no DATABASE_URL, the CLI
    finds it by itself; before migrations and after the stack stops it says so in one line."""
    data = tmp_path / "data"
    stack = Stack(StackSettings(SWITCHBOARD_DATA=data, NATS_PORT=free_port()))
    stack.prepare()
    try:
        stack.start_backends()
        assert "switchboard migrate" in _one_line_error(_cli("project", "list", data=data))
        migrated = _cli("migrate", data=data)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        made = _cli("project", "create", "found-it", data=data)
        assert made.returncode == 0, made.stderr[-3000:]
        key = _env(made.stdout)["PROJECT_KEY"]
        token = _cli("admin-token", "create", "ops", data=data)
        assert _env(token.stdout)["ADMIN_TOKEN"].startswith("sbadm_"), token.stderr[-3000:]
        assert key in _cli("project", "list", data=data).stdout
    finally:
        asyncio.run(stack.stop())
    error = _one_line_error(_cli("project", "list", data=data))
    assert "make run" in error and "DATABASE_URL" in error


def test_the_cli_says_in_one_line_when_there_is_no_database(tmp_path: Path) -> None:
    """Nothing running and no DATABASE_URL, or a DATABASE_URL nothing answers: one line on
    stderr and a non-zero exit, never a traceback."""
    for args in (["project", "create", "x"], ["admin-token", "create", "ops"], ["migrate"]):
        assert "no database" in _one_line_error(_cli(*args, data=tmp_path))
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/switchboard"
    env = {**os.environ, "DATABASE_URL": nowhere}
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", "admin-token", "list"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "cannot reach DATABASE_URL" in _one_line_error(done)
