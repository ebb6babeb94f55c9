"""How XPARO says no: a command that could not run, and the error frame every refusal is
(`{"error": {"command", "message", ...}}`, the socket left open)."""

from typing import Any

from ...edge.errors import GatewayError


class CommandError(GatewayError):
    """A command could not run; the message is for the user."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.detail = detail


def error_frame(command: str | None, message: str, **detail: Any) -> dict[str, Any]:
    """The XPARO error shape (the real robot client reads `error.message`)."""
    return {"error": {"command": _sendable(command), "message": _sendable(message), **detail}}


def _sendable(text: str | None) -> str | None:
    """`text` without lone surrogates (a client may send "\\ud800"; no UTF-8 frame holds it)."""
    return text.encode("utf-8", "backslashreplace").decode() if text is not None else None
