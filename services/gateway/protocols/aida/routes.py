"""AIDA's socket: Phoenix channels at `/socket/websocket` (`vsn` 2.x arrays, else V1 objects)."""

from shared.identity import ProjectLookup

from ...bus.bridge import Bridge
from ...config import GatewaySettings
from ...edge import connection
from ...edge.wsserver import Handshake, SocketPort
from . import wire
from .channel import CLOSE_GOING_AWAY as GOING_AWAY
from .channel import AidaSocket
from .feed import BotFeeds


def aida_sockets(
    port: SocketPort,
    projects: ProjectLookup,
    bridge: Bridge,
    feeds: BotFeeds,
    settings: GatewaySettings,
    sockets: connection.OpenSockets,
) -> None:
    """The Phoenix socket endpoint on `port` (every connection is accepted; bots authenticate
    on join).

    When the gateway stops, its Phoenix sockets are closed with 1001, which every phoenix.js
    version reconnects after (1.7 does not reconnect after 1000)."""

    async def phoenix_socket(ws: Handshake) -> None:
        try:
            serializer = wire.Serializer.for_vsn(ws.query_params.get("vsn"))
        except ValueError:
            ws.refuse()  # before the handshake completes: HTTP 403, as Phoenix refuses
            return
        # Echo the `phoenix` sub-protocol only when offered (phoenix.js 1.8 with authToken).
        offered = ws.subprotocols
        sock = ws.accept(
            settings.max_frame_bytes, subprotocol="phoenix" if "phoenix" in offered else None
        )
        adapter = AidaSocket(
            sock.send_text,
            sock.close,
            serializer=serializer,
            projects=projects,
            bridge=bridge,
            feeds=feeds,
            idle_s=settings.phoenix_idle_s,
            meter=sock.meter,
            seats=sock,
        )
        await connection.serve(
            sock, adapter, sockets=sockets, restart=GOING_AWAY, on_bytes=adapter.on_bytes
        )

    port.route("/socket/websocket", phoenix_socket, protocol="aida")
