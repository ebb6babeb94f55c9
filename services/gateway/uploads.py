"""Admin uploads: the request body read with a hard cap, and how OpenAPI describes a route whose
body is a file."""

from typing import Any

from fastapi import Request

from .edge.problems import Problem

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
