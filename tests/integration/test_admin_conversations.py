"""Conversations in the admin API end to end: search in pages, transcripts with who answered,
CSV/JSON export, scope, and human handoff on every chat protocol (XPARO, AIDA, RSVP, BESSER)."""

import asyncio
import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from shared import subjects
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject

from . import besser, xparo
from .admin import admin, handoff, say, scoped_token
from .phoenix import Raw
from .rsvp import rsvp

COLUMNS = [
    "session_id",
    "protocol",
    "turn",
    "at",
    "author",
    "operator",
    "event",
    "engine",
    "stage",
    "version",
    "text",
]

T = TypeVar("T")


@pytest.fixture(scope="module")
def stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway and one dialog replica (every protocol's endpoint is on the gateway)."""
    running = Stack(backends, tmp_path_factory.mktemp("logs"))
    yield running.start(dialogs=1)
    running.stop()


def eventually(probe: Callable[[], T], done: Callable[[T], bool], timeout_s: float = 15) -> T:
    """Poll until `done` holds (a reply leaves before its turn is committed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def walk(client: httpx.Client, url: str, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a list, following `next` (and checking the Link header agrees)."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        answer = client.get(url, params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        pages.append(answer.json()["items"])
        cursor = answer.json()["next"]
        if cursor is None:
            assert "link" not in answer.headers
            return pages
        assert f"cursor={cursor}" in answer.headers["link"]


def transcript(client: httpx.Client, bot: TestProject, session: str) -> list[dict[str, Any]]:
    pages = walk(client, f"/admin/projects/{bot.key}/conversations/{session}")
    return [item for page in pages for item in page]


def who(items: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None, str]]:
    """(author, engine, operator, text) of each message."""
    return [(i["author"], i["engine"], i["operator"], i["text"]) for i in items]


def test_search_pages_newest_first_and_filters_by_protocol_time_and_text(
    stack: Stack, bot: TestProject, admin_token: str
) -> None:
    """Sessions come newest activity first in pages; protocol, since/until and a text that
    holds LIKE wildcards narrow them down."""
    client = admin(stack, admin_token)
    url = f"/admin/projects/{bot.key}/conversations"
    for n in range(4):
        assert rsvp(stack, bot, f"u{n}", "hello")["stage"] == [{"message": "Hi there"}]
    middle = datetime.now(UTC)
    rsvp(stack, bot, "u4", "is 50%_off real?")
    ws = xparo.connect(stack.ws_url(bot, query="session_id=robot_one"))
    assert xparo.ask(ws, "hello") == "Hi there"
    ws.close()

    def everything() -> list[dict[str, Any]]:
        return [item for page in walk(client, url, limit=2) for item in page]

    found = eventually(everything, lambda items: len(items) == 6)
    assert [i["session_id"] for i in found] == ["robot_one", "u4", "u3", "u2", "u1", "u0"]
    assert [len(page) for page in walk(client, url, limit=2)] == [2, 2, 2]
    first = found[-1]
    assert (first["protocol"], first["turns"], first["handoff"], first["last_text"]) == (
        "rsvp",
        1,
        None,
        "Hi there",
    )
    assert [
        i["session_id"] for i in client.get(url, params={"protocol": "xparo"}).json()["items"]
    ] == ["robot_one"]
    later = client.get(url, params={"since": middle.isoformat()}).json()["items"]
    assert [i["session_id"] for i in later] == ["robot_one", "u4"]
    earlier = client.get(url, params={"until": middle.isoformat()}).json()["items"]
    assert [i["session_id"] for i in earlier] == ["u3", "u2", "u1", "u0"]
    text = client.get(url, params={"q": "50%_OFF"}).json()["items"]
    assert [i["session_id"] for i in text] == ["u4"]
    assert client.get(url, params={"q": "5_%"}).json()["items"] == []  # wildcards are literal
    assert client.get(url, params={"q": "a\x00b"}).status_code == 422
    bad = client.get(url, params={"cursor": "forged"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_transcript_names_engines_and_the_export_is_safe_csv_and_json(
    stack: Stack, bot: TestProject, admin_token: str
) -> None:
    """The transcript pages through user and bot messages (engine, stage, version); the export
    holds one row per message, with formulas defused in CSV."""
    client = admin(stack, admin_token)
    rsvp(stack, bot, "ada", "hello")
    rsvp(stack, bot, "ada", "=HYPERLINK(1)")
    session = "ada"
    items = eventually(lambda: transcript(client, bot, session), lambda found: len(found) == 4)
    assert who(items) == [
        ("user", None, None, "hello"),
        ("bot", "aiml", None, "Hi there"),
        ("user", None, None, "=HYPERLINK(1)"),
        ("bot", "aiml", None, "I did not get that"),
    ]
    assert {(i["stage"], i["version"] is not None) for i in items if i["author"] == "bot"} == {
        ("test", True)
    }
    one = client.get(f"/admin/projects/{bot.key}/conversations/{session}", params={"limit": 1})
    assert one.json()["session"]["turns"] == 2 and len(one.json()["items"]) == 2
    assert one.json()["next"] is not None and 'rel="next"' in one.headers["link"]

    export = f"/admin/projects/{bot.key}/conversations/export"
    as_csv = client.get(export, params={"format": "csv", "q": "hyperlink"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["author"], r["text"]) for r in rows] == [
        ("user", "hello"),
        ("bot", "Hi there"),
        ("user", "'=HYPERLINK(1)"),
        ("bot", "I did not get that"),
    ]
    assert {r["session_id"] for r in rows} == {"ada"} and rows[1]["engine"] == "aiml"
    as_json = client.get(export, params={"format": "json", "q": "hyperlink"})
    assert [(r["author"], r["text"]) for r in as_json.json()][2] == ("user", "=HYPERLINK(1)")
    nothing = client.get(export, params={"format": "csv", "q": "no such words"})
    assert nothing.text.strip() == ",".join(COLUMNS)
    gone = client.get(f"/admin/projects/{bot.key}/conversations/nobody")
    assert gone.status_code == 404


def test_a_token_for_another_project_is_forbidden(
    stack: Stack, backends: Backends, bot: TestProject, other_project: TestProject
) -> None:
    """Every conversation route checks the token's scope (403 for another project's token)."""
    client = admin(stack, scoped_token(backends, other_project.key))
    base = f"/admin/projects/{bot.key}/conversations"
    for method, path in [
        ("GET", base),
        ("GET", f"{base}/export"),
        ("GET", f"{base}/s1"),
        ("POST", f"{base}/s1/handoff"),
        ("DELETE", f"{base}/s1/handoff"),
    ]:
        assert client.request(method, path).status_code == 403, path
    said = client.post(f"{base}/s1/messages", json={"text": "hi"})
    assert said.status_code == 403


def operator_name(client: httpx.Client) -> str:
    return str(client.get("/admin/me").json()["name"])


async def test_rsvp_handoff_returns_what_the_operator_said_and_notices_go_out(
    stack: Stack, bot: TestProject, admin_token: str, nc: NatsClient, backends: Backends
) -> None:
    """During handoff an RSVP request gets what the operator said since the previous one (or
    nothing); after hand back the bot answers again; chat.handoff notices tell who holds it."""
    notices: list[dict[str, Any]] = []

    async def heard(msg: Msg) -> None:
        notices.append(json.loads(msg.data))

    sub = await nc.subscribe(subjects.chat_handoff(bot.key), cb=heard)
    client = admin(stack, admin_token)
    name = operator_name(client)

    def scenario() -> None:
        assert rsvp(stack, bot, "bob", "hello")["stage"] == [{"message": "Hi there"}]
        assert handoff(client, bot, "bob", "POST")["handoff"] == name
        other = admin(stack, scoped_token(backends, bot.key))
        taken = other.post(f"/admin/projects/{bot.key}/conversations/bob/handoff")
        assert taken.status_code == 409 and taken.json()["operator"] == name
        silent = rsvp(stack, bot, "bob", "hello?")
        assert (silent["stage"], silent["status"], silent["topic"]) == ([], 0, "operator")
        say(client, bot, "bob", "An agent is here")
        say(client, bot, "bob", "How can I help?")
        heard = rsvp(stack, bot, "bob", "my order is late")
        assert heard["stage"] == [{"message": "An agent is here"}, {"message": "How can I help?"}]
        assert handoff(client, bot, "bob", "DELETE")["handoff"] is None
        assert rsvp(stack, bot, "bob", "hello")["stage"] == [{"message": "Hi there"}]

    await asyncio.to_thread(scenario)
    items = await asyncio.to_thread(
        eventually, lambda: transcript(client, bot, "bob"), lambda found: len(found) == 8
    )
    assert who(items) == [
        ("user", None, None, "hello"),
        ("bot", "aiml", None, "Hi there"),
        ("user", None, name, "hello?"),
        ("operator", "operator", name, "An agent is here"),
        ("operator", "operator", name, "How can I help?"),
        ("user", None, name, "my order is late"),
        ("user", None, None, "hello"),
        ("bot", "aiml", None, "Hi there"),
    ]
    await sub.unsubscribe()
    assert notices == [
        {"project_key": str(bot.key), "session_id": "bob", "operator": name},
        {"project_key": str(bot.key), "session_id": "bob", "operator": None},
    ]


def test_xparo_handoff_silences_the_bot_and_delivers_the_operator(
    stack: Stack, bot: TestProject, admin_token: str
) -> None:
    client = admin(stack, admin_token)
    ws = xparo.connect(stack.ws_url(bot, query="session_id=front_desk"))
    assert xparo.ask(ws, "hello") == "Hi there"
    handoff(client, bot, "front_desk", "POST")
    xparo.send(ws, {"ask_bot": "hello"})  # silent: the next frame is the operator's
    eventually(lambda: transcript(client, bot, "front_desk"), lambda found: len(found) == 3)
    say(client, bot, "front_desk", "A nurse is on the way")
    assert xparo.recv(ws) == {"message": {"bot_response": "A nurse is on the way"}}
    handoff(client, bot, "front_desk", "DELETE")
    assert xparo.ask(ws, "hello") == "Hi there"
    ws.close()
    assert [i["author"] for i in transcript(client, bot, "front_desk")][:4] == [
        "user",
        "bot",
        "user",
        "operator",
    ]


def test_aida_handoff_silences_the_bot_and_delivers_the_operator(
    stack: Stack, bot: TestProject, admin_token: str
) -> None:
    client = admin(stack, admin_token)
    raw = Raw(stack.phoenix_url())
    topic = f"bot:{bot.key}"
    join, reply = raw.join(topic, bot.secret)
    assert reply[4]["status"] == "ok"
    session = str(raw.call(topic, "new_session", {}, join)[4]["response"]["session"])
    raw.send([join, raw.ref(), topic, "utb_msg", {"session": session, "text": "hello"}])
    assert raw.message(session) == "Hi there"
    handoff(client, bot, session, "POST")
    raw.send([join, raw.ref(), topic, "utb_msg", {"session": session, "text": "hello"}])
    say(client, bot, session, "Your table is ready")
    assert raw.message(session) == "Your table is ready"  # nothing of the bot came first
    handoff(client, bot, session, "DELETE")
    raw.send([join, raw.ref(), topic, "utb_msg", {"session": session, "text": "hello"}])
    assert raw.message(session) == "Hi there"
    raw.close()


def test_besser_handoff_silences_the_bot_and_delivers_the_operator(
    stack: Stack, bot: TestProject, admin_token: str
) -> None:
    client = admin(stack, admin_token)
    ws = besser.connect(stack.besser_url(bot, query="session_id=kiosk_7"))
    besser.send(ws, "user_message", "hello")
    assert besser.said([besser.recv(ws)]) == [("agent_reply_str", "Hi there")]
    handoff(client, bot, "kiosk_7", "POST")
    besser.send(ws, "user_message", "hello")
    say(client, bot, "kiosk_7", "Let me check")
    assert besser.said([besser.recv(ws)]) == [("agent_reply_str", "Let me check")]
    handoff(client, bot, "kiosk_7", "DELETE")
    besser.send(ws, "user_message", "hello")
    assert besser.said([besser.recv(ws)]) == [("agent_reply_str", "Hi there")]
    ws.close()
