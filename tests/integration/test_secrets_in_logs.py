"""Secrets never reach a log: every secret a run creates is searched for in every service's log."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websocket

from shared.db import opened
from shared.identity import TokenStore
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject, new_project

from . import besser, typed, xparo
from .phoenix import Raw

WRONG = "wrong-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def chatty(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every service logging at DEBUG, the level at which a careless line would leak most."""
    debug = {"LOG_LEVEL": "DEBUG"}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LOG_LEVEL", "DEBUG")  # the dialog replica takes only the backends' env
        running = Stack(
            backends, tmp_path_factory.mktemp("logs"), gateway_env=debug, service_env=debug
        )
        running.start(dialogs=1, telemetry=1, media=1)
    yield running
    running.stop()


def _robot_secrets(backends: Backends, project: TestProject) -> tuple[str, str]:
    """A robot's REST token and its socket credential, as the gateway issues them."""

    async def issue() -> tuple[str, str]:
        async with opened(backends.database_url) as database:
            tokens = TokenStore(database)
            rest = await tokens.issue_robot_token(project=project.key, robot_id="logbot")
            credential = await tokens.issue_credential(project=project.key, robot_id="logbot")
            assert credential is not None
            return rest, credential

    return asyncio.run(issue())


def _refused(url: str) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(url, timeout=10)


def _use_everywhere(stack: Stack, project: TestProject, secret: str, *, good: bool) -> None:
    """Talk to the bot with `secret` on every protocol (refused everywhere unless `good`)."""
    p = TestProject(project.key, secret)
    rsvp = httpx.get(
        f"{stack.http_url()}/sandbox/chat",
        params={"botid": str(project.key), "token": secret, "uid": "u1", "q": "hello"},
        timeout=20,
    )
    assert (rsvp.status_code == 200) is good
    rest = httpx.post(stack.ws_url(p).replace("ws://", "http://"), json={"ask_bot": "hi"})
    assert (rest.status_code == 201) is good
    if not good:
        _refused(stack.ws_url(p))
        _refused(stack.typed_url(p, robot="logbot"))
        return
    ws = xparo.connect(stack.ws_url(p, query="session_id=logs"))
    xparo.ask(ws, "hello")
    ws.close()
    robot = typed.connect(stack.typed_url(p, robot="logbot"))
    typed.send(robot, "telemetry", {"cpu_usage": 12})
    typed.chat(robot, "hello")
    robot.close()
    socket = besser.connect(stack.besser_url(p))
    besser.send(socket, "user_message", "hello")
    socket.close()


def _phoenix(stack: Stack, project: TestProject, secret: str) -> dict[str, object]:
    raw = Raw(stack.phoenix_url())
    try:
        _ref, reply = raw.join(f"bot:{project.key}", secret)
        return dict(reply[4])
    finally:
        raw.close()


def test_no_secret_appears_in_any_log(chatty: Stack, backends: Backends, admin_token: str) -> None:
    """Project secrets (old and rotated), a robot's token and an admin token, used right and
    wrong on every protocol and on the admin API at DEBUG level, appear in no log line."""
    project = new_project(backends)
    robot_token, credential = _robot_secrets(backends, project)
    admin = httpx.Client(
        base_url=chatty.http_url(), headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert admin.get(f"/admin/projects/{project.key}").status_code == 200
    bad_admin = {"Authorization": f"Bearer {admin_token[:-4]}xxxx"}
    assert httpx.get(f"{chatty.http_url()}/admin/me", headers=bad_admin).status_code == 401

    _use_everywhere(chatty, project, project.secret, good=True)
    assert _phoenix(chatty, project, project.secret)["status"] == "ok"
    robot = typed.connect(chatty.typed_url(TestProject(project.key, credential)))
    typed.send(robot, "telemetry", {"cpu_usage": 7})
    robot.close()
    for token in (robot_token, WRONG):
        sample = httpx.post(
            f"{chatty.http_url()}/api/telemetry/",
            json={"cpu_usage": 9},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert sample.status_code == (201 if token == robot_token else 401), sample.text

    rotated = admin.post(f"/admin/projects/{project.key}/secret")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    _use_everywhere(chatty, project, project.secret, good=False)  # the old one, refused now
    assert _phoenix(chatty, project, project.secret)["status"] == "error"
    _use_everywhere(chatty, project, new_secret, good=True)
    _use_everywhere(chatty, project, WRONG, good=False)
    besser_url = chatty.besser_url(query=f"project={project.key}")
    besser.connect(besser_url, header=[f"X-Project-Token: {new_secret}"]).close()

    chatty.stop()  # every buffered line written
    logs = sorted(Path(chatty.log_dir).glob("*.log"))
    assert {p.stem for p in logs} >= {"gateway-1", "dialog-1", "telemetry-1", "media-1"}
    text = "\n".join(p.read_text(errors="replace") for p in logs)
    assert "DEBUG" in text and f"{project.key}" in text  # the logs did record this run
    for name, secret in {
        "old project secret": project.secret,
        "rotated project secret": new_secret,
        "robot REST token": robot_token,
        "robot credential": credential,
        "admin token": admin_token,
    }.items():
        assert secret not in text, f"the {name} is in the logs"
