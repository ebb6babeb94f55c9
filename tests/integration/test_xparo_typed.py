"""The XPARO typed API end to end: robots chat, stream telemetry and receive operators' commands."""

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import websocket

from tests.support.plugin import Stack, TestProject

from . import xparo
from .typed import Admin, chat, connect, recv, send

NAME_AIML = (
    "<category><pattern>HELLO ROBOT</pattern><template>Hello, how can I assist you?</template>"
    '</category><category><pattern>MY NAME IS *</pattern><template><think><set name="name">'
    '<star/></set></think>Hi <get name="name"/></template></category>'
    '<category><pattern>WHAT IS MY NAME</pattern><template>You are <get name="name"/>'
    "</template></category>"
)


def _teach(stack: Stack, project: TestProject) -> None:
    ws = xparo.connect(stack.ws_url(project))
    assert xparo.save(ws, NAME_AIML)["save_aiml"]["status"] is True
    ws.close()


def test_seed_document_python_client_chats(robot_stack: Stack, project: TestProject) -> None:
    """The document's own WebSocketApp client sends chat and receives chat_response."""
    _teach(robot_stack, project)
    received: list[dict[str, Any]] = []

    def on_message(ws: websocket.WebSocketApp, message: str) -> None:
        data = json.loads(message)
        received.append(data)
        if data.get("type") == "chat_response":
            ws.close()

    def on_open(ws: websocket.WebSocketApp) -> None:
        payload = {"type": "chat", "data": {"message": "Hello robot"}}
        ws.send(json.dumps(payload))

    app = websocket.WebSocketApp(
        robot_stack.typed_url(project), on_message=on_message, on_open=on_open
    )
    runner = threading.Thread(target=app.run_forever, daemon=True)
    runner.start()
    runner.join(20)
    answers = [f for f in received if f.get("type") == "chat_response"]
    assert answers == [
        {"type": "chat_response", "data": {"response": "Hello, how can I assist you?"}}
    ]


def test_robot_id_is_the_session_shared_with_the_command_api(
    robot_stack: Stack, project: TestProject
) -> None:
    """A chat's robot_id names the dialog session, which the command API can continue."""
    _teach(robot_stack, project)
    robot = connect(robot_stack.typed_url(project))
    assert chat(robot, "my name is Ada", robot_id="robot_123") == "Hi Ada"
    assert chat(robot, "what is my name", robot_id="robot_456") == "You are"
    other = xparo.connect(robot_stack.ws_url(project, query="session_id=robot_123"))
    assert xparo.ask(other, "what is my name") == "You are Ada"


def test_bad_frames_get_error_frames_and_the_socket_stays_open(
    robot_stack: Stack, project: TestProject
) -> None:
    """Bad JSON, unknown type, missing data, bad chat: each an error frame, then chat works."""
    _teach(robot_stack, project)
    ws = connect(robot_stack.typed_url(project))
    bad = [
        "{not json",
        json.dumps({"type": "dance", "data": {}}),
        json.dumps({"type": "chat"}),
        json.dumps({"data": {"message": "hi"}}),
        json.dumps({"type": "chat", "data": {"message": 42}}),
        json.dumps(["chat"]),
        json.dumps({"type": "ack", "data": {"command_id": "nope"}}),
    ]
    for text in bad:
        ws.send(text)
        frame = recv(ws)
        assert frame["type"] == "error" and frame["data"]["message"], (text, frame)
    ws.send_binary(b"\xff\xfe")
    assert recv(ws)["type"] == "error"
    assert chat(ws, "hello robot") == "Hello, how can I assist you?"


def test_wrong_keys_are_refused_at_the_handshake(robot_stack: Stack, project: TestProject) -> None:
    """A wrong secret, an unknown project or a malformed robot id gets HTTP 403."""
    port = robot_stack.gateway.port
    urls = [
        f"ws://127.0.0.1:{port}/ws/chatbot/{'0' * 64}/{project.key}/",
        f"ws://127.0.0.1:{port}/ws/chatbot/{project.secret}/not-a-project/",
        robot_stack.typed_url(project, robot="bad.robot"),
    ]
    for url in urls:
        try:
            connect(url)
        except websocket.WebSocketBadStatusException as err:
            assert err.status_code == 403
        else:
            raise AssertionError(f"{url} was accepted")


def test_robots_that_never_pong_stay_connected(robot_stack: Stack, project: TestProject) -> None:
    """Several app-level pings go unanswered (as real XPARO robots do); the robot stays on."""
    _teach(robot_stack, project)
    ws = connect(robot_stack.typed_url(project, robot="quiet"))
    pings = [recv(ws, pings=True) for _ in range(4)]
    assert pings == [{"type": "ping"}] * 4
    send(ws, "pong")
    assert chat(ws, "hello robot") == "Hello, how can I assist you?"


def test_a_dead_peer_is_dropped(robot_stack: Stack, project: TestProject) -> None:
    """A client that answers no WebSocket ping at all is disconnected by the server."""
    port = robot_stack.gateway.port
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    raw.sendall(
        (
            f"GET /ws/chatbot/{project.secret}/{project.key}/ HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    received = b""
    while chunk := raw.recv(65536):  # read (never answer) until the server hangs up
        received += chunk
    assert received.startswith(b"HTTP/1.1 101")
    assert b"\x88" in received  # it sent a close frame before closing the connection


def test_telemetry_is_validated(robot_stack: Stack, project: TestProject) -> None:
    """Wrong types and out-of-range percentages get an error frame; good samples get none."""
    ws = connect(robot_stack.typed_url(project, robot="r1"))
    for data in (
        {"cpu_usage": "high"},
        {"cpu_usage": True},
        {"memory_usage": 130},
        {"disk_usage": -1},
        {},
        {"bad name!": 1},
    ):
        send(ws, "telemetry", data)
        frame = recv(ws)
        assert frame["type"] == "error", (data, frame)
    send(ws, "telemetry", {"cpu_usage": 42, "memory_usage": 63, "disk_usage": 31, "temp_c": 48.5})
    send(ws, "chat", {"message": "anything"})
    assert recv(ws)["type"] == "chat_response"  # no error frame came before it


def test_command_reaches_the_robot_on_the_other_gateway(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """Sent through gateway A's admin API, a command reaches the robot connected to gateway B."""
    robot = connect(robot_stack.typed_url(project, robot="r2", replica=1))
    admin = Admin(robot_stack.http_url(0), admin_token, project.key)
    sent = admin.queue(
        "r2", "remote_command", {"command": "start_navigation", "parameters": {"goal": "table_4"}}
    )
    frame = recv(robot)
    assert frame == {
        "type": "remote_command",
        "data": {
            "command": "start_navigation",
            "parameters": {"goal": "table_4"},
            "command_id": sent,
        },
    }


def test_offline_robot_gets_every_command_in_order_once(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """Commands sent while a robot is offline arrive on reconnect, in order, exactly once."""
    admin = Admin(robot_stack.http_url(0), admin_token, project.key)
    first = connect(robot_stack.typed_url(project, robot="r3", replica=0))
    first.close()
    sent = [admin.queue("r3", "remote_command", {"command": f"step_{n}"}) for n in range(5)]
    sent.append(admin.queue("r3", "log_updated", {"session_id": "session_987"}))
    robot = connect(robot_stack.typed_url(project, robot="r3", replica=1))
    got = [recv(robot) for _ in sent]
    assert [f["data"]["command_id"] for f in got] == sent
    assert got[-1] == {
        "type": "log_updated",
        "data": {"session_id": "session_987", "command_id": sent[-1]},
    }
    robot.close()
    again = connect(robot_stack.typed_url(project, robot="r3", replica=0))
    later = admin.queue("r3", "remote_command", {"command": "after"})
    assert recv(again)["data"]["command_id"] == later  # nothing delivered twice before it


def test_bad_behavior_trees_are_refused_and_never_sent(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """Malformed XML and an XML bomb get 422; the robot only ever sees the valid tree."""
    robot = connect(robot_stack.typed_url(project, robot="r4"))
    admin = Admin(robot_stack.http_url(1), admin_token, project.key)
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        '<root BTCPP_format="4"><BehaviorTree ID="MainTree"><Sequence name="&lol2;"/>'
        "</BehaviorTree></root>"
    )
    for xml, why in (
        ("<Sequence><SpeakText text='hi'/>", "malformed"),
        (bomb, "entities"),
        ('<root BTCPP_format="3"><BehaviorTree ID="MainTree"><A/></BehaviorTree></root>', "4"),
    ):
        response = admin.command("r4", "behavior_update", {"tree_name": "MainTree", "xml": xml})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert why in response.json()["detail"]
    tree = (
        '<Sequence name="deliver"><NavigateTo goal="table_4"/><SpeakText text="here"/></Sequence>'
    )
    sent = admin.queue("r4", "behavior_update", {"tree_name": "MainTree", "xml": tree})
    assert recv(robot) == {
        "type": "behavior_update",
        "data": {"tree_name": "MainTree", "xml": tree, "command_id": sent},
    }


def test_telemetry_is_stored_and_queryable(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """Samples a robot streams show up as its latest sample and in bucketed range queries."""
    ws = connect(robot_stack.typed_url(project, robot="r5"))
    values = [10, 20, 60]
    for cpu in values:
        send(ws, "telemetry", {"cpu_usage": cpu, "memory_usage": 50, "battery_v": 24.1})
    admin = Admin(robot_stack.http_url(1), admin_token, project.key)
    latest = admin.wait_for(
        "/telemetry/latest",
        lambda b: b["samples"] and b["samples"][0]["metrics"]["cpu_usage"] == 60,
    )
    assert latest["samples"][0]["robot_id"] == "r5"
    assert latest["samples"][0]["metrics"] == {
        "cpu_usage": 60,
        "memory_usage": 50,
        "battery_v": 24.1,
    }
    now = datetime.now(UTC)
    window = {
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
    }
    body = admin.wait_for(  # batches may commit out of order: wait for all three
        "/robots/r5/telemetry",
        lambda b: sum(bucket["count"] for bucket in b["buckets"]) >= 3,
        metric="cpu_usage",
        bucket_s=7200,
        start=window["start"],
        end=window["end"],
    )
    assert [(b["count"], b["min"], b["avg"], b["max"]) for b in body["buckets"]] == [
        (3, 10, 30, 60)
    ]
    day = {"start": (now - timedelta(days=1)).isoformat(), "end": now.isoformat()}
    bad = admin.client.get(
        "/robots/r5/telemetry", params={"metric": "cpu_usage", "bucket_s": 1, **day}
    )
    assert bad.status_code == 422 and "10000 buckets" in bad.json()["detail"]


def test_robots_are_listed_online_then_offline(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """A connected robot is listed online with its last-seen time; once it leaves, offline."""
    ws = connect(robot_stack.typed_url(project, robot="r6", replica=1))
    admin = Admin(robot_stack.http_url(0), admin_token, project.key)
    listed = admin.wait_for("/robots", lambda b: any(r["online"] for r in b["robots"]))
    [robot] = listed["robots"]
    assert robot["robot_id"] == "r6" and robot["protocol"] == "xparo-typed" and robot["last_seen"]
    ws.close()
    listed = admin.wait_for("/robots", lambda b: not b["robots"][0]["online"])
    assert listed["robots"][0]["online"] is False


def test_command_status_follows_delivery_and_acknowledgement(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """A command is queued while the robot is away, delivered when it connects, then acked."""
    admin = Admin(robot_stack.http_url(0), admin_token, project.key)
    sent = admin.queue("r7", "remote_command", {"command": "dock"})
    queued = admin.wait_for(f"/commands/{sent}", lambda b: True)
    assert queued["status"] == "queued" and queued["type"] == "remote_command"
    ws = connect(robot_stack.typed_url(project, robot="r7", replica=1))
    assert recv(ws)["data"]["command_id"] == sent
    assert admin.wait_for(f"/commands/{sent}", lambda b: b["status"] == "delivered")["delivered_at"]
    send(ws, "ack", {"command_id": sent})
    assert admin.wait_for(f"/commands/{sent}", lambda b: b["status"] == "acknowledged")[
        "acknowledged_at"
    ]
    listed = admin.get("/robots/r7/commands")["commands"]
    assert [c["command_id"] for c in listed] == [sent]
    assert admin.client.get(f"/commands/{uuid4()}").status_code == 404


def test_expired_commands_are_never_delivered(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """A command whose expiry passes while the robot is offline is skipped and says expired."""
    admin = Admin(robot_stack.http_url(0), admin_token, project.key)
    stale = admin.queue("r8", "remote_command", {"command": "stale"}, expires_in_s=0.5)
    admin.wait_for(f"/commands/{stale}", lambda b: b["status"] == "expired")
    fresh = admin.queue("r8", "remote_command", {"command": "fresh"}, expires_in_s=600)
    ws = connect(robot_stack.typed_url(project, robot="r8"))
    assert recv(ws)["data"] == {"command": "fresh", "parameters": {}, "command_id": fresh}
    assert admin.get(f"/commands/{stale}")["status"] == "expired"


def test_rest_token_is_minted_at_delivery_and_opens_the_rest_routes(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """REST_API_TOKEN gives the robot a token the REST routes accept; a newer one replaces it."""
    ws = connect(robot_stack.typed_url(project, robot="r9"))
    admin = Admin(robot_stack.http_url(1), admin_token, project.key)
    first_id = admin.queue("r9", "REST_API_TOKEN", {})
    frame = recv(ws)
    assert frame["type"] == "REST_API_TOKEN" and frame["data"]["command_id"] == first_id
    token = frame["data"]["token"]
    url = f"{robot_stack.http_url(0)}/api/telemetry/"
    posted = httpx.post(url, json={"cpu_usage": 77}, headers={"Authorization": f"Token {token}"})
    assert posted.status_code == 201 and posted.json()["robot_id"] == "r9"
    admin.wait_for("/telemetry/latest", lambda b: b["samples"], robot_id="r9")
    admin.queue("r9", "REST_API_TOKEN", {})
    newer = recv(ws)["data"]["token"]
    assert newer != token
    for auth, status in ((f"Bearer {token}", 401), ("Bearer", 401), (f"Bearer {newer}", 201)):
        response = httpx.post(url, json={"cpu_usage": 1}, headers={"Authorization": auth})
        assert response.status_code == status, response.text
    bad = httpx.post(url, json={"cpu_usage": "x"}, headers={"Authorization": f"Bearer {newer}"})
    assert bad.status_code == 400 and "must be a number" in bad.json()["error"]["message"]


def test_admin_routes_need_a_token_that_covers_the_project(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """No token → 401, unknown token → 401, unknown project → 404, bad command → 422."""
    base = robot_stack.http_url(0)
    documented = httpx.get(f"{base}/openapi.json").json()["paths"]
    assert "/admin/projects/{project}/robots/{robot}/commands" in documented
    robots = f"{base}/admin/projects/{project.key}/robots"
    assert httpx.get(robots).status_code == 401
    assert httpx.get(robots, headers={"Authorization": "Bearer sbadm_nope"}).status_code == 401
    admin = Admin(base, admin_token, uuid4())
    assert admin.client.get("/robots").status_code == 404
    mine = Admin(base, admin_token, project.key)
    for kind, data in (
        ("remote_command", {}),
        ("log_updated", {"session_id": ""}),
        ("remote_command", {"command": "x", "extra": 1}),
    ):
        response = mine.command("r1", kind, data)
        assert response.status_code == 422, response.text
        assert response.json()["status"] == 422 and response.json()["detail"]
    assert mine.command("bad.robot", "remote_command", {"command": "x"}).status_code == 422


def test_a_robot_cannot_acknowledge_another_robots_command(
    robot_stack: Stack, project: TestProject, other_project: TestProject, admin_token: str
) -> None:
    """An ack naming a command of another robot (or project) leaves that command untouched."""
    admin = Admin(robot_stack.http_url(0), admin_token, project.key)
    target = admin.queue("r11", "remote_command", {"command": "stay"})
    admin.wait_for(f"/commands/{target}", lambda b: b["status"] == "queued")
    for intruder in (project, other_project):
        ws = connect(robot_stack.typed_url(intruder, robot="r10"))
        send(ws, "ack", {"command_id": target})
        own = Admin(robot_stack.http_url(0), admin_token, intruder.key)
        probe = own.queue("r10", "remote_command", {"command": "probe"})
        assert recv(ws)["data"]["command_id"] == probe
        send(ws, "ack", {"command_id": probe})
        own.wait_for(f"/commands/{probe}", lambda b: b["status"] == "acknowledged")
        ws.close()
    assert admin.get(f"/commands/{target}")["status"] == "queued"
