"""XPARO's endpoints: the command API (WebSocket and its REST twin) and the typed API.

The `{secret}` path segment is the project secret or a robot credential the server issued
(`ROBOT_CREDENTIAL`); a credential also says which robot is speaking.
"""

import json
import logging
from collections.abc import Mapping
from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from shared.contracts import robot_id_or_none
from shared.identity import Project, ProjectLookup, TokenStore

from ...bus.bridge import Bridge
from ...config import GatewaySettings
from ...edge import connection
from ...edge.wsserver import Handshake, SocketPort
from .commands import XparoAdapter
from .refusals import error_frame
from .robot_client import robot_named
from .typed import XparoTypedAdapter

log = logging.getLogger(__name__)
REST_POLL_WAIT_S = 0.05


class XparoAuth:
    """Who is calling: the project, and the robot when a robot credential was used."""

    def __init__(self, projects: ProjectLookup, tokens: TokenStore) -> None:
        self._projects = projects
        self._tokens = tokens

    async def __call__(self, project: str, secret: str) -> tuple[Project, str | None] | None:
        found = await self._projects.authenticate(project, secret)
        if found is not None:
            return found, None
        try:
            key = UUID(project)
        except ValueError:
            return None
        credential = await self._tokens.credential(key, secret)
        owner = await self._projects.get(key) if credential else None
        return (owner, credential.robot_id) if owner and credential else None


def xparo_router(
    projects: ProjectLookup,
    tokens: TokenStore,
    bridge: Bridge,
    settings: GatewaySettings,
    sockets: connection.OpenSockets,
    port: SocketPort,
) -> APIRouter:
    """REST routes of both XPARO APIs (an APIRouter), and their WebSocket routes on `port`.

    When the gateway stops, both sockets are closed with 1012 after the frames already queued
    (their sessions' resume marks are left first, so the replica they reconnect to goes on).
    """
    endpoints = XparoEndpoints(XparoAuth(projects, tokens), tokens, bridge, settings, sockets)
    port.route("/chatbot_api/{secret}/{project}/", endpoints.command_socket, protocol="xparo")
    port.route("/ws/chatbot_api/{secret}/{project}/", endpoints.command_socket, protocol="xparo")
    port.route("/ws/chatbot/{secret}/{project}/", endpoints.typed_socket, protocol="xparo-typed")
    router = APIRouter(tags=["XPARO"])
    for method in ("GET", "POST"):  # one route each: OpenAPI operation ids must be unique
        router.add_api_route(
            "/chatbot_api/{secret}/{project}/",
            endpoints.rest_twin,
            methods=[method],
            status_code=201,
            operation_id=f"xparo_rest_{method.lower()}",
        )
    return router


class XparoEndpoints:
    """The handlers of XPARO's routes: the two sockets and the command API's REST twin."""

    def __init__(
        self,
        auth: XparoAuth,
        tokens: TokenStore,
        bridge: Bridge,
        settings: GatewaySettings,
        sockets: connection.OpenSockets,
    ) -> None:
        self.auth = auth
        self.tokens = tokens
        self.bridge = bridge
        self.settings = settings
        self.sockets = sockets
        self.link = {
            "ack_wait_s": settings.command_ack_wait_s,
            "fetch_wait_s": settings.command_fetch_wait_s,
        }

    async def command_socket(self, ws: Handshake) -> None:
        found = await self.auth(ws.path_params["project"], ws.path_params["secret"])
        bad = _bad_ids(ws.query_params)
        if found is None or bad is not None:
            if found is not None:
                log.info("XPARO socket of project %s refused: %s", found[0].key, bad)
            ws.refuse()  # before the handshake completes: HTTP 403
            return
        sock = ws.accept(self.settings.max_frame_bytes)
        adapter = XparoAdapter(
            sock.send_json,
            project=found[0],
            bridge=self.bridge,
            tokens=self.tokens,
            session_id=robot_id_or_none(ws.query_params.get("session_id")) or uuid4().hex,
            robot_id=found[1] or robot_id_or_none(ws.query_params.get("robot_id")),
            reply_wait_s=self.settings.reply_wait_s,
            link=self.link,
            meter=sock.meter,
        )
        await connection.serve(sock, adapter, project=found[0].key, sockets=self.sockets)

    async def typed_socket(self, ws: Handshake) -> None:
        found = await self.auth(ws.path_params["project"], ws.path_params["secret"])
        wanted = ws.query_params.get("robot_id")
        if found is None or (wanted is not None and robot_id_or_none(wanted) is None):
            ws.refuse()
            return
        sock = ws.accept(self.settings.max_frame_bytes)
        adapter = XparoTypedAdapter(
            sock,
            project=found[0],
            bridge=self.bridge,
            tokens=self.tokens,
            robot_id=found[1] or wanted,
            connection=uuid4().hex,
            ping_interval_s=self.settings.ping_interval_s,
            **self.link,
            meter=sock.meter,
        )
        await connection.serve(sock, adapter, project=found[0].key, sockets=self.sockets)

    async def rest_twin(self, request: Request, secret: str, project: str) -> JSONResponse:
        """The same JSON objects as the socket; the replies merged into one object, HTTP 201."""
        found = await self.auth(project, secret)
        if found is None:
            return JSONResponse(error_frame(None, "wrong secret or unknown project"), 403)
        bad = _bad_ids(request.query_params)
        if bad is not None:
            return JSONResponse(error_frame(None, bad), 400)
        raw = await request.body()
        if len(raw) > self.settings.max_frame_bytes:
            message = f"body over {self.settings.max_frame_bytes} bytes"
            return JSONResponse(error_frame(None, message), 413)
        try:
            body = json.loads(raw) if raw.strip() else None
        except (ValueError, RecursionError) as err:
            return JSONResponse(error_frame(None, f"invalid JSON: {err}"), 400)
        robot = found[1] or robot_id_or_none(request.query_params.get("robot_id")) or _device(body)
        session = robot_id_or_none(request.query_params.get("session_id")) or robot
        replies = await self._run_rest(found[0], robot, session or uuid4().hex, body)
        return JSONResponse(replies, status_code=201)

    async def _run_rest(
        self, project: Project, robot: str | None, session: str, body: Any
    ) -> dict[str, Any]:
        """Run one REST request's commands (none: `initialize_api`), then hand over at most one
        queued command of its robot; every reply merged into one object."""
        replies: dict[str, Any] = {}

        async def collect(frame: dict[str, Any]) -> bool:
            replies.update(frame)
            return True

        adapter = XparoAdapter(
            collect,
            project=project,
            bridge=self.bridge,
            tokens=self.tokens,
            session_id=session,
            robot_id=robot,
            reply_wait_s=self.settings.reply_wait_s,
            link=self.link,
            live=False,
        )
        try:
            if body is None:
                await adapter.run_frame({"initialize_api": {}})
            elif body != {}:
                await adapter.run_frame(body)
            try:
                await adapter.poll_commands(REST_POLL_WAIT_S)
            except Exception as err:  # the answer stands; the command waits for the next poll
                log.warning("REST poll of robot %s failed: %r", robot, err)
        finally:
            await adapter.on_close()
        return replies


def _bad_ids(query: Mapping[str, str]) -> str | None:
    """Why `?session_id=` or `?robot_id=` cannot be used (None: absent or usable). A bad one is
    refused rather than ignored: ignoring it started a fresh conversation without a word."""
    for name in ("session_id", "robot_id"):
        value = query.get(name)
        if value is not None and robot_id_or_none(value) is None:
            return f"{name} must be 1-64 of A-Z a-z 0-9 _ - (got {value[:80]!r})"
    return None


def _device(body: Any) -> str | None:
    """The robot a request's messages name (a device_id, the unique_id of its own records, the
    owner of a log session: xparo_robot.robot_named), if any."""
    if isinstance(body, dict):
        for key, value in body.items():
            robot = robot_named(str(key), value)
            if robot is not None:
                return robot
    return None
