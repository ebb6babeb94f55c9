"""Admin HTTP API for projects: who am I, list, create, configure, rotate the secret, delete.

A project-scoped admin token sees and changes only its projects and cannot create new ones
(it would not cover them). Deleting a project needs its name as confirmation; its identity goes
at once (no protocol accepts it any more) and every service forgets its rows on `ProjectDeleted`.
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, field_validator

from shared import subjects
from shared.contracts.paging import BadCursor, decode_cursor, encode_cursor
from shared.contracts.project import ProjectDeleted
from shared.identity import Project, ProjectExists

from ..bus.bridge import BridgeError
from ..edge.problems import Problem
from .auth import AdminDep, ProjectAdminDep, covered, existing_project
from .deps import BridgeDep, ProjectsDep
from .paging import DEFAULT_LIMIT, Cursor, Limit, link_next, read_cursor

NAME_PATTERN = r"^[\w][\w .@:-]{0,199}$"
TEXT = 20_000
_CURSOR = frozenset({"name"})


class ProjectView(BaseModel):
    """A project as the admin API shows it (never its secret: only the secret's prefix)."""

    key: UUID
    name: str
    title: str
    description: str
    goal: str
    rules: str
    system: str
    fallback: str
    secret_prefix: str = Field(description="First characters of the secret, to tell them apart")
    created_at: datetime | None

    @classmethod
    def of(cls, project: Project) -> "ProjectView":
        return cls.model_validate(project, from_attributes=True)


class ProjectPage(BaseModel):
    """A page of projects, by name."""

    items: list[ProjectView]
    next: str | None = Field(description="Cursor of the next page; null on the last")


class Me(BaseModel):
    """The admin token in use."""

    name: str
    projects: list[UUID] | None = Field(description="The projects it covers; null: all")
    role: Literal["admin", "viewer"] = Field(
        description="admin: reads and changes; viewer: reads only (every change is a 403)"
    )


class NewProject(BaseModel):
    """A project to create."""

    name: str = Field(pattern=NAME_PATTERN, description="Unique name (letters, digits, . @ : -)")
    title: str = Field("", max_length=200, description="Shown to clients as the bot's title")


class ProjectSecret(BaseModel):
    """A project with its secret: shown this once, stored only hashed."""

    project: ProjectView
    secret: str


class ProjectChanges(BaseModel):
    """The fields to change; those left out stay as they are."""

    name: str | None = Field(None, pattern=NAME_PATTERN)
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=TEXT)
    goal: str | None = Field(None, max_length=TEXT, description="XPARO's bot goal")
    rules: str | None = Field(None, max_length=TEXT, description="XPARO's bot rules")
    system: str | None = Field(None, max_length=TEXT, description="XPARO's system prompt")
    fallback: str | None = Field(
        None, min_length=1, max_length=TEXT, description="Said when no engine has an answer"
    )

    @field_validator("*")
    @classmethod
    def no_nul(cls, value: str | None) -> str | None:
        """Postgres text cannot hold NUL; refuse it as invalid input, not a server error."""
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


router = APIRouter(tags=["projects"])


@router.get("/admin/me", response_model=Me)
async def me(token: AdminDep) -> Me:
    """The token's name, its role and the projects it covers (to check a token, as a login
    does)."""
    role: Literal["admin", "viewer"] = "viewer" if token.read_only else "admin"
    return Me(name=token.name, projects=covered(token), role=role)


@router.get("/admin/projects", response_model=ProjectPage)
async def list_projects(
    request: Request,
    response: Response,
    token: AdminDep,
    projects: ProjectsDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ProjectPage:
    """The projects this token covers, by name."""
    after = read_cursor(cursor, _name_after) if cursor else None
    found = await projects.page(keys=covered(token), limit=limit + 1, after=after)
    page = list(found[:limit])
    next_cursor = encode_cursor({"name": page[-1].name}) if len(found) > limit else None
    link_next(request, response, next_cursor)
    return ProjectPage(items=[ProjectView.of(p) for p in page], next=next_cursor)


@router.post("/admin/projects", status_code=201, response_model=ProjectSecret)
async def create_project(
    request: Request, body: NewProject, token: AdminDep, projects: ProjectsDep
) -> ProjectSecret:
    """Create a project (all-project tokens only); its secret is shown this once."""
    if token.projects is not None:
        raise Problem(403, "only an admin token for every project may create projects")
    try:
        made = await projects.create(body.name, title=body.title)
    except ProjectExists as err:
        raise Problem(409, str(err)) from err
    request.state.audit_project = made.project.key
    return ProjectSecret(project=ProjectView.of(made.project), secret=made.secret)


@router.get("/admin/projects/{project}", response_model=ProjectView)
async def get_project(admin: ProjectAdminDep, projects: ProjectsDep) -> ProjectView:
    """One project's configuration."""
    return ProjectView.of(await existing_project(projects, admin.project))


@router.patch("/admin/projects/{project}", response_model=ProjectView)
async def change_project(
    request: Request, body: ProjectChanges, admin: ProjectAdminDep, projects: ProjectsDep
) -> ProjectView:
    """Rename or configure a project (title, description, goal, rules, system, fallback)."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    request.state.audit_details = {"fields": sorted(changes)}
    try:
        return ProjectView.of(await projects.update(admin.project, **changes))
    except ProjectExists as err:
        raise Problem(409, str(err)) from err


@router.post("/admin/projects/{project}/secret", response_model=ProjectSecret)
async def rotate_secret(admin: ProjectAdminDep, projects: ProjectsDep) -> ProjectSecret:
    """Give the project a new secret; the old one stops working at once on every
    protocol. Shown this once."""
    made = await projects.rotate_secret(str(admin.project))
    return ProjectSecret(project=ProjectView.of(made.project), secret=made.secret)


@router.delete("/admin/projects/{project}", status_code=202)
async def delete_project(
    admin: ProjectAdminDep,
    projects: ProjectsDep,
    bridge: BridgeDep,
    confirm: Annotated[str, Query(max_length=200, description="The project's name, to confirm")],
) -> dict[str, str]:
    """Delete a project and all its data. Its clients are refused at once; every service
    then deletes the project's rows (conversations, content, robots' telemetry, schedules,
    media) — hence 202. The audit log keeps what was done to it."""
    key = admin.project
    project = await existing_project(projects, key)
    if confirm != project.name:
        raise Problem(409, "confirm must be the project's name")
    event = ProjectDeleted.first(
        project_key=key, name=project.name, deleted_by=f"admin:{admin.token.name}"
    )
    try:  # announced first: if the identity delete then fails, retrying is harmless
        await bridge.publish(event, subjects.project_deleted(key), subjects.CONFIG_STREAM)
    except BridgeError as err:
        raise Problem(503, "the project could not be deleted now; try again") from err
    await projects.delete(key)
    return {"status": "deleting", "project": str(key)}


def _name_after(cursor: str) -> str | None:
    """The name a projects cursor continues after (BadCursor unless this API made it)."""
    after = decode_cursor(cursor, keys=_CURSOR)["name"]
    if after is not None and not isinstance(after, str):
        raise BadCursor("cursor is not one this API made")
    return after
