"""AIDA's socket: Phoenix channels at `/socket/websocket` (`vsn` 2.x arrays, else V1 objects)."""

from fastapi import APIRouter, WebSocket

from shared.identity import ProjectStore

from . import connection
from .adapters.aida import CLOSE_GOING_AWAY as GOING_AWAY
from .adapters.aida import AidaSocket
from .bridge import Bridge
from .config import GatewaySettings
from .phoenix import wire
from .phoenix.feed import BotFeeds


def aida_router(
    projects: ProjectStore,
    bridge: Bridge,
    feeds: BotFeeds,
    settings: GatewaySettings,
    sockets: connection.OpenSockets,
) -> APIRouter:
    """The Phoenix socket endpoint (every connection is accepted; bots authenticate on join).

    When the gateway stops, its Phoenix sockets are closed with 1001, which every phoenix.js
    version reconnects after (1.7 does not reconnect after 1000)."""
    router = APIRouter(tags=["AIDA"])

    async def phoenix_socket(ws: WebSocket) -> None:
        try:
            serializer = wire.Serializer.for_vsn(ws.query_params.get("vsn"))
        except ValueError:
            await ws.close(code=1008)  # before accept: HTTP 403, as Phoenix refuses a connect
            return
        # Echo the `phoenix` sub-protocol only when offered (phoenix.js 1.8 with authToken).
        offered = ws.scope.get("subprotocols") or []
        await ws.accept(subprotocol="phoenix" if "phoenix" in offered else None)
        sock = connection.Socket(ws)

        async def close(code: int, reason: str) -> None:
            await sock.close(code, reason)

        adapter = AidaSocket(
            sock.send_text,
            close,
            serializer=serializer,
            projects=projects,
            bridge=bridge,
            feeds=feeds,
            idle_s=settings.phoenix_idle_s,
        )
        await adapter.start()
        sockets.add(sock, GOING_AWAY)
        try:
            await connection.run(
                ws,
                adapter,
                max_bytes=settings.max_frame_bytes,
                on_binary_error=adapter.on_binary_error,
                on_bytes=adapter.on_bytes,
            )
        finally:
            sockets.discard(sock)

    router.add_api_websocket_route("/socket/websocket", phoenix_socket)
    return router
