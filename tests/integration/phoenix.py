"""A raw Phoenix channels client over websocket-client, for golden frames and bad input."""

import json
from typing import Any

import websocket

TIMEOUT_S = 20


class Raw:
    """One socket speaking V2 arrays (or V1 objects), with string refs counting from 1."""

    def __init__(self, url: str, **options: Any) -> None:
        self.ws = websocket.create_connection(url, timeout=TIMEOUT_S, **options)
        self._ref = 0

    def ref(self) -> str:
        self._ref += 1
        return str(self._ref)

    def send(self, frame: Any) -> None:
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def recv(self) -> Any:
        return json.loads(self.ws.recv())

    def call(self, topic: str, event: str, payload: Any, join_ref: str | None) -> Any:
        """Push and return the phx_reply with the same ref (pushes that arrive first are kept)."""
        ref = self.ref()
        self.send([join_ref, ref, topic, event, payload])
        return self.until(lambda f: f[1] == ref and f[3] == "phx_reply")

    def join(self, topic: str, token: str | None) -> tuple[str, Any]:
        """phx_join (join_ref = ref, as phoenix.js does); returns (join_ref, reply frame)."""
        ref = self.ref()
        self.send([ref, ref, topic, "phx_join", {"access_token": token} if token else {}])
        return ref, self.until(lambda f: f[1] == ref and f[3] == "phx_reply")

    def until(self, wanted: Any, limit: int = 50) -> Any:
        """The first frame `wanted` accepts (others are dropped)."""
        for _ in range(limit):
            frame = self.recv()
            if wanted(frame):
                return frame
        raise AssertionError("frame not received")

    def message(self, session: str) -> str:
        """The text of the next btu_msg for `session` (other sessions' messages are skipped)."""
        frame = self.until(lambda f: f[3] == "btu_msg" and f[4]["session"] == session)
        return str(frame[4]["text"])

    def close(self) -> None:
        self.ws.close()

    def close_code(self) -> int:
        """Read until the server's close frame; its status code."""
        return self.close_frame()[0]

    def close_frame(self) -> tuple[int, str]:
        """Read until the server's close frame; its status code and reason."""
        while True:
            opcode, frame = self.ws.recv_data_frame(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return int.from_bytes(frame.data[:2], "big"), frame.data[2:].decode()
