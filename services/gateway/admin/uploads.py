"""Admin uploads: the request body read with a hard cap, how OpenAPI describes a route whose
body is a file, and a refused upload as a problem."""

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request

from ..edge.problems import Problem
from .formats.aiml import UploadRefused

T = TypeVar("T")

MAX_UPLOAD_BYTES = 16 * 1024 * 1024


def upload_doc(description: str, *types: str) -> dict[str, Any]:
    """OpenAPI text for a route whose body is a file in one of `types`."""
    schema = {"type": "string", "description": description}
    return {"requestBody": {"required": True, "content": {t: {"schema": schema} for t in types}}}


async def body_of(request: Request, *, limit: int = MAX_UPLOAD_BYTES) -> bytes:
    """The request body, refused (413) past `limit` bytes without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"this upload is limited to {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"this upload is limited to {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def read_upload(read: Callable[[], T]) -> T:
    """What `read` makes of an upload; its refusal is a problem with its status and list."""
    try:
        return read()
    except UploadRefused as err:
        raise Problem(err.status, str(err), problems=err.problems) from err
