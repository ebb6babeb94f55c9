"""Admin HTTP API for bot content: FAQ, intents, state machine and engine chain (AIML and the
other files: admin_content_files.py); versions, publishing test → release (and rolling the
release back by publishing an older version), and restoring an old version.

Every change makes a new version that the `test` stage answers from at once; `release` answers
only from what was published. Uploads are checked completely before anything is stored, and a
refusal lists every problem with its line or item (problem+json, 422).
"""

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Path, Query, Request
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
from shared.contracts.knowledge import Chain, Faq, Intents, Stage
from shared.identity import AdminToken, ProjectStore, TokenStore

from . import knowledge_formats as formats
from .admin_auth import admin_scope
from .admin_content_files import files_router
from .admin_documents import documents_router
from .bus.bridge import Bridge
from .bus.dialog_content import DialogContent, found
from .edge.problems import Problem
from .uploads import body_of, upload_doc

T = TypeVar("T")
PUBLISH_REPLY: TypeAdapter[Any] = TypeAdapter(PublishReply)
RESTORE_REPLY: TypeAdapter[Any] = TypeAdapter(RestoreReply)
VERSIONS: TypeAdapter[VersionList] = TypeAdapter(VersionList)
DryRun = Annotated[bool, Query(description="Only check the upload; store nothing")]
StageQuery = Annotated[Stage, Query(description="Which stage's content")]
VersionQuery = Annotated[
    int | None, Query(ge=1, le=MAX_VERSION, description="This version instead")
]


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


def admin_content_router(projects: ProjectStore, tokens: TokenStore, bridge: Bridge) -> APIRouter:
    """The /admin routes for bot content."""
    router = APIRouter(prefix="/admin/projects/{project}", tags=["content"])
    scope = admin_scope(projects, tokens)
    Scope = Annotated[tuple[UUID, AdminToken], Depends(scope)]

    dialog = DialogContent(bridge)
    ask, content, save = dialog.ask, dialog.content, dialog.save
    router.include_router(files_router(scope, dialog))
    router.include_router(documents_router(scope, dialog))

    @router.put(
        "/faq",
        response_model=BotContentSaved | Checked,
        openapi_extra=upload_doc(
            'FAQ as JSON ({"groups": [...]}) or CSV (gid,question,answer,labels,...)',
            "application/json",
            "text/csv",
        ),
    )
    async def put_faq(request: Request, scoped: Scope, dry_run: DryRun = False) -> Any:
        """Replace the FAQ (a new version on the test stage)."""
        faq = await _read(formats.read_faq, request)
        if dry_run:
            return Checked(faq_groups=len(faq.groups))
        return await save(scoped[0], faq=faq)

    @router.get("/faq", responses={200: {"content": {"text/csv": {}}}})
    async def get_faq(
        scoped: Scope,
        stage: StageQuery = "test",
        version: VersionQuery = None,
        format: Annotated[Literal["json", "csv"], Query()] = "json",
    ) -> Response:
        """The FAQ of a stage or version, as JSON or CSV."""
        faq: Faq = (await content(scoped[0], stage, version)).faq
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
    async def put_intents(request: Request, scoped: Scope, dry_run: DryRun = False) -> Any:
        """Replace the intents and entities (a new version on the test stage)."""
        intents = await _read(formats.read_intents, request)
        if dry_run:
            return Checked(intents=len(intents.intents))
        return await save(scoped[0], intents=intents)

    @router.get("/intents", responses={200: {"content": {"application/yaml": {}}}})
    async def get_intents(
        scoped: Scope,
        stage: StageQuery = "test",
        version: VersionQuery = None,
        format: Annotated[Literal["json", "yaml"], Query()] = "json",
    ) -> Response:
        """The intents of a stage or version, as JSON or YAML."""
        intents: Intents = (await content(scoped[0], stage, version)).intents
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
    async def put_machine(request: Request, scoped: Scope, dry_run: DryRun = False) -> Any:
        """Replace the state machine (a new version on the test stage). It answers before the
        engine chain, for every protocol; BESSER sockets also get its greeting."""
        machine = await _read(formats.read_machine, request)
        if dry_run:
            return Checked(machine_states=len(machine.states))
        return await save(scoped[0], machine=machine)

    @router.get("/machine", responses={200: {"content": {"application/yaml": {}}}})
    async def get_machine(
        scoped: Scope,
        stage: StageQuery = "test",
        version: VersionQuery = None,
        format: Annotated[Literal["json", "yaml"], Query()] = "json",
    ) -> Response:
        """The state machine of a stage or version, as JSON or YAML (404 when it has none)."""
        machine = (await content(scoped[0], stage, version)).machine
        if machine is None:
            raise Problem(404, "this stage or version has no state machine")
        if format == "yaml":
            return PlainTextResponse(formats.as_yaml(machine), media_type="application/yaml")
        return Response(machine.model_dump_json(), media_type="application/json")

    @router.put("/chain", response_model=BotContentSaved)
    async def put_chain(chain: Chain, scoped: Scope) -> BotContentSaved:
        """Replace the engine chain: engines in order, each with its threshold."""
        return await save(scoped[0], chain=chain)

    # a step's prompt only where it has one (the llm step)
    @router.get("/chain", response_model=Chain, response_model_exclude_none=True)
    async def get_chain(
        scoped: Scope, stage: StageQuery = "test", version: VersionQuery = None
    ) -> Chain:
        """The engine chain of a stage or version."""
        return (await content(scoped[0], stage, version)).chain

    @router.get("/versions", response_model=VersionList)
    async def versions(
        scoped: Scope, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> VersionList:
        """Stored versions, newest first, and the version each stage answers from."""
        found: VersionList = await ask(
            "versions", scoped[0], ListVersions(project_key=scoped[0], limit=limit), VERSIONS
        )
        return found

    @router.post("/publish", response_model=Published)
    async def publish(scoped: Scope, body: Publish | None = None) -> Published:
        """Make a version (the newest by default) what the release stage answers from;
        publishing an older version than the release's rolls the release back."""
        key = scoped[0]
        version = body.version if body else None
        command = PublishContent(project_key=key, version=version, correlation_id=uuid4())
        return Published(version=found(await ask("publish", key, command, PUBLISH_REPLY)).version)

    @router.post("/versions/{version}/restore", response_model=BotContentSaved)
    async def restore(
        version: Annotated[int, Path(ge=1, le=MAX_VERSION)], scoped: Scope
    ) -> BotContentSaved:
        """Copy an old version into a new one, which the test stage answers from."""
        key = scoped[0]
        command = RestoreContent(project_key=key, version=version, correlation_id=uuid4())
        saved: BotContentSaved = found(await ask("restore", key, command, RESTORE_REPLY))
        return saved

    return router


async def _read(reader: Callable[[bytes, str], T], request: Request) -> T:
    """An uploaded file read by `reader`; its problems answer 422 with their lines/items."""
    try:
        return reader(await body_of(request), request.headers.get("content-type", ""))
    except formats.FormatError as err:
        raise Problem(422, str(err), problems=err.problems) from err
