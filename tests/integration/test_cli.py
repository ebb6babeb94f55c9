"""The `switchboard` CLI against the real database."""

import pytest
from typer.testing import CliRunner

from shared.cli import app
from shared.testing.backends import Backends


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
