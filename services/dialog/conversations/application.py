"""The conversation use cases of operators: find conversations, read and export transcripts,
take a session over from the bot and give it back.

Every answer is one page that fits one NATS message: pages end early (with a `next`) when the
next stored turn would take the answer past MAX_REPLY_BYTES.
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.contracts.conversation import (
    MAX_REPLY_BYTES,
    ConversationPage,
    ConversationPosition,
    ConversationSummary,
    ExportEntry,
    ExportPage,
    ExportTurns,
    FindConversations,
    FindInbox,
    GetTranscript,
    HandedOff,
    HandOff,
    HandoffChanged,
    HandoffRefused,
    InboxItem,
    InboxPage,
    Transcript,
    TranscriptEntry,
)
from shared.contracts.session import SessionUnknown

from ..models import TurnRow
from ..sessions.store import Sessions
from .store import Conversations, Listed, Waiting

ENVELOPE_BYTES = 4096  # a page's own fields (the conversation of a transcript, `next`)
E = TypeVar("E", bound=BaseModel)


def summary_of(listed: Listed) -> ConversationSummary:
    """A session as a conversation list shows it."""
    row = listed.session
    assert row.created_at is not None and row.last_at is not None  # set by the database
    return ConversationSummary(
        session_id=row.session_id,
        protocol=row.protocol,
        created_at=row.created_at,
        last_at=row.last_at,
        turns=listed.turns,
        handoff=row.handoff,
        last_text=listed.last_text,
        machine_state=machine_state(row.state),
    )


def machine_state(state: dict[str, Any] | None) -> str | None:
    """The machine's current state kept in a session's state (None when it has none)."""
    kept = (state or {}).get("_machine")
    name = kept.get("state") if isinstance(kept, dict) else None
    return name if isinstance(name, str) else None


def entries_of(row: TurnRow) -> list[TranscriptEntry]:
    """The messages one stored row holds: what was said first (by an operator or a schedule),
    or the user's side of a turn (a socket opening and the machine's clock are none) and the
    bot's answer, unless no engine answered (engine none: nothing to say, or an operator held
    the session)."""
    assert row.id is not None
    details = row.details or {}
    event = str(details.get("event", "text"))
    if row.kind == "said":
        source = str(details.get("source", "operator"))
        return [
            TranscriptEntry(
                turn=row.id,
                at=row.answered_at,
                author="operator" if source == "operator" else "bot",
                text=row.answer,
                event="say",
                engine=source,
                operator=details.get("operator"),
                stage=None,
                version=None,
            )
        ]
    entries = []
    if event not in ("start", "tick"):
        entries.append(
            TranscriptEntry(
                turn=row.id,
                at=row.received_at,
                author="user",
                text=row.question,
                event=event,
                engine=None,
                operator=details.get("operator"),
                stage=None,
                version=None,
            )
        )
    if row.engine != "none":
        entries.append(
            TranscriptEntry(
                turn=row.id,
                at=row.answered_at,
                author="bot",
                text=row.answer,
                event=event,
                engine=row.engine,
                operator=None,
                stage=row.stage,
                version=row.content_version,
                **why_answered(details),
            )
        )
    return entries


def why_answered(details: dict[str, Any]) -> dict[str, Any]:
    """What the transcript shows of how the bot answered: the intent, the FAQ group and its
    closest paraphrase, the best candidate's score, and the answer's rich parts (anything
    malformed is left out)."""
    found: dict[str, Any] = {}
    for key in ("faq", "intent"):
        match = details.get(key)
        if not isinstance(match, dict):
            continue
        candidates = match.get("candidates")
        best = candidates[0] if isinstance(candidates, list) and candidates else {}
        if isinstance(best, dict) and isinstance(best.get("score"), int | float):
            found["confidence"] = float(best["score"])
        if key == "intent" and isinstance(match.get("name"), str):
            found["intent"] = match["name"]
        if key == "faq":
            if isinstance(match.get("gid"), str):
                found["gid"] = match["gid"]
            if isinstance(best, dict) and isinstance(best.get("question"), str):
                found["candidate"] = best["question"]
    parts = details.get("parts")
    if isinstance(parts, list) and parts and all(isinstance(p, dict) for p in parts):
        found["parts"] = parts
    return found


def inbox_item(waiting: Waiting) -> InboxItem:
    """An inbox entry, saying what put the session there."""
    session = summary_of(waiting.listed)
    if session.handoff is not None:
        return InboxItem(session=session, waiting=False, reason=f"held by {session.handoff}")
    if waiting.said is not None:
        reason = f"said: {waiting.said[:SNIPPET]}"
        if waiting.intent:
            reason += f" (intent {waiting.intent})"
        return InboxItem(session=session, waiting=True, reason=reason)
    return InboxItem(session=session, waiting=True, reason=f"state {waiting.state}")


SNIPPET = 120


def fit(
    rows: Sequence[TurnRow], limit: int, entries: Callable[[TurnRow], list[E]]
) -> tuple[list[E], int | None]:
    """The entries of the first rows (at most `limit`) that fit MAX_REPLY_BYTES as JSON, and
    the row to continue after (None when every row fit). The first row always goes in: one
    row's texts (2 x 64 K characters) stay far under the limit."""
    page: list[E] = []
    size = ENVELOPE_BYTES
    for taken, row in enumerate(rows):
        made = entries(row)
        grown = size + sum(len(entry.model_dump_json()) + 1 for entry in made)
        if taken == limit or (page and grown > MAX_REPLY_BYTES):
            return page, rows[taken - 1].id
        page, size = page + made, grown
    return page, None


class ConversationApp:
    """Reads conversations for operators and moves sessions between the bot and operators."""

    def __init__(self, *, conversations: Conversations, sessions: Sessions) -> None:
        self.conversations = conversations
        self.sessions = sessions

    async def find(self, query: FindConversations) -> ConversationPage:
        """A page of the project's conversations, newest activity first."""
        found = await self.conversations.find(
            query.project_key, query.filter, limit=query.limit + 1, after=query.after
        )
        items = [summary_of(listed) for listed in found[: query.limit]]
        more = len(found) > query.limit
        last = items[-1] if more else None
        position = last and ConversationPosition(last_at=last.last_at, session_id=last.session_id)
        return ConversationPage(items=items, next=position)

    async def transcript(self, query: GetTranscript) -> Transcript | SessionUnknown:
        """The session and a page of its messages, oldest first."""
        listed = await self.conversations.listed(query.project_key, query.session_id)
        if listed is None:
            return await self._unknown(query)
        rows = await self.conversations.turns(
            query.project_key, query.session_id, limit=query.limit + 1, after=query.after
        )
        items, after = fit(rows, query.limit, entries_of)
        return Transcript(session=summary_of(listed), items=items, next=after)

    async def export(self, query: ExportTurns) -> ExportPage:
        """A page of the messages of the project's conversations that the filter matches."""
        found = await self.conversations.export(
            query.project_key, query.filter, limit=query.limit + 1, after=query.after
        )
        protocols = {row.id: protocol for row, protocol in found}

        def exported(row: TurnRow) -> list[ExportEntry]:
            extra = {"session_id": row.session_id, "protocol": protocols[row.id]}
            return [ExportEntry(**entry.model_dump(), **extra) for entry in entries_of(row)]

        items, after = fit([row for row, _ in found], query.limit, exported)
        return ExportPage(items=items, next=after)

    async def hand_off(
        self, command: HandOff
    ) -> tuple[HandedOff | HandoffRefused | SessionUnknown, HandoffChanged | None]:
        """Give the session to the operator (or back to the bot); the notice to publish when
        that changed who holds it."""
        done = await self.conversations.hand_off(
            command.project_key, command.session_id, command.operator
        )
        if done is None:
            return await self._unknown(command), None
        holder = done.session.handoff
        if holder != command.operator:
            assert holder is not None  # only a take can be refused
            return HandoffRefused(operator=holder), None
        listed = await self.conversations.listed(command.project_key, command.session_id)
        if listed is None:  # deleted right after the handoff
            return await self._unknown(command), None
        notice = None
        if done.before != holder:
            notice = HandoffChanged(
                project_key=command.project_key, session_id=command.session_id, operator=holder
            )
        return HandedOff(session=summary_of(listed)), notice

    async def inbox(self, query: FindInbox) -> InboxPage:
        """Sessions waiting for a human, and those operators hold, newest activity first."""
        found = await self.conversations.inbox(query.project_key, query.triggers, limit=query.limit)
        return InboxPage(items=[inbox_item(w) for w in found])

    async def _unknown(self, query: GetTranscript | HandOff) -> SessionUnknown:
        deleted = await self.sessions.deleted(query.project_key, query.session_id)
        return SessionUnknown(session_id=query.session_id, deleted=deleted)
