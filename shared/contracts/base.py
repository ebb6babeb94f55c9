"""The envelope every message that crosses a process boundary carries."""

from datetime import UTC, datetime
from typing import Self
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


class Contract(BaseModel):
    """A frozen message: unknown fields are refused, nothing is changed after creation."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(Contract):
    """Something that happened, with the ids that tie it to what caused it."""

    event_id: UUID = Field(
        default_factory=uuid4, description="Unique id; the JetStream Nats-Msg-Id"
    )
    occurred_at: datetime = Field(default_factory=utcnow, description="When it happened (UTC)")
    correlation_id: UUID = Field(description="Id shared by every event of one user request")
    causation_id: UUID | None = Field(None, description="Id of the event that caused this one")

    def caused(self) -> dict[str, UUID]:
        """Envelope fields for an event caused by this one."""
        return {"correlation_id": self.correlation_id, "causation_id": self.event_id}

    @classmethod
    def first(cls, **fields: object) -> Self:
        """Build the first event of a new correlation (its own id is the correlation id)."""
        event_id = uuid4()
        return cls(event_id=event_id, correlation_id=event_id, **fields)
