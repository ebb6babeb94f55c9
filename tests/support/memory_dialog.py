"""The dialog's stores in memory: content versions, the turn path's batches and the sessions
over the same rows (the component tests' fakes, checked against Postgres by tests/contract)."""

import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from services.dialog.content.manifest import (
    AIML,
    BEHAVIORS,
    DOCUMENTS,
    described,
    digest,
    listed,
    manifest,
)
from services.dialog.content.port import save_as_one_file
from services.dialog.content.versions import CONTENT_FIELDS, EMPTY, MAX_CHANGE_CHARS, content_of
from services.dialog.models import BotContentRow, SessionRow, TurnRow
from services.dialog.sessions.store import MAX_SAID
from services.dialog.turns.store import AlreadyStored, Changed, SessionState, TurnRecord
from shared.contracts import BotContent, SaveBotContent
from shared.contracts.content import (
    MAX_INLINE_AIML,
    AimlFile,
    ContentFile,
    SaveBehavior,
    SaveDocument,
    SaveKnowledge,
    VersionInfo,
    VersionList,
    VersionRef,
)
from shared.contracts.knowledge import Stage


class MemoryContent:
    """The Content port in dicts, as ContentStore keeps it in Postgres: versions appended
    (copying what a save does not replace), file texts once per digest, publications."""

    def __init__(self) -> None:
        self.rows: dict[tuple[UUID, int], BotContentRow] = {}
        self.blobs: dict[tuple[UUID, str], str] = {}
        self.releases: list[tuple[UUID, int, datetime]] = []

    def stage_version(self, project_key: UUID, stage: str) -> int:
        """The newest version (test) or the last published (release); 0: none."""
        if stage == "test":
            return max((v for p, v in self.rows if p == project_key), default=0)
        published = [v for p, v, _ in self.releases if p == project_key]
        return published[-1] if published else 0

    async def get(
        self, project_key: UUID, *, stage: Stage = "test", version: int | None = None
    ) -> BotContent:
        if version is None:
            version = self.stage_version(project_key, stage)
        row = self.rows.get((project_key, version))
        if row is None:
            return EMPTY
        files = listed(row, AIML)
        inline = len(files) == 1 and files[0].size <= MAX_INLINE_AIML
        aiml = self.blobs.get((project_key, files[0].sha256), "") if inline else ""
        return content_of(row, aiml=aiml)

    async def row(self, project_key: UUID, ref: VersionRef) -> BotContentRow | None:
        version = ref if isinstance(ref, int) else self.stage_version(project_key, ref)
        return self.rows.get((project_key, version))

    async def texts(self, project_key: UUID, digests: list[str]) -> dict[str, str]:
        return {d: self.blobs[(project_key, d)] for d in digests if (project_key, d) in self.blobs}

    async def aiml_files(self, project_key: UUID, version: int) -> list[AimlFile]:
        files = listed(await self.row(project_key, version), AIML)
        texts = await self.texts(project_key, [f.sha256 for f in files])
        return [AimlFile(name=f.name, text=texts[f.sha256]) for f in files]

    async def save(self, command: SaveBotContent, categories: int) -> BotContentRow:
        return await save_as_one_file(self, command, categories)

    async def save_aiml(
        self,
        project_key: UUID,
        correlation_id: UUID,
        files: list[tuple[AimlFile, int]],
        *,
        categories: int,
        **fields: Any,
    ) -> BotContentRow:
        entries = [described(file.name, file.text, count) for file, count in files]
        return self._append(
            project_key,
            correlation_id,
            change=AIML,
            texts=[file.text for file, _ in files],
            file_changes={AIML: entries},
            fields={"categories": categories, **fields},
        )

    async def save_knowledge(self, command: SaveKnowledge) -> BotContentRow:
        changes: dict[str, Any] = {}
        if command.faq is not None:
            changes |= {"faq": _dump(command.faq), "faq_groups": len(command.faq.groups)}
        if command.intents is not None:
            intents = command.intents
            changes |= {"intents": _dump(intents), "intent_count": len(intents.intents)}
        if command.machine is not None:
            machine = command.machine
            changes |= {"machine": _dump(machine), "machine_states": len(machine.states)}
        if command.chain is not None:
            changes["chain"] = _dump(command.chain)
        for name in ("maps", "sets", "properties"):
            if (text := getattr(command, name)) is not None:
                changes[name] = text
        change = "+".join(
            k
            for k in ("faq", "intents", "machine", "chain", "maps", "sets", "properties")
            if getattr(command, k) is not None
        )
        return self._append(
            command.project_key, command.correlation_id, change=change, fields=changes
        )

    async def save_behavior(self, command: SaveBehavior) -> BotContentRow | None:
        return self._save_file(
            command.project_key, command.correlation_id, BEHAVIORS, command.name, command.xml
        )

    async def save_document(self, command: SaveDocument, text: str | None) -> BotContentRow | None:
        return self._save_file(
            command.project_key, command.correlation_id, DOCUMENTS, command.name, text
        )

    def _save_file(
        self, key: UUID, correlation_id: UUID, kind: str, name: str, text: str | None
    ) -> BotContentRow | None:
        current = listed(self.rows.get((key, self.stage_version(key, "test"))), kind)
        kept = [entry for entry in current if entry.name != name]
        if text is None and len(kept) == len(current):
            return None
        if text is not None:
            kept = sorted([*kept, described(name, text)], key=lambda e: e.name)
        what = "behavior" if kind == BEHAVIORS else "document"
        change = f"{what} {name}" if text is not None else f"remove {what} {name}"
        texts = [text] if text is not None else []
        return self._append(
            key, correlation_id, change=change, texts=texts, file_changes={kind: kept}
        )

    async def restore(
        self, project_key: UUID, version: int, correlation_id: UUID
    ) -> BotContentRow | None:
        old = await self.row(project_key, version)
        if old is None:
            return None
        copied = {name: getattr(old, name) for name in CONTENT_FIELDS}
        change = f"restore of version {version}"
        return self._append(project_key, correlation_id, change=change, fields=copied)

    async def publish(
        self, project_key: UUID, version: int | None, correlation_id: UUID
    ) -> int | None:
        if version is None:
            version = self.stage_version(project_key, "test")
        if not version or (project_key, version) not in self.rows:
            return None
        self.releases.append((project_key, version, datetime.now(UTC)))
        return version

    async def versions(self, project_key: UUID, limit: int) -> VersionList:
        released: dict[int, datetime] = {}
        for p, v, at in self.releases:
            if p == project_key:
                released[v] = max(at, released.get(v, at))
        rows = sorted(
            (row for (p, _), row in self.rows.items() if p == project_key),
            key=lambda row: row.version,
            reverse=True,
        )[:limit]
        return VersionList(
            test=self.stage_version(project_key, "test"),
            release=self.stage_version(project_key, "release"),
            versions=[
                VersionInfo(
                    version=row.version,
                    created_at=row.created_at,
                    change=row.change,
                    categories=row.categories,
                    faq_groups=row.faq_groups,
                    intents=row.intent_count,
                    machine_states=row.machine_states,
                    released_at=released.get(row.version),
                )
                for row in rows
            ],
        )

    def _append(
        self,
        project_key: UUID,
        correlation_id: UUID,
        *,
        change: str,
        texts: list[str] | None = None,
        file_changes: dict[str, list[ContentFile]] | None = None,
        fields: dict[str, Any] | None = None,
    ) -> BotContentRow:
        """The next version (as versions.add_version makes it), its texts kept."""
        previous = self.rows.get((project_key, self.stage_version(project_key, "test")))
        base = {name: getattr(previous, name) for name in CONTENT_FIELDS} if previous else {}
        fields = dict(fields or {})
        if file_changes:
            fields["files"] = manifest(previous, **file_changes)
        for text in texts or []:
            self.blobs.setdefault((project_key, digest(text)), text)
        row = BotContentRow(
            **(base | fields),
            project_key=project_key,
            version=(previous.version if previous else 0) + 1,
            correlation_id=correlation_id,
            change=change[:MAX_CHANGE_CHARS],
            created_at=datetime.now(UTC),
        )
        self.rows[(project_key, row.version)] = row
        return row


class MemoryTurns:
    """The turn path's store in memory: a batch's write refuses a session changed since read."""

    def __init__(self, content: MemoryContent) -> None:
        self.content = content
        self.sessions: dict[tuple[UUID, str], SessionRow] = {}
        self.deleted: set[tuple[UUID, str]] = set()
        self.rows: dict[UUID, TurnRow] = {}
        self.ids = itertools.count(1)  # the transcript's identity column

    def keep(self, row: TurnRow) -> None:
        """Store a transcript row with the next id (as its identity column gives it)."""
        row.id = next(self.ids)
        self.rows[row.turn_event_id] = row

    async def stored(self, turn_event_ids: Sequence[UUID]) -> dict[UUID, TurnRow]:
        return {i: self.rows[i] for i in turn_event_ids if i in self.rows}

    async def read_sessions(
        self, keys: Sequence[tuple[UUID, str]]
    ) -> dict[tuple[UUID, str], SessionState | None]:
        found: dict[tuple[UUID, str], SessionState | None] = {}
        for key in keys:
            if key in self.deleted:
                found[key] = None
            elif key in self.sessions:
                found[key] = SessionState.of(self.sessions[key].model_dump())  # a copy, as read
        return found

    async def content_version(self, project_key: UUID, stage: Stage) -> int:
        return self.content.stage_version(project_key, stage)

    def transcript(self, project_key: UUID, session_id: str) -> list[TurnRow]:
        """One session's rows, in the order they were stored."""
        return [
            t
            for t in self.rows.values()
            if (t.project_key, t.session_id) == (project_key, session_id)
        ]

    async def said_since(self, project_key: UUID, session_id: str) -> list[str]:
        """What was said first (or by a state machine's tick) since the user's last turn, the
        newest MAX_SAID, oldest first (as SAID_SINCE)."""
        mine = self.transcript(project_key, session_id)
        turns = [i for i, t in enumerate(mine) if t.kind == "turn" and _event(t) != "tick"]
        since = mine[turns[-1] + 1 if turns else 0 :]
        said = [t.answer for t in since if t.kind == "said" or _ticked(t)]
        return said[-MAX_SAID:]

    async def last_row(self, project_key: UUID, session_id: str) -> TurnRow | None:
        mine = self.transcript(project_key, session_id)
        return mine[-1] if mine else None

    @asynccontextmanager
    async def write(self, claim: object = None) -> AsyncIterator["MemoryTurns"]:
        yield self

    async def save(
        self, sessions: Sequence[Changed], turns: Sequence[TurnRecord]
    ) -> set[tuple[UUID, str]]:
        refused: set[tuple[UUID, str]] = set()
        for changed in sessions:
            key = (changed.row.project_key, changed.row.session_id)
            now = self.sessions.get(key)
            if key in self.deleted or (now.version if now else None) != changed.read:
                refused.add(key)
        kept = [row for row in turns if (row.project_key, row.session_id) not in refused]
        repeats = sum(1 for row in kept if row.turn_event_id in self.rows)
        if repeats:  # the turns' unique key, as in Postgres: nothing of the batch is written
            raise AlreadyStored(repeats)
        for changed in sessions:
            key = (changed.row.project_key, changed.row.session_id)
            if key not in refused:
                changed.row.version = (changed.read or 0) + 1
                changed.row.last_at = changed.row.last_at or datetime.now(UTC)
                before = self.sessions.get(key)
                created = before.created_at if before is not None else datetime.now(UTC)
                self.sessions[key] = SessionRow(**asdict(changed.row), created_at=created)
        for row in kept:
            self.keep(row.as_row())
        return refused


class MemorySessions:
    """The Sessions port over MemoryTurns' rows, so turns and session requests share them.
    Like Postgres, it hands out copies: a row read is not changed by a later write."""

    def __init__(self, turns: MemoryTurns) -> None:
        self.turns = turns

    async def create(self, row: SessionRow) -> None:
        kept = _copy(row)
        kept.created_at = kept.created_at or datetime.now(UTC)
        kept.last_at = kept.last_at or datetime.now(UTC)
        self.turns.sessions[(row.project_key, row.session_id)] = kept

    async def find(self, project_key: UUID, session_id: str) -> SessionRow | None:
        row = self.turns.sessions.get((project_key, session_id))
        return None if row is None else _copy(row)

    async def deleted(self, project_key: UUID, session_id: str) -> bool:
        return (project_key, session_id) in self.turns.deleted

    async def merge(
        self,
        project_key: UUID,
        session_id: str,
        *,
        data: dict[str, Any],
        state: dict[str, Any],
        create_as: str | None = None,
    ) -> SessionRow | None:
        key = (project_key, session_id)
        if create_as is not None and key not in self.turns.deleted:
            now = datetime.now(UTC)
            new = SessionRow(
                project_key=project_key,
                session_id=session_id,
                protocol=create_as,
                created_at=now,
                last_at=now,
            )
            self.turns.sessions.setdefault(key, new)
        row = self.turns.sessions.get(key)
        if row is None:
            return None
        row.data, row.state = {**row.data, **data}, {**row.state, **state}
        row.version += 1
        return _copy(row)

    async def say(self, said: TurnRow) -> SessionRow | None:
        row = self.turns.sessions.get((said.project_key, said.session_id))
        if row is None:
            return None
        said.protocol, row.last_at = row.protocol, said.answered_at
        row.version += 1
        self.turns.keep(said)
        return _copy(row)

    async def history(
        self, project_key: UUID, session_id: str, *, until: datetime | None, limit: int
    ) -> list[TurnRow] | None:
        """The newest `limit` turns since the last reset (included), oldest first."""
        if (project_key, session_id) not in self.turns.sessions:
            return None
        mine = [t for t in self.turns.transcript(project_key, session_id) if t.kind == "turn"]
        resets = [i for i, t in enumerate(mine) if _event(t) == "reset"]
        mine = mine[resets[-1] if resets else 0 :]
        found = [t for t in mine if until is None or t.answered_at <= until]
        return found[-limit:] if limit > 0 else []

    async def delete(self, project_key: UUID, session_id: str) -> SessionRow | None:
        row = self.turns.sessions.pop((project_key, session_id), None)
        if row is not None:
            self.turns.deleted.add((project_key, session_id))
            for gone in self.turns.transcript(project_key, session_id):
                del self.turns.rows[gone.turn_event_id]
        return row


def _copy(row: SessionRow) -> SessionRow:
    return SessionRow(**row.model_dump())


def _event(row: TurnRow) -> str | None:
    return (row.details or {}).get("event")


def _ticked(row: TurnRow) -> bool:
    """A state machine's answer on a clock tick (said first, as far as the user is concerned)."""
    return _event(row) == "tick" and row.engine != "none"


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_defaults=True)
