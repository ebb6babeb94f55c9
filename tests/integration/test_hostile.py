"""Hostile input, case by case: each is refused in the protocol's own shape, or kept literally,
and the bot goes on answering (the fuzz suites in tests/fuzz cover the generated rest)."""

import json
from pathlib import Path

import httpx
import pytest

from tests.support.plugin import Stack, TestProject

from . import typed, xparo
from .phoenix import Raw

SECRET_FILE = "/etc/hostname"
XXE = (
    f'<?xml version="1.0"?><!DOCTYPE aiml [<!ENTITY leak SYSTEM "file://{SECRET_FILE}">]>'
    "<aiml><category><pattern>LEAK</pattern><template>&leak;</template></category></aiml>"
)
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE aiml [<!ENTITY a "lollollollollollollollollollol">'
    + "".join(
        f'<!ENTITY {b} "{("&" + a + ";") * 10}">'
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "]><aiml><category><pattern>LOL</pattern><template>&i;</template></category></aiml>"
)
SQL = "'; DROP TABLE dialog.turns; --"
ECHO = "<aiml><category><pattern>SAY *</pattern><template><star/></template></category></aiml>"


@pytest.mark.parametrize("document", [XXE, LAUGHS], ids=["external entity", "billion laughs"])
def test_aiml_with_entities_is_refused_and_reads_no_file(
    stack: Stack, project: TestProject, admin_token: str, document: str
) -> None:
    """AIML declaring entities (a local file, the billion laughs) is refused with a problem, over
    the admin API and XPARO's save_aiml alike; nothing is expanded and the bot still answers."""
    url = f"{stack.http_url()}/admin/projects/{project.key}/aiml"
    headers = {"Authorization": f"Bearer {admin_token}", "Content-Type": "application/xml"}
    refused = httpx.put(url, content=document, headers=headers, timeout=30)
    assert refused.status_code == 422, refused.text
    assert refused.json()["problems"]
    ws = xparo.connect(stack.ws_url(project))
    error = xparo.save(ws, document)["error"]
    assert error["command"] == "save_aiml" and error["message"]
    leaked = Path(SECRET_FILE).read_text().strip()
    assert leaked not in refused.text and leaked not in json.dumps(error)
    assert "lollollol" not in refused.text + json.dumps(error)
    assert xparo.save(ws, ECHO)["save_aiml"]["status"] is True
    assert xparo.ask(ws, "say fine") == "fine"


def test_deeply_nested_json_gets_an_error_and_the_socket_stays(
    stack: Stack, project: TestProject
) -> None:
    """100,000 nested arrays (past any JSON parser's recursion) get an error frame on XPARO's
    command API and its typed API, whose sockets go on working, and Phoenix's invalid-payload
    close (1007) on AIDA, whose next socket joins as usual."""
    deep = "[" * 100_000 + "]" * 100_000
    ws = xparo.connect(stack.ws_url(project))
    ws.send(deep)
    assert "invalid JSON" in xparo.recv(ws)["error"]["message"]
    xparo.save(ws, ECHO)
    assert xparo.ask(ws, "say still") == "still"
    robot = typed.connect(stack.typed_url(project))
    robot.send(deep)
    assert typed.recv(robot)["type"] == "error"
    assert typed.chat(robot, "say here") == "here"
    raw = Raw(stack.phoenix_url())
    raw.send(deep)
    assert raw.close_code() == 1007  # Phoenix: a frame with no ref to answer ends the socket
    raw = Raw(stack.phoenix_url())
    _join, reply = raw.join(f"bot:{project.key}", project.secret)
    assert reply[4]["status"] == "ok"


def test_huge_numbers_are_refused_not_crashed_on(stack: Stack, project: TestProject) -> None:
    """A float past double range and an integer of 5,000 digits in telemetry are told apart
    from metrics; the robot's socket stays and its next sample is taken."""
    robot = typed.connect(stack.typed_url(project, robot="huge"))
    robot.send('{"type": "telemetry", "data": {"cpu_usage": 1e400}}')
    assert typed.recv(robot)["type"] == "error"
    robot.send('{"type": "telemetry", "data": {"battery": ' + "9" * 5000 + "}}")
    assert typed.recv(robot)["type"] == "error"
    assert typed.chat(robot, "hello") is not None


def test_sql_looking_text_is_kept_literally(
    stack: Stack, project: TestProject, admin_token: str
) -> None:
    """A question and an RSVP uid that look like SQL are stored and answered as plain text: the
    transcript shows them verbatim and every table is still there. (A session id like that is
    refused at the handshake: test_xparo_api.)"""
    ws = xparo.connect(stack.ws_url(project))
    xparo.save(ws, ECHO)
    assert xparo.ask(ws, f"say {SQL}")
    answer = httpx.get(
        f"{stack.http_url()}/sandbox/chat",
        params={"botid": str(project.key), "token": project.secret, "uid": SQL, "q": SQL},
        timeout=20,
    )
    assert answer.status_code == 200 and answer.json()["status"] == 0
    admin = {"Authorization": f"Bearer {admin_token}"}
    found = httpx.get(
        f"{stack.http_url()}/admin/projects/{project.key}/conversations",
        params={"q": "DROP TABLE"},
        headers=admin,
        timeout=20,
    )
    assert found.status_code == 200, found.text
    assert len(found.json()["items"]) == 2  # both sessions, found by their literal text
    assert xparo.ask(ws, "say after") == "after"  # dialog.turns is still there
