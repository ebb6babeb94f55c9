"""A BESSER WebSocket client over websocket-client, the library BESSER's Streamlit UI uses."""

import json
from typing import Any

import websocket

TIMEOUT_S = 20


def connect(url: str, **options: Any) -> websocket.WebSocket:
    return websocket.create_connection(url, timeout=TIMEOUT_S, **options)


def send(ws: websocket.WebSocket, action: str, message: Any = None) -> None:
    """Send a frame with the five keys BESSER's Python clients send."""
    frame = {"action": action, "message": message, "history": False}
    ws.send(json.dumps(frame | {"timestamp": None, "message_id": None}))


def recv(ws: websocket.WebSocket) -> dict[str, Any]:
    frame = json.loads(ws.recv())
    assert isinstance(frame, dict)
    return frame


def recv_n(ws: websocket.WebSocket, n: int) -> list[dict[str, Any]]:
    return [recv(ws) for _ in range(n)]


def said(frames: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """(action, message) of each frame."""
    return [(f["action"], f["message"]) for f in frames]


def refusal(frame: dict[str, Any]) -> str:
    """The reason of an error frame, checked to be one BAF's UIs render (agent_reply_str)."""
    assert frame["action"] == "agent_reply_str", frame
    reason = frame["error"]
    assert isinstance(reason, str) and frame["message"] == f"Error: {reason}", frame
    return reason
