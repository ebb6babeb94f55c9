"""Admin HTTP API for the bot's files: AIML (one document or a zip of many), its properties,
maps and sets, its behaviour trees (behaviors.py, included here), and the diff between two
versions.

Every change is a new version on the test stage (see content.py). AIML files and exports
travel between the gateway and the dialog through the content bucket, never in one NATS
message; properties, maps, sets and behaviour trees are small enough to ride inline (capped).
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel

from shared.contracts.content import (
    FILE_NAME_PATTERN,
    MAX_TEXT_PART_CHARS,
    MAX_VERSION,
    AimlChecked,
    AimlFiles,
    BotContentRejected,
    BotContentSaved,
    ContentDiff,
    DiffContent,
    ExportContent,
    VersionRef,
)

from ..edge.problems import Problem
from . import behaviors
from .auth import ProjectAdminDep
from .deps import ContentDep
from .formats import aiml as aiml_files
from .params import StageQuery, VersionQuery
from .uploads import body_of, read_upload, upload_doc

TextPart = Literal["properties", "maps", "sets"]
TEXT_PARTS: tuple[TextPart, ...] = ("properties", "maps", "sets")
XML = behaviors.XML
ABOUT = {
    "properties": "The bot's properties: `key:value` or `KEY=VALUE` lines (# comments)",
    "maps": "The bot's maps file, as the XPARO robot keeps it",
    "sets": "The bot's sets file, as the XPARO robot keeps it",
}


class AimlValid(BaseModel):
    """A dry run's answer: every file is valid AIML (nothing was stored)."""

    valid: Literal[True] = True
    files: int
    categories: int


router = APIRouter()


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
    admin: ProjectAdminDep,
    content: ContentDep,
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
    kind = request.headers.get("content-type", "")
    files = read_upload(lambda: aiml_files.read_aiml(body, kind, name=file))
    reply = await content.save_aiml(admin.project, files, dry_run=dry_run)
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
    admin: ProjectAdminDep,
    content: ContentDep,
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
    key = admin.project
    query = ExportContent(project_key=key, part="aiml", file=file, stage=stage, version=version)
    found_version, found = await content.staged("export", key, query, AimlFiles)
    files = found.files
    if format == "zip" or len(files) > 1:
        disposition = f'attachment; filename="aiml-v{found_version}.zip"'
        return Response(
            aiml_files.write_zip(files),
            media_type="application/zip",
            headers={"Content-Disposition": disposition},
        )
    return Response(files[0].text if files else "", media_type=XML)


def _text_routes(part: TextPart) -> None:
    """PUT and GET of one plain-text part (properties, maps or sets)."""

    async def put(request: Request, admin: ProjectAdminDep, content: ContentDep) -> BotContentSaved:
        text = _text(await body_of(request, limit=MAX_TEXT_PART_CHARS), part)
        if part == "properties":
            _check_properties(text)
        return await content.save(admin.project, **{part: text})

    async def get(
        admin: ProjectAdminDep,
        content: ContentDep,
        stage: StageQuery = "test",
        version: VersionQuery = None,
    ) -> Response:
        text: str = getattr(await content.content(admin.project, stage, version), part)
        return PlainTextResponse(text)

    put.__doc__ = f"Replace {part} (a new version on the test stage). {ABOUT[part]}."
    get.__doc__ = f"The {part} of a stage or version, as plain text."
    router.add_api_route(
        f"/{part}",
        put,
        methods=["PUT"],
        response_model=BotContentSaved,
        name=f"put_{part}",
        openapi_extra=upload_doc(ABOUT[part], "text/plain"),
    )
    router.add_api_route(
        f"/{part}",
        get,
        methods=["GET"],
        name=f"get_{part}",
        responses={200: {"content": {"text/plain": {}}}},
    )


for _part in TEXT_PARTS:
    _text_routes(_part)
router.include_router(behaviors.router)  # here: the OpenAPI document lists them before /diff


@router.get("/diff", response_model=ContentDiff)
async def diff(
    admin: ProjectAdminDep,
    content: ContentDep,
    old: Annotated[str, Query(alias="from", description="A version, release or test")] = (
        "release"
    ),
    new: Annotated[str, Query(alias="to", description="A version, release or test")] = "test",
) -> ContentDiff:
    """What changed from one version (or stage) to another: each part that differs (each
    AIML file, maps, sets, properties, faq, intents, machine, chain, each behaviour tree)
    with a unified diff of its text form (FAQ, intents, machine, chain as YAML). Version 0
    is the empty content."""
    key = admin.project
    query = DiffContent(project_key=key, old=_ref(old, "from"), new=_ref(new, "to"))
    return (await content.staged("diff", key, query, ContentDiff))[1]


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


def _ref(value: str, name: str) -> VersionRef:
    """A version number, `release` or `test` (422 otherwise)."""
    if value in ("release", "test"):
        return value  # type: ignore[return-value]
    if value.isascii() and value.isdigit() and int(value) <= MAX_VERSION:
        return int(value)
    raise Problem(422, f"{name}: a version number, release or test (not {value[:40]!r})")
