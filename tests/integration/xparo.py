"""A tiny XPARO client over websocket-client, the library XPARO's own Python client uses."""

import json
from typing import Any

import websocket

TIMEOUT_S = 20
# AIML that keeps the user's name as a predicate (one session's memory, per user).
NAME_AIML = (
    '<category><pattern>MY NAME IS *</pattern><template><think><set name="name"><star/></set>'
    '</think>Hi <get name="name"/></template></category>'
    '<category><pattern>WHAT IS MY NAME</pattern><template>You are <get name="name"/>'
    "</template></category>"
)


def connect(url: str) -> websocket.WebSocket:
    return websocket.create_connection(url, timeout=TIMEOUT_S)


def send(ws: websocket.WebSocket, frame: dict[str, Any]) -> None:
    ws.send(json.dumps(frame))


def recv(ws: websocket.WebSocket) -> dict[str, Any]:
    frame = json.loads(ws.recv())
    assert isinstance(frame, dict)
    return frame


def ask(ws: websocket.WebSocket, question: str) -> str:
    """Ask and return the bot's answer text."""
    send(ws, {"ask_bot": question})
    frame = recv(ws)
    assert "message" in frame, frame
    return str(frame["message"]["bot_response"])


def save(ws: websocket.WebSocket, aiml: Any) -> dict[str, Any]:
    send(ws, {"save_aiml": aiml})
    return recv(ws)
