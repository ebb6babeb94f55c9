"""The files of a content version: which AIML files and behaviour trees it has (its manifest,
kept in `bot_content.files`), and their texts, kept once per project and digest."""

import hashlib
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from shared.contracts.content import ContentFile

from ..models import BotContentRow
from ..rows import Executor
from . import sql

AIML = "aiml"
BEHAVIORS = "behaviors"
DOCUMENTS = "documents"


def digest(text: str) -> str:
    """The digest a file's text is kept under."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def described(name: str, text: str, categories: int = 0) -> ContentFile:
    """A manifest entry for `text` stored as `name`."""
    return ContentFile(
        name=name, sha256=digest(text), size=len(text.encode("utf-8")), categories=categories
    )


def listed(row: BotContentRow | None, kind: str) -> list[ContentFile]:
    """The files of one kind (AIML, BEHAVIORS or DOCUMENTS) a version has, in order."""
    if row is None:
        return []
    return [ContentFile.model_validate(entry) for entry in (row.files or {}).get(kind, [])]


def manifest(row: BotContentRow | None, **kinds: list[ContentFile]) -> dict[str, Any]:
    """`row`'s manifest with the kinds given replaced (a new version's `files`)."""
    current = dict(row.files) if row is not None and row.files else {}
    for kind, entries in kinds.items():
        current[kind] = [entry.model_dump() for entry in entries]
    return current


async def keep_texts(db: Executor, project_key: UUID, texts: Iterable[str]) -> None:
    """Store texts not stored yet for this project (a text already kept is shared)."""
    rows = {digest(text): text for text in texts}
    if rows:
        await db.execute(sql.KEEP_TEXTS, project_key, list(rows), list(rows.values()))


async def texts_of(db: Executor, project_key: UUID, digests: Iterable[str]) -> dict[str, str]:
    """The stored texts of `digests`, by digest."""
    wanted = set(digests)
    if not wanted:
        return {}
    rows = await db.fetch(sql.TEXTS, project_key, list(wanted))
    return {row["sha256"]: row["text"] for row in rows}
