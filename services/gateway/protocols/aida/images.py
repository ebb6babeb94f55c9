"""AIDA's image routes: `POST /content/image/{bot}/{session}` and `GET /content/image/{id}`.

The upload is read with a hard size cap, staged in the media object store under a new id, and
handed to the media service, which sniffs the bytes and keeps or refuses them. Errors are
AIDA's `{"errors": "..."}`. Served as a sub-application so CORS (open by default, as AIDA)
applies to these routes only.
"""

import logging
import re
from typing import Any
from uuid import UUID, uuid4

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter
from starlette.datastructures import UploadFile
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message

from shared import subjects
from shared.contracts import (
    GetImage,
    GetImageReply,
    GetSession,
    ImageInfo,
    SessionInfo,
    SessionReply,
    StoreImage,
    StoreImageReply,
)

from ...bus.bridge import Bridge, BridgeError
from ...bus.media_files import MediaStore, stage_and_ask
from ...config import GatewaySettings
from ...edge.errors import GatewayError

log = logging.getLogger(__name__)
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MULTIPART_OVERHEAD = 64 * 1024
STORED: TypeAdapter[Any] = TypeAdapter(StoreImageReply)
FOUND: TypeAdapter[Any] = TypeAdapter(GetImageReply)
SESSION: TypeAdapter[Any] = TypeAdapter(SessionReply)
CACHE = "private, max-age=86400, immutable"
# Decoding a 10 MiB image waits its turn in the media service; a 503 after a shorter wait
# would delete bytes the service may still keep.
STORE_TIMEOUT_S = 30.0


def _error(status: int, text: str) -> JSONResponse:
    return JSONResponse({"errors": text}, status_code=status)


class TooLarge(GatewayError):
    """The request body passed the size cap."""


async def _capped_body(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise TooLarge
    return bytes(body)


async def _form_file(request: Request, body: bytes) -> UploadFile | None:
    """The `file` part of a multipart body that was already read (and size-checked)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, receive).form(max_files=1, max_fields=16)
    part = form.get("file")
    return part if isinstance(part, UploadFile) else None


def content_app(bridge: Bridge, settings: GatewaySettings) -> FastAPI:
    """The `/content` sub-application (mounted by the gateway)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.content_cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],
    )
    images = AidaImages(bridge, settings)
    app.add_api_route("/image/{bot}/{session}", images.upload, methods=["POST"])
    app.add_api_route("/image/{image}", images.download, methods=["GET"])
    return app


class AidaImages:
    """The two image routes' handlers, over the bridge and the media object store."""

    def __init__(self, bridge: Bridge, settings: GatewaySettings) -> None:
        self.bridge = bridge
        self.settings = settings
        self.store = MediaStore(bridge)

    async def upload(self, request: Request, bot: str, session: str) -> Response:
        """Keep an image for one session of one bot → `{"id": "<uuid>"}`."""
        try:
            project = UUID(bot)
        except ValueError:
            return _error(404, "Not Found")
        if not SESSION_ID.match(session):
            return _error(404, "Not Found")
        limit = self.settings.media_max_bytes
        try:
            body = await _capped_body(request, limit + MULTIPART_OVERHEAD)
            part = await _form_file(request, body)
        except TooLarge:
            return _error(413, "Request Entity Too Large")
        except Exception as err:  # python-multipart's parse errors
            log.info("unreadable upload: %r", err)
            return _error(400, "Bad Request: expected multipart/form-data with a file field")
        if part is None:
            return _error(400, "Bad Request: expected multipart/form-data with a file field")
        data = await part.read()
        if len(data) > limit:
            return _error(413, "Request Entity Too Large")
        try:
            return await self._keep(project, session, part.filename or "", data)
        except BridgeError:
            return _error(503, "Service Unavailable")

    async def _keep(self, project: UUID, session: str, filename: str, data: bytes) -> Response:
        known = await self.bridge.ask(
            subjects.dialog_session("get", project),
            GetSession(project_key=project, session_id=session),
            SESSION,
        )
        if not isinstance(known, SessionInfo):
            return _error(404, "Not Found")
        media_id = uuid4()
        command = StoreImage(
            media_id=media_id,
            project_key=project,
            session_id=session,
            filename=filename[:255],
            correlation_id=media_id,
        )
        answer = await stage_and_ask(
            self.bridge,
            await self.store(),
            data,
            subjects.media_store(project),
            command,
            STORED,
            timeout_s=STORE_TIMEOUT_S,
        )
        if isinstance(answer, ImageInfo):
            return JSONResponse({"id": str(answer.media_id)})
        if answer.reason == "too_large":
            return _error(413, "Request Entity Too Large")
        if answer.reason == "unsupported":
            return _error(415, "Unsupported Media Type")
        return _error(503, "Service Unavailable")

    async def download(self, request: Request, image: str) -> Response:
        """The image's bytes with their content type, or 404."""
        try:
            media_id = UUID(image)
        except ValueError:
            return Response(status_code=404)
        try:
            found = await self.bridge.ask(subjects.MEDIA_GET, GetImage(media_id=media_id), FOUND)
        except BridgeError:
            return _error(503, "Service Unavailable")
        if not isinstance(found, ImageInfo):
            return Response(status_code=404)
        headers = {
            "ETag": f'"{found.sha256}"',
            "Cache-Control": CACHE,
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        }
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
        try:
            stored = await (await self.store()).get(str(media_id))
        except Exception as err:  # deleted between the two reads
            log.info("image %s not readable: %r", media_id, err)
            return Response(status_code=404)
        return Response(stored.data or b"", media_type=found.content_type, headers=headers)
