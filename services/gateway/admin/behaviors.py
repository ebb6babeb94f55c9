"""Admin HTTP API for the bot's behaviour trees (BehaviorTree.CPP v4 XML, one per name): list,
store, read and remove them; robots get them from the release stage with a behavior_update
command naming them (robots.py).

Every change is a new version on the test stage (see content.py); a tree is small enough to
ride inline in its NATS message (capped), an export comes back through the content bucket.
"""

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter

from shared.contracts.behavior import MAX_TREE_CHARS
from shared.contracts.content import (
    BEHAVIOR_NAME_PATTERN,
    AimlFiles,
    BehaviorReply,
    BotContentSaved,
    ContentFile,
    ExportContent,
    SaveBehavior,
)
from shared.contracts.knowledge import Stage
from shared.contracts.paging import DEFAULT_LIMIT, decode_cursor, encode_cursor

from ..bus.dialog_content import DialogContent, found
from ..edge.problems import Problem
from .asking import built
from .auth import ProjectAdminDep
from .deps import ContentDep
from .formats import aiml as aiml_files
from .paging import Cursor, Limit, link_next, read_cursor
from .params import StageQuery, VersionQuery
from .uploads import body_of, read_upload, upload_doc

BehaviorName = Annotated[str, Path(pattern=BEHAVIOR_NAME_PATTERN, description="The tree's name")]
XML = "application/xml; charset=utf-8"
BEHAVIOR_REPLY: TypeAdapter[Any] = TypeAdapter(BehaviorReply)


class BehaviorList(BaseModel):
    """The behaviour trees of a stage or version, by name."""

    version: int
    items: list[ContentFile]
    next: str | None


router = APIRouter()


@router.get("/behaviors", response_model=BehaviorList)
async def list_behaviors(
    request: Request,
    response: Response,
    admin: ProjectAdminDep,
    content: ContentDep,
    stage: StageQuery = "test",
    version: VersionQuery = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> BehaviorList:
    """The behaviour trees of a stage or version, by name (name, digest, size)."""
    found_content = await content.content(admin.project, stage, version)
    after = "" if cursor is None else read_cursor(cursor, _name_after)
    left = [tree for tree in found_content.behaviors if tree.name > after]
    page = left[:limit]
    more = encode_cursor({"after": page[-1].name}) if len(left) > limit else None
    link_next(request, response, more)
    return BehaviorList(version=found_content.version, items=page, next=more)


@router.put(
    "/behaviors/{name}",
    response_model=BotContentSaved,
    openapi_extra=upload_doc(
        "A BehaviorTree.CPP v4 document with this tree's ID, or a MainTree fragment",
        "application/xml",
    ),
)
async def put_behavior(
    name: BehaviorName, request: Request, admin: ProjectAdminDep, content: ContentDep
) -> Any:
    """Store a behaviour tree under `name` (a new version on the test stage); robots get
    it from the release stage with a behavior_update command naming it."""
    body = await body_of(request, limit=MAX_TREE_CHARS)
    xml = read_upload(lambda: aiml_files.decode_xml(body, name=name))
    key = admin.project
    command = built(
        lambda: SaveBehavior(project_key=key, name=name, xml=xml, correlation_id=uuid4())
    )
    return found(await content.ask("behavior", key, command, BEHAVIOR_REPLY))


@router.get("/behaviors/{name}", responses={200: {"content": {"application/xml": {}}}})
async def get_behavior(
    name: BehaviorName,
    admin: ProjectAdminDep,
    content: ContentDep,
    stage: StageQuery = "test",
    version: VersionQuery = None,
) -> Response:
    """One behaviour tree of a stage or version, as stored (404 when it has none)."""
    return Response(await tree(content, admin.project, name, stage, version), media_type=XML)


@router.delete("/behaviors/{name}", response_model=BotContentSaved)
async def delete_behavior(name: BehaviorName, admin: ProjectAdminDep, content: ContentDep) -> Any:
    """Remove a behaviour tree (a new version on the test stage; 404 when there is none)."""
    command = SaveBehavior(project_key=admin.project, name=name, correlation_id=uuid4())
    return found(await content.ask("behavior", admin.project, command, BEHAVIOR_REPLY))


async def tree(
    content: DialogContent, key: UUID, name: str, stage: Stage, version: int | None
) -> str:
    """One behaviour tree's XML (404 problem when the stage or version has none)."""
    query = ExportContent(project_key=key, part="behavior", file=name, stage=stage, version=version)
    return (await content.staged("export", key, query, AimlFiles))[1].files[0].text


async def release_tree(content: DialogContent, key: UUID, name: str) -> str:
    """The release stage's tree `name`, for a behavior_update naming it without XML (a 404
    problem when the release has none)."""
    try:
        return await tree(content, key, name, "release", None)
    except Problem as err:
        if err.status_code != 404:
            raise
        raise Problem(404, f"the release stage has no behaviour tree {name!r}") from err


def _name_after(cursor: str) -> str:
    """The tree name a behaviours cursor continues after (BadCursor unless this API made it)."""
    return str(decode_cursor(cursor, keys=frozenset({"after"}))["after"])
