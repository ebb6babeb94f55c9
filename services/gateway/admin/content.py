"""Admin HTTP API for bot content: FAQ, intents, state machine and engine chain (AIML and the
other files: content_files.py, behaviors.py, documents.py); versions, publishing test → release
(and rolling the release back by publishing an older version), and restoring an old version.

Every change makes a new version that the `test` stage answers from at once; `release` answers
only from what was published. Uploads are checked completely before anything is stored, and a
refusal lists every problem with its line or item (problem+json, 422).
"""

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar
from uuid import uuid4

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field, TypeAdapter

from shared.contracts.content import (
    MAX_VERSION,
    BotContentSaved,
    ListVersions,
    PublishContent,
    PublishReply,
    RestoreContent,
    RestoreReply,
    VersionList,
)
from shared.contracts.knowledge import Chain, Faq, Intents

from ..bus.dialog_content import found
from ..edge.problems import Problem
from . import content_files, documents
from .auth import PROJECT_ROUTES, ProjectAdminDep
from .deps import ContentDep
from .formats import knowledge as formats
from .params import StageQuery, VersionQuery
from .uploads import body_of, upload_doc

T = TypeVar("T")
PUBLISH_REPLY: TypeAdapter[Any] = TypeAdapter(PublishReply)
RESTORE_REPLY: TypeAdapter[Any] = TypeAdapter(RestoreReply)
VERSIONS: TypeAdapter[VersionList] = TypeAdapter(VersionList)
DryRun = Annotated[bool, Query(description="Only check the upload; store nothing")]


class Checked(BaseModel):
    """A dry run's answer: the upload is valid."""

    valid: Literal[True] = True
    faq_groups: int = 0
    intents: int = 0
    machine_states: int = 0


class Publish(BaseModel):
    """What to publish (the newest version when empty)."""

    version: int | None = Field(None, ge=1, le=MAX_VERSION)


class Published(BaseModel):
    """The release stage now answers from `version`."""

    version: int


router = APIRouter(prefix=PROJECT_ROUTES, tags=["content"])
# Included without a prefix of their own: the audit log names these routes by their own path
# (`PUT /aiml`), as it always has (FastAPI puts the included route itself in the scope).
router.include_router(content_files.router)  # AIML, properties, maps, sets, trees, diff
router.include_router(documents.router)


@router.put(
    "/faq",
    response_model=BotContentSaved | Checked,
    openapi_extra=upload_doc(
        'FAQ as JSON ({"groups": [...]}) or CSV (gid,question,answer,labels,...)',
        "application/json",
        "text/csv",
    ),
)
async def put_faq(
    request: Request, admin: ProjectAdminDep, content: ContentDep, dry_run: DryRun = False
) -> Any:
    """Replace the FAQ (a new version on the test stage)."""
    faq = await _read(formats.read_faq, request)
    if dry_run:
        return Checked(faq_groups=len(faq.groups))
    return await content.save(admin.project, faq=faq)


@router.get("/faq", responses={200: {"content": {"text/csv": {}}}})
async def get_faq(
    admin: ProjectAdminDep,
    content: ContentDep,
    stage: StageQuery = "test",
    version: VersionQuery = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    """The FAQ of a stage or version, as JSON or CSV."""
    faq: Faq = (await content.content(admin.project, stage, version)).faq
    if format == "csv":
        return PlainTextResponse(formats.faq_csv(faq), media_type="text/csv; charset=utf-8")
    return Response(faq.model_dump_json(), media_type="application/json")


@router.put(
    "/intents",
    response_model=BotContentSaved | Checked,
    openapi_extra=upload_doc(
        "Intents and entities as YAML or JSON", "application/yaml", "application/json"
    ),
)
async def put_intents(
    request: Request, admin: ProjectAdminDep, content: ContentDep, dry_run: DryRun = False
) -> Any:
    """Replace the intents and entities (a new version on the test stage)."""
    intents = await _read(formats.read_intents, request)
    if dry_run:
        return Checked(intents=len(intents.intents))
    return await content.save(admin.project, intents=intents)


@router.get("/intents", responses={200: {"content": {"application/yaml": {}}}})
async def get_intents(
    admin: ProjectAdminDep,
    content: ContentDep,
    stage: StageQuery = "test",
    version: VersionQuery = None,
    format: Annotated[Literal["json", "yaml"], Query()] = "json",
) -> Response:
    """The intents of a stage or version, as JSON or YAML."""
    intents: Intents = (await content.content(admin.project, stage, version)).intents
    if format == "yaml":
        return PlainTextResponse(formats.as_yaml(intents), media_type="application/yaml")
    return Response(intents.model_dump_json(), media_type="application/json")


@router.put(
    "/machine",
    response_model=BotContentSaved | Checked,
    openapi_extra=upload_doc(
        "A state machine (states, intents, transitions) as YAML or JSON",
        "application/yaml",
        "application/json",
    ),
)
async def put_machine(
    request: Request, admin: ProjectAdminDep, content: ContentDep, dry_run: DryRun = False
) -> Any:
    """Replace the state machine (a new version on the test stage). It answers before the
    engine chain, for every protocol; BESSER sockets also get its greeting."""
    machine = await _read(formats.read_machine, request)
    if dry_run:
        return Checked(machine_states=len(machine.states))
    return await content.save(admin.project, machine=machine)


@router.get("/machine", responses={200: {"content": {"application/yaml": {}}}})
async def get_machine(
    admin: ProjectAdminDep,
    content: ContentDep,
    stage: StageQuery = "test",
    version: VersionQuery = None,
    format: Annotated[Literal["json", "yaml"], Query()] = "json",
) -> Response:
    """The state machine of a stage or version, as JSON or YAML (404 when it has none)."""
    machine = (await content.content(admin.project, stage, version)).machine
    if machine is None:
        raise Problem(404, "this stage or version has no state machine")
    if format == "yaml":
        return PlainTextResponse(formats.as_yaml(machine), media_type="application/yaml")
    return Response(machine.model_dump_json(), media_type="application/json")


@router.put("/chain", response_model=BotContentSaved)
async def put_chain(chain: Chain, admin: ProjectAdminDep, content: ContentDep) -> BotContentSaved:
    """Replace the engine chain: engines in order, each with its threshold."""
    return await content.save(admin.project, chain=chain)


# a step's prompt only where it has one (the llm step)
@router.get("/chain", response_model=Chain, response_model_exclude_none=True)
async def get_chain(
    admin: ProjectAdminDep,
    content: ContentDep,
    stage: StageQuery = "test",
    version: VersionQuery = None,
) -> Chain:
    """The engine chain of a stage or version."""
    return (await content.content(admin.project, stage, version)).chain


@router.get("/versions", response_model=VersionList)
async def versions(
    admin: ProjectAdminDep,
    content: ContentDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> VersionList:
    """Stored versions, newest first, and the version each stage answers from."""
    query = ListVersions(project_key=admin.project, limit=limit)
    listed: VersionList = await content.ask("versions", admin.project, query, VERSIONS)
    return listed


@router.post("/publish", response_model=Published)
async def publish(
    admin: ProjectAdminDep, content: ContentDep, body: Publish | None = None
) -> Published:
    """Make a version (the newest by default) what the release stage answers from;
    publishing an older version than the release's rolls the release back."""
    key = admin.project
    version = body.version if body else None
    command = PublishContent(project_key=key, version=version, correlation_id=uuid4())
    reply = await content.ask("publish", key, command, PUBLISH_REPLY)
    return Published(version=found(reply).version)


@router.post("/versions/{version}/restore", response_model=BotContentSaved)
async def restore(
    version: Annotated[int, Path(ge=1, le=MAX_VERSION)],
    admin: ProjectAdminDep,
    content: ContentDep,
) -> BotContentSaved:
    """Copy an old version into a new one, which the test stage answers from."""
    key = admin.project
    command = RestoreContent(project_key=key, version=version, correlation_id=uuid4())
    saved: BotContentSaved = found(await content.ask("restore", key, command, RESTORE_REPLY))
    return saved


async def _read(reader: Callable[[bytes, str], T], request: Request) -> T:
    """An uploaded file read by `reader`; its problems answer 422 with their lines/items."""
    try:
        return reader(await body_of(request), request.headers.get("content-type", ""))
    except formats.FormatError as err:
        raise Problem(422, str(err), problems=err.problems) from err
