"""The connection loop every WebSocket adapter shares: read frames, write safely, close."""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

log = logging.getLogger(__name__)


class Adapter(Protocol):
    """A protocol adapter: started once, told about each text frame, and when the socket ends."""

    async def start(self) -> None: ...
    async def on_frame(self, text: str) -> None: ...
    async def on_binary_error(self) -> None: ...
    async def on_close(self) -> None: ...


class Socket:
    """A WebSocket that many tasks may write to (one writer at a time)."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self._lock = asyncio.Lock()

    async def send_json(self, frame: Any) -> bool:
        """Send `frame` as JSON text; False when the socket is already gone."""
        return await self.send_text(json.dumps(frame, ensure_ascii=False))

    async def send_text(self, text: str) -> bool:
        """Send one text frame; False when the socket is already gone."""
        async with self._lock:
            if self.ws.client_state != WebSocketState.CONNECTED:
                return False
            try:
                await self.ws.send_text(text)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return False
        return True

    async def close(self, code: int, reason: str = "") -> None:
        """Close with `code` (a no-op when the socket is already gone)."""
        async with self._lock:
            if self.ws.client_state != WebSocketState.CONNECTED:
                return
            try:
                await self.ws.close(code=code, reason=reason)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return


class OpenSockets:
    """Sockets to close with their protocol's own code when this gateway stops."""

    def __init__(self) -> None:
        self._open: dict[Socket, int] = {}

    def add(self, socket: Socket, code: int) -> None:
        self._open[socket] = code

    def discard(self, socket: Socket) -> None:
        self._open.pop(socket, None)

    async def close_all(self, reason: str = "server restarting") -> None:
        """Close every registered socket (their clients reconnect, to another replica)."""
        sockets, self._open = self._open, {}
        await asyncio.gather(*(sock.close(code, reason) for sock, code in sockets.items()))


CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013


async def serve(ws: WebSocket, adapter: Adapter, *, max_bytes: int) -> None:
    """Start `adapter` on an accepted socket and run it until the client goes.

    If the adapter cannot start (NATS unreachable), the client is told to try again later (1013).
    """
    try:
        await adapter.start()
    except Exception as err:
        log.warning("socket not started: %r", err)
        await ws.close(code=CLOSE_TRY_AGAIN, reason="try again shortly")
        await adapter.on_close()
        return
    await run(ws, adapter, max_bytes=max_bytes, on_binary_error=adapter.on_binary_error)


async def run(
    ws: WebSocket,
    adapter: Adapter,
    *,
    max_bytes: int,
    on_binary_error: Any,
    on_bytes: Callable[[bytes], Awaitable[None]] | None = None,
) -> None:
    """Feed each frame to `adapter` until the client goes; binary frames must be UTF-8 (unless
    `on_bytes` takes them as they are).

    A frame over `max_bytes` closes the socket with 1009. The server (uvicorn) reads frames up
    to a higher hard cap, so an oversized frame is read whole and the close is clean.
    """
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            size = len(message.get("bytes") or b"") or len((message.get("text") or "").encode())
            if size > max_bytes:
                await ws.close(code=CLOSE_TOO_BIG, reason=f"frame over {max_bytes} bytes")
                return
            text = message.get("text")
            if text is None and on_bytes is not None and message.get("bytes") is not None:
                await on_bytes(message["bytes"])
                continue
            if text is None and message.get("bytes") is not None:
                try:
                    text = message["bytes"].decode("utf-8")
                except UnicodeDecodeError:
                    await on_binary_error()
                    continue
            if text is not None:
                await adapter.on_frame(text)
    except WebSocketDisconnect:
        return
    finally:
        await adapter.on_close()
