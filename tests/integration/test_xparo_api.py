"""The XPARO command API end to end: websocket-client → gateway → JetStream → dialog → back."""

import json

import httpx
import pytest
import websocket

from tests.support.plugin import Stack, TestProject

from .xparo import NAME_AIML, ask, connect, recv, save, send

# The category of the XPARO document's initialize_api example, with a template to answer.
DOC_CATEGORY = (
    '<category node_id="xparo_m0l3k1peb13suxsj7dr"><pattern>HI</pattern>'
    "<template>hello from xparo</template></category>"
)
DOC_KEYS = {
    "status",
    "title",
    "disc",
    "goal",
    "rules",
    "api_key",
    "aiml",
    "maps",
    "Sets",
    "properties",
    "System",
}


def test_document_flow_initialize_save_ask(stack: Stack, project: TestProject) -> None:
    """initialize_api → save_aiml → ask_bot works exactly as the XPARO document shows."""
    ws = connect(stack.ws_url(project))
    send(ws, {"initialize_api": {}})
    first = recv(ws)
    assert set(first) == DOC_KEYS and first["status"] is True and first["aiml"] == ""
    saved = save(ws, DOC_CATEGORY)
    assert saved.get("save_aiml", {}).get("status") is True, saved
    assert ask(ws, "hi") == "hello from xparo"
    send(ws, {"initialize_api": {}})
    again = recv(ws)
    assert 'node_id="xparo_m0l3k1peb13suxsj7dr"' in again["aiml"]
    assert project.secret not in json.dumps(again)


def test_unmatched_question_gets_the_fallback(stack: Stack, project: TestProject) -> None:
    """With nothing matching, the document's fallback sentence answers."""
    ws = connect(stack.ws_url(project))
    assert ask(ws, "what is the weather on mars") == "let's check this thing on internet"


@pytest.mark.parametrize("prefix", ["", "/ws"])
def test_wrong_secret_or_unknown_project_is_refused_with_403(
    stack: Stack, project: TestProject, prefix: str
) -> None:
    """Bad credentials never get a socket: the handshake answers HTTP 403, on both paths."""
    assert stack.gateway is not None
    base = f"ws://127.0.0.1:{stack.gateway.port}{prefix}/chatbot_api"
    for url in (f"{base}/{'0' * 64}/{project.key}/", f"{base}/{project.secret}/not-a-project/"):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            connect(url)
        assert refused.value.status_code == 403
    ws = connect(stack.ws_url(project, prefix=prefix))
    assert ask(ws, "anything")


@pytest.mark.parametrize("prefix", ["", "/ws"])
def test_a_session_or_robot_id_outside_the_documented_characters_is_refused_at_the_handshake(
    stack: Stack, project: TestProject, prefix: str
) -> None:
    """`?session_id=` (or `?robot_id=`) that is not 1-64 of A-Z a-z 0-9 _ - gets HTTP 403 at
    the handshake, like the other bad parameters, instead of a fresh conversation without a
    word; the REST twin answers 400 in XPARO's error shape."""
    for query in ("session_id=x%27%3B--", f"session_id={'a' * 65}", "session_id=", "robot_id=r.1"):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            connect(stack.ws_url(project, prefix=prefix, query=query))
        assert refused.value.status_code == 403, query
    kept = connect(stack.ws_url(project, prefix=prefix, query="session_id=front_desk-2"))
    assert ask(kept, "anything")
    rest = httpx.post(
        f"{stack.http_url()}/chatbot_api/{project.secret}/{project.key}/?session_id=a%20b",
        json={"ask_bot": "hi"},
        timeout=20,
    )
    assert rest.status_code == 400
    assert rest.json()["error"]["message"].startswith("session_id must be 1-64 of")


def test_bad_frames_get_error_frames_and_the_socket_keeps_answering(
    stack: Stack, project: TestProject
) -> None:
    """Bad JSON, non-objects, unknown commands and wrong types each get an error frame."""
    ws = connect(stack.ws_url(project))
    for bad in ("{not json", "[1, 2]", '"ask_bot"', "{}"):
        ws.send(bad)
        assert "error" in recv(ws)
    send(ws, {"xparo_get_schedule": {}})
    assert recv(ws)["error"]["command"] == "xparo_get_schedule"
    send(ws, {"ask_bot": {"not": "a string"}})
    assert recv(ws)["error"]["command"] == "ask_bot"
    send(ws, {"save_aiml": 42})
    assert recv(ws)["error"]["command"] == "save_aiml"
    assert ask(ws, "still there?") == "let's check this thing on internet"


def test_invalid_aiml_is_refused_with_line_and_column(stack: Stack, project: TestProject) -> None:
    """Broken AIML is not stored; the error names where it breaks."""
    ws = connect(stack.ws_url(project))
    assert save(ws, DOC_CATEGORY)["save_aiml"]["version"] == 1
    refused = save(ws, "<category>\n<pattern>HI</pattern>\n<template>x</templat></category>")
    assert refused["error"]["problems"][0]["line"] == 3
    assert "line 3, column" in refused["error"]["message"]
    assert ask(ws, "hi") == "hello from xparo"


def test_commands_of_one_frame_run_in_order(stack: Stack, project: TestProject) -> None:
    """A frame with several keys runs each command in order (save, then ask the new AIML)."""
    ws = connect(stack.ws_url(project))
    send(ws, {"save_aiml": DOC_CATEGORY, "ask_bot": "hi", "xparo_sync_config": {}})
    assert "save_aiml" in recv(ws)
    assert recv(ws) == {"message": {"bot_response": "hello from xparo"}}
    assert "xparo_name" in recv(ws)["change_config"]


def test_robot_shape_save_and_new_content_reaches_every_connection(
    stack: Stack, project: TestProject
) -> None:
    """The robot's {"aiml","maps","Sets","properties"} save is kept, and every socket (whichever
    replica answers it) uses the new AIML on its next turn."""
    ws = connect(stack.ws_url(project))
    saved = save(ws, {"aiml": DOC_CATEGORY, "maps": "a=b", "Sets": "x", "properties": "name:Robo"})
    assert saved["save_aiml"]["categories"] == 1
    others = [connect(stack.ws_url(project)) for _ in range(4)]
    assert [ask(o, "hi") for o in others] == ["hello from xparo"] * 4
    save(ws, DOC_CATEGORY.replace("hello from xparo", "second version"))
    assert [ask(o, "hi") for o in others] == ["second version"] * 4
    send(ws, {"initialize_api": {}})
    doc = recv(ws)
    assert (doc["maps"], doc["Sets"], doc["properties"]) == ("a=b", "x", "name:Robo")


def test_predicates_are_per_session(stack: Stack, project: TestProject) -> None:
    """Two sockets are two conversations: one's name is not the other's."""
    alice, bob = connect(stack.ws_url(project)), connect(stack.ws_url(project))
    save(alice, NAME_AIML)
    assert ask(alice, "my name is Alice") == "Hi Alice"
    assert ask(bob, "my name is Bob") == "Hi Bob"
    assert ask(alice, "what is my name") == "You are Alice"


def test_frame_over_the_limit_closes_with_1009(stack: Stack, project: TestProject) -> None:
    """A frame above 1 MiB is refused with close code 1009 (message too big)."""
    ws = connect(stack.ws_url(project))
    ws.send(json.dumps({"ask_bot": "x" * (1024 * 1024 + 10)}))
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 1009


def test_operator_message_reaches_the_xparo_socket(
    stack: Stack, project: TestProject, admin_token: str
) -> None:
    """What an operator says in a session arrives on its XPARO socket as a bot_response."""
    ws = connect(stack.ws_url(project, query="session_id=front_desk"))
    assert ask(ws, "anything")  # the first turn opens the session (fallback answer)
    url = f"{stack.http_url()}/admin/projects/{project.key}/sessions/front_desk/messages"
    sent = httpx.post(
        url,
        json={"text": "A nurse is on the way"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert sent.status_code == 202 and sent.json()["protocol"] == "xparo"
    assert recv(ws) == {"message": {"bot_response": "A nurse is on the way"}}
    ws.close()
