"""The session use cases: open a session, merge data into it, read it and its history, say
something first in it, delete it for good."""

from uuid import UUID, uuid5

_DELETED_IDS = UUID("6f1c2b57-3f0e-4d55-9a43-1d5b2f7c9e10")  # namespace of SessionDeleted ids


def deleted_event_id(*, project_key: UUID, session_id: str) -> UUID:
    """The one event id of a session's deletion, so announcing it again is a duplicate."""
    return uuid5(_DELETED_IDS, f"{project_key}/{session_id}")
