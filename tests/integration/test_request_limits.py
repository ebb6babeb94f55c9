"""Requests over the limits, or unreadable, are refused on both gateway ports in the shape of
the protocol asked, and the gateway goes on serving.

Heads go over a plain socket: HTTP clients refuse to send most of these requests.
"""

import asyncio
import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest
import websocket

from shared.db import opened
from shared.identity import TokenStore
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject

pytestmark = pytest.mark.integration
MiB = 1024 * 1024
BROWSER_HEADERS = [
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"),
    ("Accept-Language", "en-GB,en;q=0.9,de;q=0.8"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Cookie", "; ".join(f"c{n}={'v' * 90}" for n in range(40))),  # ~4 KiB of cookies
    ("Sec-Fetch-Site", "same-origin"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Referer", "http://127.0.0.1/console/" + "r" * 500),
]


def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` whole, then read its answer: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += conn.recv(65536) or pytest.fail(f"closed without an answer: {answer!r}")
        head, _, body = answer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        while len(body) < int(headers.get("content-length", "0")):
            body += conn.recv(65536) or pytest.fail(f"closed in the body: {body!r}")
    return int(status_line.split()[1]), headers, body


def get(target: str, headers: list[tuple[str, str]], *, host: str = "127.0.0.1") -> bytes:
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def upgrade(target: str, headers: list[tuple[str, str]]) -> bytes:
    """A WebSocket handshake (RFC 6455's example key) with `headers` added."""
    handshake = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ]
    return get(target, handshake + headers)


OVERSIZE = {
    "8 MiB header": [("X-Big", "a" * (8 * MiB))],
    "1 MiB header": [("X-Big", "a" * MiB)],
    "64 KiB header": [("X-Big", "a" * (64 * 1024))],
    "101 headers": [(f"X-Many-{n}", "1") for n in range(101)],
    "70 KiB in 7 headers": [(f"X-Part-{n}", "a" * (10 * 1024)) for n in range(7)],
}


def port_of(stack: Stack, which: str) -> int:
    if which == "main":
        return stack.gateway.port
    return int(stack.gateway.env["GATEWAY_BESSER_PORT"])


@pytest.mark.parametrize("headers", OVERSIZE.values(), ids=OVERSIZE.keys())
def test_oversize_heads_are_refused_on_the_http_port(
    stack: Stack, admin_token: str, headers: list[tuple[str, str]]
) -> None:
    """A header of 8 MiB, 1 MiB or 64 KiB, too many headers, or too many bytes of them are
    refused with a 431 problem before any route runs; the next request is served."""
    port = port_of(stack, "main")
    auth = [("Authorization", f"Bearer {admin_token}")]
    status, found, body = exchange(port, get("/admin/me", auth + headers))
    assert status == 431, body[:300]
    assert found["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 431 and json.loads(body)["detail"]
    status, _, body = exchange(port, get("/admin/me", auth + BROWSER_HEADERS))
    assert status == 200, body[:300]


@pytest.mark.parametrize("headers", OVERSIZE.values(), ids=OVERSIZE.keys())
@pytest.mark.parametrize("which", ["main", "besser"])
def test_oversize_heads_refuse_websocket_handshakes(
    stack: Stack, project: TestProject, which: str, headers: list[tuple[str, str]]
) -> None:
    """A WebSocket handshake with an oversize head is refused with 431 before the upgrade,
    on XPARO's path of the main port (in XPARO's error shape) and on BESSER's own port; the
    next socket, with a browser's headers and a 12 KiB cookie, works."""
    url = stack.ws_url(project) if which == "main" else stack.besser_url(project)
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    status, _, body = exchange(port_of(stack, which), upgrade(target, headers))
    assert status == 431, body[:300]
    refusal = json.loads(body)  # XPARO's error shape on its path, a problem on BESSER's port
    assert refusal["error"]["message"] if which == "main" else refusal["detail"]
    assert open_socket(stack, project, which) == 101


def open_socket(stack: Stack, project: TestProject, which: str) -> int:
    """Open the port's socket as a browser would (a 12 KiB cookie: longer than the `websockets`
    parser's own default line limit) and say hello; the handshake's status."""
    url = stack.ws_url(project) if which == "main" else stack.besser_url(project)
    headers = [f"{k}: {v}" for k, v in BROWSER_HEADERS if k != "Cookie"]
    headers.append("Cookie: session=" + "s" * 12 * 1024)
    ws = websocket.create_connection(url, header=headers, timeout=30)
    try:
        hello = {"ask_bot": "hello"} if which == "main" else {"action": "user_message"}
        ws.send(json.dumps(hello | ({} if which == "main" else {"message": "hello"})))
        assert ws.recv()
        return int(ws.getstatus() or 0)
    finally:
        ws.close()


def robot_token(backends: Backends, project: TestProject) -> str:
    """A robot's REST token (REST_API_TOKEN), as the gateway issues it."""

    async def issue() -> str:
        async with opened(backends.database_url) as database:
            return await TokenStore(database).issue_robot_token(
                project=project.key, robot_id="limits-bot"
            )

    return asyncio.run(issue())


@pytest.mark.parametrize("digits", [5_000, 2 * MiB], ids=["5,000 digits", "2 MiB"])
def test_unparsable_numbers_in_telemetry_answer_in_xparo_shape(
    stack: Stack, backends: Backends, project: TestProject, digits: int
) -> None:
    """A telemetry sample with a number Python will not parse (over 4,300 digits), or one too
    large to read (2 MiB), is refused with XPARO's {"error": {"message"}}, not FastAPI's."""
    token = robot_token(backends, project)
    body = '{"cpu_usage": ' + "9" * digits + "}"
    answer = httpx.post(
        f"{stack.http_url()}/api/telemetry/",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == (413 if digits > MiB else 400), answer.text[:300]
    assert set(answer.json()) == {"error"} and answer.json()["error"]["message"]


def test_rsvp_query_over_the_limit_answers_in_rsvp_shape(
    stack: Stack, project: TestProject
) -> None:
    """An RSVP.ai request with a 300 kB query is answered 414 with RSVP's status -1 JSON (it
    was uvicorn's plain-text 400); a normal one after it is answered by the bot."""
    query = f"botid={project.key}&token={project.secret}&uid=u1&q=" + "a" * 300_000
    status, found, body = exchange(stack.gateway.port, get(f"/sandbox/chat?{query}", []))
    assert status == 414, body[:300]
    assert found["content-type"].startswith("application/json")
    assert json.loads(body)["status"] == -1 and json.loads(body)["message"]
    params = {"botid": str(project.key), "token": project.secret, "uid": "u1", "q": "hello"}
    answer = httpx.get(f"{stack.http_url()}/sandbox/chat", params=params, timeout=30)
    assert answer.json()["status"] == 0, answer.text
