"""Each protocol's adapter in process, on one socket whose client side is a `Wire`, over the
fakes of gateway_fakes.py (the fuzz tier and the golden-frame component tests drive them)."""

import json
from dataclasses import dataclass, field
from typing import Any, cast

from fastapi import FastAPI

from services.gateway.config import GatewaySettings
from services.gateway.edge.nul_guard import NulGuard
from services.gateway.protocols.aida import wire
from services.gateway.protocols.aida.channel import AidaSocket
from services.gateway.protocols.besser.channel import BesserSocket, Handshake
from services.gateway.protocols.rsvp.routes import rsvp_router
from services.gateway.protocols.xparo.commands import XparoAdapter
from services.gateway.protocols.xparo.typed import XparoTypedAdapter
from shared.identity import Project

from .gateway_fakes import (
    FakeBridge,
    FakeMedia,
    FakeProjects,
    FakeTokens,
    project,
    wire_text,
)

BOT = project()


@dataclass
class Wire:
    """The client's side of one socket: decoded frames and close codes, in order."""

    frames: list[Any] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)

    async def send_json(self, frame: Any) -> bool:
        self.frames.append(json.loads(wire_text(frame)))
        return True

    async def send_text(self, text: str) -> bool:
        text.encode("utf-8")
        self.frames.append(json.loads(text))
        return True

    async def close(self, code: int, reason: str = "") -> None:
        self.closes.append(code)


async def feed(adapter: Any, frame: str | bytes) -> None:
    """Hand `frame` over as connection.run does (binary frames must be UTF-8, or on_bytes)."""
    if isinstance(frame, bytes):
        if hasattr(adapter, "on_bytes"):
            await adapter.on_bytes(frame)
            return
        try:
            frame = frame.decode("utf-8")
        except UnicodeDecodeError:
            await adapter.on_binary_error()
            return
    await adapter.on_frame(frame)


def xparo(out: Wire, bot: Project = BOT) -> XparoAdapter:
    """The XPARO command API's adapter on one socket (session "fuzz", no robot)."""
    return XparoAdapter(
        out.send_json,
        project=bot,
        bridge=cast(Any, FakeBridge()),
        tokens=cast(Any, FakeTokens()),
        session_id="fuzz",
        robot_id=None,
        reply_wait_s=0.05,
        link={},
        live=False,
    )


def typed(out: Wire, bot: Project = BOT) -> XparoTypedAdapter:
    """The XPARO typed API's adapter on one socket (no robot named in the URL)."""
    return XparoTypedAdapter(
        cast(Any, out),
        project=bot,
        bridge=cast(Any, FakeBridge()),
        tokens=cast(Any, FakeTokens()),
        robot_id=None,
        connection="fuzz",
        ping_interval_s=60,
        ack_wait_s=1,
        fetch_wait_s=1,
    )


def besser(out: Wire, bot: Project = BOT) -> BesserSocket:
    """The BESSER platform's adapter on one socket (session "fuzz", stage test)."""
    return BesserSocket(
        out.send_json,
        out.close,
        project=bot,
        handshake=Handshake(session="fuzz", user_id=None, session_name=None, stage="test"),
        bridge=cast(Any, FakeBridge()),
        media=FakeMedia(),
    )


def aida(out: Wire, version: int, bot: Project = BOT) -> AidaSocket:
    """AIDA's Phoenix socket speaking serializer `version` (1: objects, 2: arrays)."""
    bridge = FakeBridge()
    return AidaSocket(
        out.send_text,
        out.close,
        serializer=wire.Serializer(version),  # type: ignore[arg-type]
        projects=FakeProjects(bot),
        bridge=cast(Any, bridge),
        feeds=cast(Any, bridge.feeds),
        idle_s=60,
    )


def rsvp_app(bot: Project = BOT) -> FastAPI:
    """RSVP.ai's HTTP API as the gateway mounts it (NUL guard first), on the fakes."""
    app = FastAPI()
    app.add_middleware(NulGuard)
    settings = GatewaySettings(rsvp_wait_s=1)
    app.include_router(rsvp_router(FakeProjects(bot), cast(Any, FakeBridge()), settings))
    return app
