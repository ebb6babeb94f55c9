"""The identity schema: projects (one project is one bot on every protocol)."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from sqlalchemy import BigInteger, Column, DateTime, Identity, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

SCHEMA = "identity"
AdminRole = Literal["admin", "viewer"]
DEFAULT_FALLBACK = "let's check this thing on internet"


class Project(SQLModel, table=True):
    """A bot: its key, its hashed secret and its XPARO-style configuration."""

    __tablename__ = "projects"
    __table_args__ = {"schema": SCHEMA}

    key: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    secret_hash: str = Field(max_length=64)
    secret_prefix: str = Field(max_length=16)
    title: str = ""
    description: str = ""
    goal: str = "Basic"
    rules: str = ""
    system: str = ""
    fallback: str = DEFAULT_FALLBACK
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now())
    )


class AdminToken(SQLModel, table=True):
    """An operator's token for the admin API, for every project or for a list of them; a
    `viewer` token may read everything those cover and change nothing."""

    __tablename__ = "admin_tokens"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    token_hash: str = Field(max_length=64, unique=True)
    token_prefix: str = Field(max_length=16)
    projects: list[str] | None = Field(
        default=None, sa_column=Column(JSONB, nullable=True), description="None: every project"
    )
    role: str = Field(
        default="admin", max_length=16, description="admin: reads and changes; viewer: reads"
    )
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now())
    )

    def allows(self, project: UUID) -> bool:
        """Whether this token may read and change `project`."""
        return self.projects is None or str(project) in self.projects

    @property
    def read_only(self) -> bool:
        """A viewer's token: every read of the projects it covers, no change."""
        return self.role != "admin"


class RobotToken(SQLModel, table=True):
    """A robot's REST token (XPARO's REST_API_TOKEN); a robot holds one at a time."""

    __tablename__ = "robot_tokens"
    __table_args__ = {"schema": SCHEMA}

    token_hash: str = Field(max_length=64, primary_key=True)
    project_key: UUID = Field(foreign_key="identity.projects.key", index=True)
    robot_id: str = Field(max_length=64)
    token_prefix: str = Field(max_length=16)
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now())
    )


class RobotCredential(SQLModel, table=True):
    """A robot's own secret (XPARO's ROBOT_CREDENTIAL), accepted instead of the project secret."""

    __tablename__ = "robot_credentials"
    __table_args__ = {"schema": SCHEMA}

    secret_hash: str = Field(max_length=64, primary_key=True)
    project_key: UUID = Field(foreign_key="identity.projects.key", index=True)
    robot_id: str = Field(max_length=64)
    secret_prefix: str = Field(max_length=16)
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now())
    )


class AuditEntry(SQLModel, table=True):
    """One change made through the admin API or the CLI: who, what, when, on which project."""

    __tablename__ = "audit_log"
    __table_args__ = {"schema": SCHEMA}

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), server_default=func.now(), nullable=False),
    )
    actor: str = Field(max_length=220, description="admin:<token name> or cli:<user>")
    project_key: UUID | None = Field(default=None, description="Kept after the project goes")
    action: str = Field(max_length=200, description="e.g. PUT /admin/projects/{project}/faq")
    target: str = Field(max_length=2000, description="The concrete path and query")
    status: int
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
