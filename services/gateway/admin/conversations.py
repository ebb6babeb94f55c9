"""Admin HTTP API for conversations: find them, read a transcript, export them, and let an
operator take a session over from the bot and hand it back.

The dialog service owns sessions and transcripts: each route asks it (request/reply), one page
per request; the export walks the pages and streams them out, so no message between the
services comes near NATS' size limit however big the export.
"""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, TypeAdapter

from shared import subjects
from shared.contracts.chat import Protocol
from shared.contracts.conversation import (
    NO_NUL,
    ConversationFilter,
    ConversationPage,
    ConversationSummary,
    ExportEntry,
    ExportPage,
    ExportTurns,
    FindConversations,
    GetTranscript,
    HandedOff,
    HandOff,
    HandoffReply,
    Transcript,
    TranscriptEntry,
    TranscriptReply,
)
from shared.contracts.session import SessionUnknown

from ..bus.bridge import Bridge
from ..edge.problems import Problem
from .asking import ask, session_missing
from .auth import PROJECT_ROUTES, ProjectAdminDep
from .deps import BridgeDep
from .formats.conversations import (
    MEDIA_TYPES,
    ExportFormat,
    cursor_position,
    cursor_row,
    export_body,
    position_cursor,
    row_cursor,
    utc,
)
from .paging import DEFAULT_LIMIT, Cursor, Limit, link_next, read_cursor
from .params import SessionPath

PAGE: TypeAdapter[ConversationPage] = TypeAdapter(ConversationPage)
TRANSCRIPT: TypeAdapter[Any] = TypeAdapter(TranscriptReply)
EXPORT: TypeAdapter[ExportPage] = TypeAdapter(ExportPage)
HANDOFF: TypeAdapter[Any] = TypeAdapter(HandoffReply)
EXPORT_PAGE_ROWS = 1000


class ConversationList(BaseModel):
    """A page of conversations, newest activity first."""

    items: list[ConversationSummary]
    next: str | None = Field(description="Cursor of the next page; null on the last")


class TranscriptPage(BaseModel):
    """A conversation and a page of its messages, oldest first."""

    session: ConversationSummary
    items: list[TranscriptEntry]
    next: str | None = Field(description="Cursor of the next page; null on the last")


def _filter(
    protocol: Annotated[
        Protocol | None, Query(description="Only sessions of this protocol")
    ] = None,
    since: Annotated[datetime | None, Query(description="Messages at or after (UTC)")] = None,
    until: Annotated[datetime | None, Query(description="Messages before (UTC)")] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=200, pattern=NO_NUL, description="Text said in it"),
    ] = None,
    engine: Annotated[
        Literal["aiml", "faq", "nlu", "machine", "fallback"] | None,
        Query(description="Only sessions with an answer of this engine (fallback: not understood)"),
    ] = None,
    below: Annotated[
        float | None,
        Query(gt=0, le=1, description="Only sessions with an FAQ/NLU answer less sure than this"),
    ] = None,
    held: Annotated[
        bool | None, Query(description="Only sessions an operator holds (or not)")
    ] = None,
) -> ConversationFilter:
    """The filters of the list and the export (a time without a zone is UTC)."""
    try:
        return ConversationFilter(
            protocol=protocol,
            since=utc(since),
            until=utc(until),
            q=q,
            engine=engine,
            below=below,
            held=held,
        )
    except ValueError as err:
        raise Problem(422, f"since/until: {err}") from err


Filter = Annotated[ConversationFilter, Depends(_filter)]


router = APIRouter(prefix=f"{PROJECT_ROUTES}/conversations", tags=["conversations"])


@router.get("", response_model=ConversationList)
async def list_conversations(
    request: Request,
    response: Response,
    admin: ProjectAdminDep,
    bridge: BridgeDep,
    where: Filter,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ConversationList:
    """Conversations, newest activity first; `q` finds a text in questions and answers
    (case-insensitive), `since`/`until` keep those with messages in that time."""
    after = read_cursor(cursor, cursor_position) if cursor else None
    key = admin.project
    query = FindConversations(project_key=key, filter=where, limit=limit, after=after)
    page: ConversationPage = await _ask(bridge, "find", key, query, PAGE)
    next_cursor = position_cursor(page.next) if page.next else None
    link_next(request, response, next_cursor)
    return ConversationList(items=page.items, next=next_cursor)


@router.get("/export", response_class=StreamingResponse)
async def export_conversations(
    admin: ProjectAdminDep,
    bridge: BridgeDep,
    where: Filter,
    form: Annotated[ExportFormat, Query(alias="format", description="csv or json")] = "csv",
) -> StreamingResponse:
    """Every message of the conversations the filters match (within `since`/`until`), one
    row each, oldest first: CSV (cells that a spreadsheet would run as formulas start with
    ') or a JSON array."""
    key = admin.project

    def page_after(after: int | None) -> ExportTurns:
        return ExportTurns(project_key=key, filter=where, limit=EXPORT_PAGE_ROWS, after=after)

    first: ExportPage = await _ask(bridge, "export", key, page_after(None), EXPORT)

    async def pages() -> AsyncIterator[list[ExportEntry]]:
        page = first
        yield page.items
        while page.next is not None:
            page = await _ask(bridge, "export", key, page_after(page.next), EXPORT)
            yield page.items

    name = f"conversations-{key}.{form}"
    return StreamingResponse(
        export_body(pages(), form),
        media_type=MEDIA_TYPES[form],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/{session}", response_model=TranscriptPage)
async def transcript(
    request: Request,
    response: Response,
    session: SessionPath,
    admin: ProjectAdminDep,
    bridge: BridgeDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> TranscriptPage:
    """The conversation and its messages, oldest first: who said each (user, bot with its
    engine, operator with their name), when, and which content stage and version answered
    (a page holds the messages of at most `limit` turns)."""
    after = read_cursor(cursor, cursor_row) if cursor else None
    key = admin.project
    query = GetTranscript(project_key=key, session_id=session, limit=limit, after=after)
    found = await _ask(bridge, "transcript", key, query, TRANSCRIPT)
    if not isinstance(found, Transcript):
        raise session_missing(found.session_id, deleted=found.deleted)
    next_cursor = row_cursor(found.next) if found.next is not None else None
    link_next(request, response, next_cursor)
    return TranscriptPage(session=found.session, items=found.items, next=next_cursor)


@router.post("/{session}/handoff", response_model=ConversationSummary)
async def take_over(
    session: SessionPath, admin: ProjectAdminDep, bridge: BridgeDep
) -> ConversationSummary:
    """Take the session over (as the admin token's name): the bot stays silent in it, its
    user's turns are still kept, and the operator answers with .../messages. 409 when
    another operator holds it."""
    return await _hand_off(bridge, admin.project, session, admin.token.name)


@router.delete("/{session}/handoff", response_model=ConversationSummary)
async def hand_back(
    session: SessionPath, admin: ProjectAdminDep, bridge: BridgeDep
) -> ConversationSummary:
    """Give the session back to the bot (whoever held it)."""
    return await _hand_off(bridge, admin.project, session, None)


async def _hand_off(
    bridge: Bridge, key: UUID, session: str, operator: str | None
) -> ConversationSummary:
    """The session once `operator` holds it (None: the bot); 409 when another one does."""
    command = HandOff(
        project_key=key, session_id=session, operator=operator, correlation_id=uuid4()
    )
    done = await _ask(bridge, "handoff", key, command, HANDOFF)
    if isinstance(done, SessionUnknown):
        raise session_missing(done.session_id, deleted=done.deleted)
    if not isinstance(done, HandedOff):
        raise Problem(409, f"{done.operator} holds this session", operator=done.operator)
    return done.session


async def _ask(
    bridge: Bridge, kind: str, key: UUID, request: BaseModel, answer: TypeAdapter[Any]
) -> Any:
    """The dialog's answer to a conversation request of `kind` about project `key`."""
    subject = subjects.dialog_conversation(kind, key)
    return await ask(bridge, subject, request, answer, service="dialog")
