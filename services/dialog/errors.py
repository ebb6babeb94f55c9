"""The dialog service's errors: one root, each error with the ids it concerns."""

from uuid import UUID


class DialogError(Exception):
    """Root of the dialog service's errors."""


class SessionGone(DialogError):
    """The session was deleted: nothing more is answered in it, and it is never recreated."""

    def __init__(self, *, project_key: UUID, session_id: str) -> None:
        super().__init__(f"session {session_id} of project {project_key} was deleted")
        self.project_key = project_key
        self.session_id = session_id
