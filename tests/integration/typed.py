"""A robot on the XPARO typed API, over websocket-client, plus the admin calls tests make."""

import json
import time
from typing import Any

import httpx
import websocket

TIMEOUT_S = 20


def connect(url: str) -> websocket.WebSocket:
    return websocket.create_connection(url, timeout=TIMEOUT_S)


def send(ws: websocket.WebSocket, kind: str, data: Any = None) -> None:
    frame: dict[str, Any] = {"type": kind}
    if data is not None:
        frame["data"] = data
    ws.send(json.dumps(frame))


def recv(ws: websocket.WebSocket, *, pings: bool = False) -> dict[str, Any]:
    """The next frame (server pings skipped unless asked for)."""
    while True:
        frame = json.loads(ws.recv())
        assert isinstance(frame, dict)
        if pings or frame.get("type") != "ping":
            return frame


def chat(ws: websocket.WebSocket, message: str, **data: Any) -> str:
    send(ws, "chat", {"message": message, **data})
    frame = recv(ws)
    assert frame["type"] == "chat_response", frame
    return str(frame["data"]["response"])


class Admin:
    """The admin HTTP API of one gateway replica, for one project."""

    def __init__(self, base_url: str, token: str, project: object) -> None:
        self.client = httpx.Client(
            base_url=f"{base_url}/admin/projects/{project}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_S,
        )

    def command(self, robot: str, kind: str, data: dict[str, Any], **extra: Any) -> httpx.Response:
        return self.client.post(
            f"/robots/{robot}/commands", json={"type": kind, "data": data, **extra}
        )

    def queue(self, robot: str, kind: str, data: dict[str, Any], **extra: Any) -> str:
        """Send a command that must be accepted; its id."""
        response = self.command(robot, kind, data, **extra)
        assert response.status_code == 202, response.text
        return str(response.json()["command_id"])

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, path: str, check: Any, *, timeout: float = TIMEOUT_S, **params: Any) -> Any:
        """GET `path` until it answers 200 and `check(body)` holds (services catch up async)."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.client.get(path, params=params)
            if response.status_code == 200 and check(response.json()):
                return response.json()
            if time.monotonic() > deadline:
                raise AssertionError(f"{path}: still {response.status_code} {response.text}")
            time.sleep(0.05)
