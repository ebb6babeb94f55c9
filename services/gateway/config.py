"""Gateway settings (prefix `GATEWAY_`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """Where the gateway listens and how patient it is."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    port: int = Field(8003, description="HTTP and WebSocket port (8003 as in the XPARO document)")
    max_frame_bytes: int = Field(1024 * 1024, description="Larger WebSocket frames close with 1009")
    http_max_header_bytes: int = Field(
        16 * 1024, gt=0, description="Largest request header line, name and value (larger → 431)"
    )
    http_max_head_bytes: int = Field(
        64 * 1024, gt=0, description="Largest request headers in all (larger → 431)"
    )
    http_max_headers: int = Field(100, gt=0, description="Most request headers (more → 431)")
    http_max_target_bytes: int = Field(
        60 * 1024,  # RSVP.ai asks its question in the query string
        gt=0,
        le=60 * 1024,  # under httptools' own URL limit (65,535), which answers a plain 400
        description="Longest request target, path and query (longer → 414)",
    )
    reply_wait_s: float = Field(
        10.0, description="How long a socket's next command waits for the previous answer"
    )
    request_timeout_s: float = Field(5.0, description="Timeout of requests to other services")
    ping_interval_s: float = Field(
        25.0, gt=0, description='Typed API: seconds between {"type": "ping"} frames (pong optional)'
    )
    ws_ping_interval_s: float = Field(
        20.0, gt=0, description="Seconds between WebSocket-level pings on every socket"
    )
    ws_ping_timeout_s: float = Field(
        20.0, gt=0, description="A socket that answers no WebSocket ping for this long is closed"
    )
    ws_per_message_deflate: bool = Field(
        False,
        description="Accept a client's permessage-deflate offer (browsers always offer it): "
        "compressed frames, but ~33 KiB more memory per socket; off: frames go uncompressed",
    )
    identity_cache_s: float = Field(
        60.0,
        ge=0,
        description="How long a project's record (key, secret hash, settings) stays cached "
        "at most; a rotation or deletion announced on NATS drops it at once (0: no cache)",
    )
    command_ack_wait_s: float = Field(
        10.0, gt=0, description="A command taken by a gateway that died is redelivered after this"
    )
    command_fetch_wait_s: float = Field(
        5.0, gt=0, description="Long-poll length of a robot's command feed"
    )
    phoenix_idle_s: float = Field(
        60.0, gt=0, description="AIDA: a Phoenix socket silent this long is closed (1001)"
    )
    aida_backlog_keep_s: float = Field(
        86400.0, gt=0, description="AIDA: how long a bot's undelivered messages wait for a join"
    )
    aida_fetch_wait_s: float = Field(
        2.0, gt=0, description="AIDA: long-poll length of a bot's backlog feed"
    )
    media_max_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="AIDA: largest image upload (bigger → 413)"
    )
    content_cors_origins: list[str] = Field(
        ["*"], description="AIDA: origins allowed to call /content (JSON list; open by default)"
    )
    rsvp_endpoint: str = Field(
        "sandbox",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="RSVP.ai: the path segment of GET /<endpoint>/chat",
    )
    rsvp_wait_s: float = Field(
        10.0, gt=0, description="RSVP.ai: how long a chat request waits for its answer (504)"
    )
    besser_port: int = Field(
        8765, ge=0, le=65535, description="BESSER: the WebSocket platform's own port (0: off)"
    )
    besser_project: str | None = Field(
        None,
        description="BESSER: project answering sockets that name none (BESSER's own UIs add no "
        "?project=&token=); unset: every socket must name its project",
    )
    besser_origins: list[str] = Field(
        [], description="BESSER: Origin allow-list (JSON list; empty: any origin, as BESSER)"
    )
    besser_max_frame_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="BESSER: larger frames close with 1009 (files and voice arrive as base64)",
    )
    send_queue_frames: int = Field(
        1024,
        gt=0,
        description="Frames a socket may have waiting to be written; one more closes it (1013)",
    )
    send_queue_bytes: int = Field(
        4 * 1024 * 1024,
        gt=0,
        description="Bytes a socket may have waiting to be written (a single larger frame is "
        "let through when nothing waits); more closes it (1013)",
    )
    send_close_wait_s: float = Field(
        3.0, gt=0, description="How long a closing socket waits for its close frame to go out"
    )
    frame_rate: float = Field(
        50.0, ge=0, description="Frames a second each socket may send, sustained (0: no limit)"
    )
    frame_burst: int = Field(200, gt=0, description="Frames a socket may send at once")
    project_turn_rate: float = Field(
        500.0,
        ge=0,
        description="Turns a second each project may send through this gateway replica, "
        "sustained, all protocols together (0: no limit)",
    )
    project_turn_burst: int = Field(
        1000, gt=0, description="Turns a project may send at once through this replica"
    )
    max_connections: int = Field(
        10000, ge=0, description="WebSockets this gateway replica holds, both ports (0: no cap)"
    )
    max_project_connections: int = Field(
        5000,
        ge=0,
        description="WebSockets one project may hold on this replica (AIDA: sockets joined to "
        "its bot) (0: no cap)",
    )
