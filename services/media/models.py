"""The media schema as SQLModel models: what the migrations create, declared once (the store
queries it with the named statements of sql.py; tests/integration/test_schema_models.py checks
these models against the migrated database). The bytes themselves are in the `media` object
store; a media id is also the object's name."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import CHAR, BigInteger, Column, DateTime, Index, String, Text, func
from sqlmodel import Field, SQLModel

SCHEMA = "media"


def _created() -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class MediaImage(SQLModel, table=True):
    """A kept image's metadata; its media id makes a repeated request a no-op."""

    __tablename__ = "images"
    __table_args__ = (
        Index("images_session_idx", "project_key", "session_id"),
        {"schema": SCHEMA},
    )

    media_id: UUID = Field(primary_key=True)
    project_key: UUID
    session_id: str = Field(sa_type=String(128))
    content_type: str = Field(sa_type=Text)
    size: int = Field(sa_type=BigInteger)
    sha256: str = Field(sa_type=CHAR(64))
    width: int
    height: int
    filename: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    created_at: datetime | None = Field(default=None, sa_column=_created())


class MediaFile(SQLModel, table=True):
    """A kept file's (or voice message's) metadata; its media id makes a repeat a no-op."""

    __tablename__ = "files"
    __table_args__ = (
        Index("files_session_idx", "project_key", "session_id"),
        {"schema": SCHEMA},
    )

    media_id: UUID = Field(primary_key=True)
    project_key: UUID
    session_id: str = Field(sa_type=String(128))
    name: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    content_type: str = Field(sa_type=Text)
    size: int = Field(sa_type=BigInteger)
    sha256: str = Field(sa_type=CHAR(64))
    created_at: datetime | None = Field(default=None, sa_column=_created())
