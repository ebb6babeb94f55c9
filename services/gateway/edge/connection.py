"""The WebSocket connection every adapter runs on: serve an adapter on an accepted socket, and
close every open one with its protocol's own code when the gateway stops.

The socket itself is sockets.py (the network and the handshake), inbox.py (frames in) and
outbox.py (frames out without waiting, the close).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .inbox import Adapter
from .outbox import CLOSE_RESTART, CLOSE_TRY_AGAIN, Outbox
from .sockets import Socket

log = logging.getLogger(__name__)


class OpenSockets:
    """Sockets to close with their protocol's own code when this gateway stops."""

    def __init__(self) -> None:
        self._open: dict[Outbox, int] = {}

    def add(self, socket: Outbox, code: int) -> None:
        self._open[socket] = code

    def discard(self, socket: Outbox) -> None:
        self._open.pop(socket, None)

    async def close_all(self, reason: str = "server restarting") -> None:
        """Close every registered socket (their clients reconnect, to another replica)."""
        sockets, self._open = self._open, {}
        await asyncio.gather(*(sock.close(code, reason) for sock, code in sockets.items()))


async def serve(
    sock: Socket,
    adapter: Adapter,
    *,
    project: Any = None,
    sockets: OpenSockets | None = None,
    restart: int = CLOSE_RESTART,
    on_bytes: Callable[[bytes], Awaitable[None]] | None = None,
) -> None:
    """Start `adapter` on an accepted socket, then hand it the socket's frames as they come
    (this returns once none waits: an idle socket has no task).

    A socket over a connection cap (this replica's, or `project`'s), or whose adapter cannot
    start (NATS unreachable), is told to try again later (1013). When the gateway stops, the
    socket is closed with `restart` (the protocol's "reconnect" code) if `sockets` holds it.
    """
    limits = sock.limits
    seat = limits.seat()
    if seat is not None and project is not None and not seat.join(project):
        seat.release()
        seat = None
    if seat is None:
        await _refuse(sock, adapter, "too many connections, try again later")
        return
    try:
        await adapter.start()
    except Exception as err:
        log.warning("socket not started: %r", err)
        seat.release()
        await _refuse(sock, adapter, "try again shortly")
        return
    sock.attach(adapter, seat, sockets=sockets, restart=restart, on_bytes=on_bytes)
    await sock.drain()


async def _refuse(sock: Socket, adapter: Adapter, reason: str) -> None:
    await sock.close(CLOSE_TRY_AGAIN, reason)
    await adapter.on_close()
