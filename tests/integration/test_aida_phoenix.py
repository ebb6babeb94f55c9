"""AIDA over Phoenix channels end to end: the official phoenix npm client, then raw frames."""

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
import websocket
from nats.aio.client import Client as NatsClient
from PIL import Image

from shared import subjects
from shared.contracts import SaveBotContent
from tests.support.plugin import Stack, TestProject

from .phoenix import Raw

pytestmark = pytest.mark.integration
JS = Path(__file__).resolve().parent.parent / "js"
AIML = (
    "<category><pattern>HELLO</pattern><template>Hi there</template></category>"
    '<category><pattern>WHAT IS MY NAME</pattern><template>You are <get name="first_name"/>'
    "</template></category>"
    "<category><pattern>XIMAGE</pattern><template>Nice picture</template></category>"
)


def png_bytes(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
async def bot(nc: NatsClient, project: TestProject) -> TestProject:
    """The test project with AIML that answers by name and answers images."""
    command = SaveBotContent(project_key=project.key, aiml=AIML, correlation_id=uuid4())
    answer = await nc.request(
        subjects.dialog_content_save(project.key), command.model_dump_json().encode(), timeout=20
    )
    assert json.loads(answer.data)["kind"] == "saved", answer.data
    return project


def node_conversation(stack: Stack, bot: TestProject, png: Path) -> dict[str, Any]:
    """Run tests/js/aida_conversation.js (the phoenix npm client) and return its report."""
    node = shutil.which("node")
    assert node, "Node.js is required for the phoenix client tests"
    endpoint = f"ws://127.0.0.1:{stack.gateway.port}/socket"
    args = [node, str(JS / "aida_conversation.js"), endpoint, stack.http_url()]
    done = subprocess.run(
        [*args, str(bot.key), bot.secret, str(png)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_phoenix_client_full_conversation(
    aida_stack: Stack, bot: TestProject, tmp_path: Path
) -> None:
    """AIDA's own client chats unchanged: join, sessions, data, image, delete, heartbeats, leave."""
    png = tmp_path / "photo.png"
    png.write_bytes(png_bytes())
    report = node_conversation(aida_stack, bot, png)

    assert report["wrong_join"] == {"status": "error", "response": {"reason": "unauthorized"}}
    assert report["join"] == {"status": "ok", "response": {}}
    assert report["new_session"]["status"] == "ok"
    assert report["hello"] == "Hi there"
    assert report["name_before"] == "You are Ana"  # new_session data became a predicate
    assert report["put_data"] == {"status": "ok", "response": {}}
    assert report["name_after"] == "You are Bob"
    assert report["upload"]["status"] == 200
    assert report["download"] == {"status": 200, "type": "image/png", "same": True}
    assert report["image_answer"] == "Nice picture"
    assert report["delete_session"] == {"status": "ok", "response": {}}
    assert report["after_delete"]["status"] == "error"
    assert report["after_delete"]["response"]["reason"] == "deleted session"
    assert report["leave"]["status"] == "ok"

    incoming = [json.loads(raw) for way, raw in report["frames"] if way == "in"]
    outgoing = [json.loads(raw) for way, raw in report["frames"] if way == "out"]
    assert all(isinstance(f, list) and len(f) == 5 for f in incoming)  # V2 arrays only
    beats = {f[1] for f in outgoing if f[2:4] == ["phoenix", "heartbeat"]}
    answered = {f[1] for f in incoming if f[2] == "phoenix" and f[4]["status"] == "ok"}
    assert len(beats) >= 2 and beats <= answered | {max(beats, key=int)}
    joins = [f for f in outgoing if f[3] == "phx_join" and f[4]["access_token"] == bot.secret]
    assert [f[:4] for f in incoming if f[3] == "phx_close"] == [
        [joins[-1][0], joins[-1][0], f"bot:{bot.key}", "phx_close"]
    ]
    pushes = [f for f in incoming if f[3] == "btu_msg"]
    assert pushes and all(f[0] is None and f[1] is None for f in pushes)


def test_v1_objects_when_vsn_is_missing(aida_stack: Stack, bot: TestProject) -> None:
    """Without vsn the socket speaks V1 objects: join, heartbeat, a session and its answer."""
    raw = Raw(aida_stack.phoenix_url(vsn=None))
    topic = f"bot:{bot.key}"
    raw.send(
        {"topic": topic, "event": "phx_join", "payload": {"access_token": bot.secret}, "ref": "1"}
    )
    assert raw.recv() == {
        "topic": topic,
        "event": "phx_reply",
        "payload": {"status": "ok", "response": {}},
        "ref": "1",
    }
    raw.send({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "2"})
    assert raw.recv()["payload"] == {"status": "ok", "response": {}}
    raw.send({"topic": topic, "event": "new_session", "payload": {}, "ref": "3"})
    session = raw.recv()["payload"]["response"]["session"]
    raw.send(
        {
            "topic": topic,
            "event": "utb_msg",
            "payload": {"session": session, "text": "hello"},
            "ref": "4",
        }
    )
    assert raw.recv() == {
        "topic": topic,
        "event": "btu_msg",
        "payload": {"session": session, "text": "Hi there"},
        "ref": None,
    }
    raw.close()


def test_refs_come_back_verbatim(aida_stack: Stack, bot: TestProject) -> None:
    """Whatever refs a client uses (strings, numbers) are echoed unchanged, never renumbered."""
    raw = Raw(aida_stack.phoenix_url())
    topic = f"bot:{bot.key}"
    raw.send(["j-7", "j-7", topic, "phx_join", {"access_token": bot.secret}])
    assert raw.recv() == ["j-7", "j-7", topic, "phx_reply", {"status": "ok", "response": {}}]
    raw.send([None, 41, "phoenix", "heartbeat", {}])
    assert raw.recv() == [None, 41, "phoenix", "phx_reply", {"status": "ok", "response": {}}]
    raw.send(["j-7", "x", topic, "new_session", {}])
    reply = raw.recv()
    assert reply[:4] == ["j-7", "x", topic, "phx_reply"] and reply[4]["status"] == "ok"
    raw.close()


def test_join_problems_get_error_replies(aida_stack: Stack, bot: TestProject) -> None:
    """No token, a wrong token, an unknown bot, another topic: error replies, socket stays up."""
    raw = Raw(aida_stack.phoenix_url())
    topic = f"bot:{bot.key}"
    for payload in ({}, {"access_token": 42}, {"access_token": "wrong"}):
        raw.send(["1", "1", topic, "phx_join", payload])
        assert raw.recv()[4] == {"status": "error", "response": {"reason": "unauthorized"}}
    unknown = f"bot:{uuid4()}"
    assert raw.join(unknown, bot.secret)[1][4]["response"] == {"reason": "unauthorized"}
    raw.send(["5", "5", "room:lobby", "phx_join", {}])
    assert raw.recv() == [None, "5", "room:lobby", "phx_reply", _unmatched()]
    assert raw.call("phoenix", "heartbeat", {}, None)[4]["status"] == "ok"  # still open
    raw.close()


def _unmatched() -> dict[str, Any]:
    return {"status": "error", "response": {"reason": "unmatched topic"}}


def test_unjoined_topics_duplicate_joins_and_leave(aida_stack: Stack, bot: TestProject) -> None:
    """Events before a join are unmatched; a second join closes the first; leave → ok, close."""
    raw = Raw(aida_stack.phoenix_url())
    topic = f"bot:{bot.key}"
    raw.send(["9", "10", topic, "new_session", {}])
    assert raw.recv() == [None, "10", topic, "phx_reply", _unmatched()]
    first, _ = raw.join(topic, bot.secret)
    second_ref = raw.ref()
    raw.send([second_ref, second_ref, topic, "phx_join", {"access_token": bot.secret}])
    assert raw.recv() == [first, first, topic, "phx_close", {}]
    assert raw.recv() == [
        second_ref,
        second_ref,
        topic,
        "phx_reply",
        {"status": "ok", "response": {}},
    ]
    leave_ref = raw.ref()
    raw.send([second_ref, leave_ref, topic, "phx_leave", {}])
    assert raw.recv() == [
        second_ref,
        leave_ref,
        topic,
        "phx_reply",
        {"status": "ok", "response": {}},
    ]
    assert raw.recv() == [second_ref, second_ref, topic, "phx_close", {}]
    assert raw.call(topic, "new_session", {}, second_ref)[4] == _unmatched()
    raw.close()


def test_subprotocol_only_when_offered(aida_stack: Stack) -> None:
    """The `phoenix` sub-protocol is echoed when the client offers it, and not otherwise."""
    offered = Raw(aida_stack.phoenix_url(), subprotocols=["phoenix", "base64url.bearer.phx.eA"])
    assert offered.ws.getsubprotocol() == "phoenix"
    plain = Raw(aida_stack.phoenix_url())
    assert plain.ws.getsubprotocol() is None
    offered.close()
    plain.close()


def test_silent_sockets_are_closed_with_1001(aida_stack: Stack) -> None:
    """A socket that sends nothing for the idle timeout (2 s here) is closed with 1001."""
    raw = Raw(aida_stack.phoenix_url())
    assert raw.close_frame() == (1001, "idle")


def test_malformed_frames(aida_stack: Stack, bot: TestProject) -> None:
    """Bad payloads get error replies; binary payloads are refused; garbage closes with 1007."""
    raw = Raw(aida_stack.phoenix_url())
    topic = f"bot:{bot.key}"
    join, _ = raw.join(topic, bot.secret)
    raw.send([join, "20", topic, "utb_msg", [1, 2]])
    assert raw.recv()[4]["response"] == {"reason": "payload must be an object"}
    for payload, reason in [
        ({"session": "../../etc", "text": "hi"}, "session must be a session id from new_session"),
        ({"session": str(uuid4()), "text": "hi"}, "unknown session"),
        ({"session": str(uuid4())}, "text must be a non-empty string of at most 65536 characters"),
        ({"data": "not an object"}, "data must be an object"),
    ]:
        event = "new_session" if "data" in payload else "utb_msg"
        assert raw.call(topic, event, payload, join)[4]["response"]["reason"] == reason
    assert raw.call(topic, "dance", {}, join)[4]["response"] == {"reason": "unknown event 'dance'"}
    header = bytes([0, len(join), 2, len(topic), 6]) + f"{join}21{topic}upload".encode()
    raw.ws.send_binary(header + b"\x89PNG")
    assert raw.recv() == [
        join,
        "21",
        topic,
        "phx_reply",
        {"status": "error", "response": {"reason": "binary payloads are not supported"}},
    ]
    raw.send("{not json")
    assert raw.close_code() == 1007
    broken = Raw(aida_stack.phoenix_url())
    broken.ws.send_binary(b"\x01\x01\x01\x05\x02")  # a reply frame, which clients never send
    assert broken.close_code() == 1003


def _joined(stack: Stack, bot: TestProject, replica: int = 0) -> tuple[Raw, str]:
    raw = Raw(stack.phoenix_url(replica=replica))
    join, reply = raw.join(f"bot:{bot.key}", bot.secret)
    assert reply[4]["status"] == "ok"
    return raw, join


def _new_session(raw: Raw, bot: TestProject, join: str) -> str:
    return str(raw.call(f"bot:{bot.key}", "new_session", {}, join)[4]["response"]["session"])


def test_clients_see_their_sessions_and_never_another_bot(
    aida_stack: Stack, bot: TestProject, other_project: TestProject
) -> None:
    """Two clients of one bot each find their answers by session; another bot's client gets
    nothing and cannot use this bot's session ids."""
    alice, alice_join = _joined(aida_stack, bot)
    bob, bob_join = _joined(aida_stack, bot, replica=1)
    other, other_join = _joined(aida_stack, other_project)
    topic = f"bot:{bot.key}"
    alice_session = _new_session(alice, bot, alice_join)
    bob_session = _new_session(bob, bot, bob_join)
    alice.send(
        [alice_join, alice.ref(), topic, "utb_msg", {"session": alice_session, "text": "hello"}]
    )
    bob.send(
        [bob_join, bob.ref(), topic, "utb_msg", {"session": bob_session, "text": "what is my name"}]
    )
    assert alice.message(alice_session) == "Hi there"
    assert bob.message(bob_session) == "You are"
    stolen = other.call(
        f"bot:{other_project.key}", "utb_msg", {"session": alice_session, "text": "hi"}, other_join
    )
    assert stolen[4]["response"] == {"reason": "unknown session"}
    other.ws.settimeout(1.5)
    with pytest.raises(websocket.WebSocketTimeoutException):
        other.until(lambda f: f[3] == "btu_msg")  # nothing of the first bot ever reaches it
    for raw in (alice, bob, other):
        raw.close()


def test_operator_messages_reach_joined_and_later_joining_clients(
    aida_stack: Stack, bot: TestProject, admin_token: str
) -> None:
    """A bot-initiated message is pushed as [null,null,topic,btu_msg]; one sent while no client
    was joined arrives when a client joins again, on another gateway."""
    raw, join = _joined(aida_stack, bot)
    session = _new_session(raw, bot, join)
    auth = {"Authorization": f"Bearer {admin_token}"}
    url = f"{aida_stack.http_url()}/admin/projects/{bot.key}/sessions/{session}/messages"
    sent = httpx.post(url, json={"text": "Your table is ready"}, headers=auth)
    assert sent.status_code == 202 and sent.json()["protocol"] == "aida"
    frame = raw.until(lambda f: f[3] == "btu_msg")
    assert frame == [
        None,
        None,
        f"bot:{bot.key}",
        "btu_msg",
        {"session": session, "text": "Your table is ready"},
    ]
    raw.close()

    later = httpx.post(url, json={"text": "Still there?"}, headers=auth)
    assert later.status_code == 202
    back, _ = _joined(aida_stack, bot, replica=1)
    assert back.message(session) == "Still there?"
    back.close()
    missing = httpx.post(url.replace(session, str(uuid4())), json={"text": "x"}, headers=auth)
    assert missing.status_code == 404


def test_images_must_be_the_sessions_own(aida_stack: Stack, bot: TestProject) -> None:
    """utb_img with another session's image, or an unknown id, is refused; nothing is answered."""
    raw, join = _joined(aida_stack, bot)
    topic = f"bot:{bot.key}"
    mine, theirs = _new_session(raw, bot, join), _new_session(raw, bot, join)
    files = {"file": ("a.png", png_bytes(), "image/png")}
    upload = httpx.post(f"{aida_stack.http_url()}/content/image/{bot.key}/{theirs}", files=files)
    image = upload.json()["id"]
    for candidate in (image, str(uuid4()), "../../etc/passwd"):
        refused = raw.call(topic, "utb_img", {"session": mine, "image": candidate}, join)
        assert refused[4]["status"] == "error"
        assert refused[4]["response"]["reason"] == "invalid image"
    raw.send([join, raw.ref(), topic, "utb_img", {"session": theirs, "image": image}])
    assert raw.message(theirs) == "Nice picture"
    raw.close()


async def test_upload_refusals(aida_stack: Stack, bot: TestProject, pg: asyncpg.Connection) -> None:
    """Non-images → 415, too big → 413, unknown session or bot → 404, tricks → 404, nothing
    refused is kept; the declared type is not trusted; CORS is open; the gateway stays ready."""
    raw, join = _joined(aida_stack, bot)
    session = _new_session(raw, bot, join)
    raw.close()
    base = aida_stack.http_url()
    url = f"{base}/content/image/{bot.key}/{session}"
    http = httpx.AsyncClient(timeout=30)

    async def post(target: str, content: bytes, kind: str = "image/png") -> httpx.Response:
        return await http.post(target, files={"file": ("x.png", content, kind)})

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for content in (svg, b"%PDF-1.7\n", b"just text", png_bytes()[:40]):
        refused = await post(url, content)
        assert (refused.status_code, refused.json()) == (415, {"errors": "Unsupported Media Type"})
    big = await post(url, b"\x89PNG" + bytes(1024 * 1024 + 10))
    assert (big.status_code, big.json()) == (413, {"errors": "Request Entity Too Large"})
    assert (await post(f"{base}/content/image/{bot.key}/{uuid4()}", png_bytes())).status_code == 404
    assert (await post(f"{base}/content/image/{uuid4()}/{session}", png_bytes())).status_code == 404
    assert (await post(f"{base}/content/image/not-a-bot/{session}", png_bytes())).status_code == 404
    assert (await http.post(url, data={"file": "not a file"})).status_code == 400
    for path in ("not-a-uuid", "..%2F..%2Fetc%2Fpasswd", str(uuid4())):
        assert (await http.get(f"{base}/content/image/{path}")).status_code == 404
    kept = "SELECT count(*) FROM media.images WHERE session_id = $1"
    assert await pg.fetchval(kept, session) == 0
    stored = await post(url, png_bytes("blue"), kind="text/plain")
    assert stored.status_code == 200
    image_url = f"{base}/content/image/{stored.json()['id']}"
    got = await http.get(image_url, headers={"Origin": "https://x.example"})
    assert got.headers["content-type"] == "image/png"
    assert got.headers["access-control-allow-origin"] == "*"
    assert got.headers["cache-control"] == "private, max-age=86400, immutable"
    assert got.headers["x-content-type-options"] == "nosniff"
    again = await http.get(image_url, headers={"If-None-Match": got.headers["etag"]})
    assert again.status_code == 304
    assert await pg.fetchval(kept, session) == 1
    assert (await http.get(f"{base}/ready")).status_code == 200
    await http.aclose()


def test_stopping_gateway_tells_phoenix_clients_to_come_back(
    aida_stack: Stack, bot: TestProject
) -> None:
    """SIGTERM on a gateway closes its Phoenix sockets with 1001 (phoenix.js reconnects)."""
    raw, _ = _joined(aida_stack, bot, replica=1)
    aida_stack.gateways[1].stop()
    try:
        assert raw.close_frame() == (1001, "server restarting")
    finally:
        aida_stack.gateways[1].start()
