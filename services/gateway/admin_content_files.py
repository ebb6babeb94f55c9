"""Admin HTTP API for the bot's files: AIML (one document or a zip of many), its properties,
maps and sets, behaviour trees, and the diff between two versions.

Every change is a new version on the test stage (see admin_content.py). AIML files and exports
travel between the gateway and the dialog through the content bucket, never in one NATS
message; properties, maps, sets and behaviour trees are small enough to ride inline (capped).
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.contracts.behavior import MAX_TREE_CHARS
from shared.contracts.content import (
    BEHAVIOR_NAME_PATTERN,
    FILE_NAME_PATTERN,
    MAX_TEXT_PART_CHARS,
    MAX_VERSION,
    AimlChecked,
    AimlFiles,
    BehaviorReply,
    BotContentRejected,
    BotContentSaved,
    ContentDiff,
    ContentFile,
    DiffContent,
    ExportContent,
    SaveBehavior,
    VersionRef,
)
from shared.contracts.knowledge import Stage
from shared.contracts.paging import DEFAULT_LIMIT, BadCursor, decode_cursor, encode_cursor
from shared.identity import AdminToken

from . import aiml_files
from .admin_auth import AdminScope
from .bus.dialog_content import DialogContent, found
from .edge.problems import Problem
from .paging import Cursor, Limit, bad_cursor, link_next
from .uploads import body_of, upload_doc

StageQuery = Annotated[Stage, Query(description="Which stage's content")]
VersionQuery = Annotated[
    int | None, Query(ge=1, le=MAX_VERSION, description="This version instead")
]
BehaviorName = Annotated[str, Path(pattern=BEHAVIOR_NAME_PATTERN, description="The tree's name")]
TextPart = Literal["properties", "maps", "sets"]
XML = "application/xml; charset=utf-8"
BEHAVIOR_REPLY: TypeAdapter[Any] = TypeAdapter(BehaviorReply)
PutText = Callable[[TextPart, Request, UUID], Awaitable[BotContentSaved]]
GetText = Callable[[TextPart, UUID, Stage, int | None], Awaitable[Response]]


class AimlValid(BaseModel):
    """A dry run's answer: every file is valid AIML (nothing was stored)."""

    valid: Literal[True] = True
    files: int
    categories: int


class BehaviorList(BaseModel):
    """The behaviour trees of a stage or version, by name."""

    version: int
    items: list[ContentFile]
    next: str | None


def files_router(scope: AdminScope, content: DialogContent) -> APIRouter:
    """The /admin routes of the bot's files (mounted inside the content router)."""
    router = APIRouter()
    Scope = Annotated[tuple[UUID, AdminToken], Depends(scope)]

    @router.put(
        "/aiml",
        response_model=BotContentSaved | AimlValid,
        openapi_extra=upload_doc(
            "One AIML document (or bare categories), or a zip of .aiml/.xml files",
            "application/xml",
            "application/zip",
        ),
    )
    async def put_aiml(
        request: Request,
        scoped: Scope,
        dry_run: Annotated[bool, Query(description="Only check; store nothing")] = False,
        file: Annotated[
            str | None, Query(pattern=FILE_NAME_PATTERN, description="Name of one document")
        ] = None,
    ) -> Any:
        """Replace every AIML file (a new version on the test stage); maps, sets, properties
        stay. A zip's files load in name order (a later file's category replaces an earlier
        one's), one document is kept as `file` (bot.aiml by default). Each file is decoded as
        its XML declaration says and kept as UTF-8. Problems (422) name the file, line and
        column; a zip past the caps (files, sizes, compression ratio) is refused with 413."""
        body = await body_of(request)
        try:
            files = aiml_files.read_aiml(body, request.headers.get("content-type", ""), name=file)
        except aiml_files.UploadRefused as err:
            raise Problem(err.status, str(err), problems=err.problems) from err
        reply = await content.save_aiml(scoped[0], files, dry_run=dry_run)
        if isinstance(reply, BotContentRejected):
            problems = [p.model_dump(exclude_none=True) for p in reply.problems]
            raise Problem(422, aiml_files.summary(problems), problems=problems)
        if isinstance(reply, AimlChecked):
            return AimlValid(files=reply.files, categories=reply.categories)
        return reply

    @router.get(
        "/aiml",
        responses={200: {"content": {"application/xml": {}, "application/zip": {}}}},
    )
    async def get_aiml(
        scoped: Scope,
        stage: StageQuery = "test",
        version: VersionQuery = None,
        file: Annotated[str | None, Query(description="This file only")] = None,
        format: Annotated[
            Literal["auto", "zip"], Query(description="zip: a zip even of one file")
        ] = "auto",
    ) -> Response:
        """The AIML of a stage or version as uploaded (in UTF-8): one file (the one named, or
        the only one) as XML; several files, or `format=zip`, as a zip of every file by name.
        No AIML at all answers an empty XML body; an unknown file or version 404."""
        query = ExportContent(
            project_key=scoped[0], part="aiml", file=file, stage=stage, version=version
        )
        found_version, found = await content.staged("export", scoped[0], query, AimlFiles)
        files = found.files
        if format == "zip" or len(files) > 1:
            disposition = f'attachment; filename="aiml-v{found_version}.zip"'
            return Response(
                aiml_files.write_zip(files),
                media_type="application/zip",
                headers={"Content-Disposition": disposition},
            )
        return Response(files[0].text if files else "", media_type=XML)

    async def put_text(part: TextPart, request: Request, key: UUID) -> BotContentSaved:
        text = _text(await body_of(request, limit=MAX_TEXT_PART_CHARS), part)
        if part == "properties":
            _check_properties(text)
        return await content.save(key, **{part: text})

    async def get_text(part: TextPart, key: UUID, stage: Stage, version: int | None) -> Response:
        text: str = getattr(await content.content(key, stage, version), part)
        return PlainTextResponse(text)

    for part in ("properties", "maps", "sets"):
        _text_routes(router, scope, part, put_text, get_text)

    @router.get("/behaviors", response_model=BehaviorList)
    async def list_behaviors(
        request: Request,
        response: Response,
        scoped: Scope,
        stage: StageQuery = "test",
        version: VersionQuery = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> BehaviorList:
        """The behaviour trees of a stage or version, by name (name, digest, size)."""
        found = await content.content(scoped[0], stage, version)
        after = ""
        if cursor is not None:
            try:
                after = str(decode_cursor(cursor, keys=frozenset({"after"}))["after"])
            except BadCursor as err:
                raise bad_cursor(err) from err
        left = [tree for tree in found.behaviors if tree.name > after]
        page = left[:limit]
        more = encode_cursor({"after": page[-1].name}) if len(left) > limit else None
        link_next(request, response, more)
        return BehaviorList(version=found.version, items=page, next=more)

    @router.put(
        "/behaviors/{name}",
        response_model=BotContentSaved,
        openapi_extra=upload_doc(
            "A BehaviorTree.CPP v4 document with this tree's ID, or a MainTree fragment",
            "application/xml",
        ),
    )
    async def put_behavior(name: BehaviorName, request: Request, scoped: Scope) -> Any:
        """Store a behaviour tree under `name` (a new version on the test stage); robots get
        it from the release stage with a behavior_update command naming it."""
        body = await body_of(request, limit=MAX_TREE_CHARS)
        xml = _refused_as_problem(lambda: aiml_files.decode_xml(body, name=name))
        try:
            command = SaveBehavior(
                project_key=scoped[0], name=name, xml=xml, correlation_id=uuid4()
            )
        except ValidationError as err:
            raise Problem(422, err.errors()[0]["msg"].removeprefix("Value error, ")) from err
        return found(await content.ask("behavior", scoped[0], command, BEHAVIOR_REPLY))

    @router.get("/behaviors/{name}", responses={200: {"content": {"application/xml": {}}}})
    async def get_behavior(
        name: BehaviorName, scoped: Scope, stage: StageQuery = "test", version: VersionQuery = None
    ) -> Response:
        """One behaviour tree of a stage or version, as stored (404 when it has none)."""
        return Response(await tree(content, scoped[0], name, stage, version), media_type=XML)

    @router.delete("/behaviors/{name}", response_model=BotContentSaved)
    async def delete_behavior(name: BehaviorName, scoped: Scope) -> Any:
        """Remove a behaviour tree (a new version on the test stage; 404 when there is none)."""
        command = SaveBehavior(project_key=scoped[0], name=name, correlation_id=uuid4())
        return found(await content.ask("behavior", scoped[0], command, BEHAVIOR_REPLY))

    @router.get("/diff", response_model=ContentDiff)
    async def diff(
        scoped: Scope,
        old: Annotated[str, Query(alias="from", description="A version, release or test")] = (
            "release"
        ),
        new: Annotated[str, Query(alias="to", description="A version, release or test")] = "test",
    ) -> ContentDiff:
        """What changed from one version (or stage) to another: each part that differs (each
        AIML file, maps, sets, properties, faq, intents, machine, chain, each behaviour tree)
        with a unified diff of its text form (FAQ, intents, machine, chain as YAML). Version 0
        is the empty content."""
        query = DiffContent(project_key=scoped[0], old=_ref(old, "from"), new=_ref(new, "to"))
        return (await content.staged("diff", scoped[0], query, ContentDiff))[1]

    return router


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


def _text_routes(
    router: APIRouter, scope: AdminScope, part: TextPart, put_text: PutText, get_text: GetText
) -> None:
    """PUT and GET of one plain-text part (properties, maps or sets)."""
    Scope = Annotated[tuple[UUID, AdminToken], Depends(scope)]
    about = {
        "properties": "The bot's properties: `key:value` or `KEY=VALUE` lines (# comments)",
        "maps": "The bot's maps file, as the XPARO robot keeps it",
        "sets": "The bot's sets file, as the XPARO robot keeps it",
    }[part]

    async def put(request: Request, scoped: Scope) -> BotContentSaved:
        return await put_text(part, request, scoped[0])

    async def get(
        scoped: Scope, stage: StageQuery = "test", version: VersionQuery = None
    ) -> Response:
        return await get_text(part, scoped[0], stage, version)

    put.__doc__ = f"Replace {part} (a new version on the test stage). {about}."
    get.__doc__ = f"The {part} of a stage or version, as plain text."
    router.add_api_route(
        f"/{part}",
        put,
        methods=["PUT"],
        response_model=BotContentSaved,
        name=f"put_{part}",
        openapi_extra=upload_doc(about, "text/plain"),
    )
    router.add_api_route(
        f"/{part}",
        get,
        methods=["GET"],
        name=f"get_{part}",
        responses={200: {"content": {"text/plain": {}}}},
    )


def _text(body: bytes, part: str) -> str:
    """A text part's UTF-8 text (NUL, which no text file holds, is refused)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise Problem(422, f"{part} must be UTF-8 (byte {err.start} is not)") from err
    if "\x00" in text:
        raise Problem(422, f"{part} must be text (it holds a NUL character)")
    return text


def _check_properties(text: str) -> None:
    """Every line that is not blank or a # comment is `key:value` or `KEY=VALUE`."""
    problems = [
        {"line": number, "message": "expected key:value or KEY=VALUE"}
        for number, raw in enumerate(text.splitlines(), start=1)
        if (line := raw.strip()) and not line.startswith("#") and not _property(line)
    ]
    if problems:
        first = problems[0]
        raise Problem(422, f"line {first['line']}: {first['message']}", problems=problems)


def _property(line: str) -> bool:
    key, separator, _ = line.partition("=") if "=" in line else line.partition(":")
    return bool(separator and key.strip())


def _refused_as_problem(read: Callable[[], str]) -> str:
    try:
        return read()
    except aiml_files.UploadRefused as err:
        raise Problem(err.status, str(err), problems=err.problems) from err


def _ref(value: str, name: str) -> VersionRef:
    """A version number, `release` or `test` (422 otherwise)."""
    if value in ("release", "test"):
        return value  # type: ignore[return-value]
    if value.isascii() and value.isdigit() and int(value) <= MAX_VERSION:
        return int(value)
    raise Problem(422, f"{name}: a version number, release or test (not {value[:40]!r})")
