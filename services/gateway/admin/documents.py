"""Admin HTTP API for the documents a project's `rag` engine answers from: PDF, Markdown, HTML
or plain text, one per name.

The gateway reads the upload's text here (page by page, shared.documents) and stages it in the
content bucket; the dialog stores it as a new version and indexes it before it answers, so the
next question on the test stage is answered from it.
"""

import asyncio
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, TypeAdapter

from shared.contracts.content import (
    FILE_NAME_PATTERN,
    BotContentSaved,
    ContentFile,
    DocumentReply,
    SaveDocument,
)
from shared.documents import DocumentRefused, extract, kind_of

from ..bus.dialog_content import found
from ..edge.problems import Problem
from .auth import ProjectAdminDep
from .deps import ContentDep
from .params import StageQuery, VersionQuery
from .uploads import body_of, upload_doc

MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
DocumentName = Annotated[str, Path(pattern=FILE_NAME_PATTERN, description="The document's name")]
DOCUMENT_REPLY: TypeAdapter[Any] = TypeAdapter(DocumentReply)


class DocumentList(BaseModel):
    """The documents of a stage or version, by name (size: bytes of its extracted text)."""

    version: int
    items: list[ContentFile]


router = APIRouter()


@router.get("/documents", response_model=DocumentList)
async def list_documents(
    admin: ProjectAdminDep,
    content: ContentDep,
    stage: StageQuery = "test",
    version: VersionQuery = None,
) -> DocumentList:
    """The documents of a stage or version (name, digest and size of its text)."""
    found_content = await content.content(admin.project, stage, version)
    return DocumentList(version=found_content.version, items=found_content.documents)


@router.put(
    "/documents/{name:path}",
    response_model=BotContentSaved,
    openapi_extra=upload_doc(
        "A PDF, Markdown, HTML or plain-text document (the type from Content-Type, or"
        " else from the name's suffix)",
        "application/pdf",
        "text/markdown",
        "text/html",
        "text/plain",
    ),
)
async def put_document(
    name: DocumentName, request: Request, admin: ProjectAdminDep, content: ContentDep
) -> Any:
    """Store a document under `name` (a new version on the test stage), replacing one of
    the same name; the `rag` engine answers from it. 415 for another format, 422 for a
    document with no readable text, 413 past 32 MB."""
    body = await body_of(request, limit=MAX_DOCUMENT_BYTES)
    try:
        kind = kind_of(name, request.headers.get("content-type", ""))
        text = await asyncio.to_thread(extract, body, kind)
    except DocumentRefused as err:
        raise Problem(err.status, str(err)) from err
    key = admin.project

    def command(staged: str) -> SaveDocument:
        return SaveDocument(project_key=key, name=name, staged=staged, correlation_id=uuid4())

    data = text.encode("utf-8")
    return found(await content.ask_staged("document", key, data, command, DOCUMENT_REPLY))


@router.delete("/documents/{name:path}", response_model=BotContentSaved)
async def delete_document(name: DocumentName, admin: ProjectAdminDep, content: ContentDep) -> Any:
    """Remove a document (a new version on the test stage; 404 when there is none)."""
    command = SaveDocument(project_key=admin.project, name=name, correlation_id=uuid4())
    return found(await content.ask("document", admin.project, command, DOCUMENT_REPLY))
