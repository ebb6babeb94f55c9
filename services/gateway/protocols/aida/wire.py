"""The Phoenix channels wire format: V1 JSON objects, V2 JSON arrays, V2 binary pushes.

`join_ref` and `ref` are echoed exactly as the client sent them (phoenix.js compares them with
`===`, so a string must come back a string). Pure functions, no I/O.
"""

import json
from dataclasses import dataclass
from typing import Any, Literal

from ...edge.errors import BadFrame

Version = Literal[1, 2]
Ref = str | int | float | None  # what clients send; echoed verbatim
BINARY_PUSH = 0


@dataclass(frozen=True)
class Message:
    """One channel message, whatever the serializer."""

    topic: str
    event: str
    payload: dict[str, Any] | bytes
    ref: Ref = None
    join_ref: Ref = None


class PhoenixFrameError(BadFrame):
    """A frame that cannot be handled; `ref`, `join_ref`, `topic` are set when they were read."""

    def __init__(self, reason: str, *, ref: Ref = None, join_ref: Ref = None, topic: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.ref = ref
        self.join_ref = join_ref
        self.topic = topic if isinstance(topic, str) else None


@dataclass(frozen=True)
class Serializer:
    """Encodes and decodes one socket's frames (`vsn` 2.x → arrays, else objects)."""

    version: Version

    @classmethod
    def for_vsn(cls, vsn: str | None) -> "Serializer":
        """V2 for `vsn` 2.x; V1 when it is missing or 1.x; ValueError for anything else."""
        major = (vsn or "1.0.0").split(".", 1)[0]
        if major not in ("1", "2"):
            raise ValueError(f"unsupported vsn {vsn!r}")
        return cls(2 if major == "2" else 1)

    def encode(self, msg: Message) -> str:
        """A text frame for `msg` (its payload must be a JSON object)."""
        if self.version == 2:
            frame: Any = [msg.join_ref, msg.ref, msg.topic, msg.event, msg.payload]
        else:
            frame = {"topic": msg.topic, "event": msg.event, "payload": msg.payload, "ref": msg.ref}
        text = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
        try:
            text.encode()
        except UnicodeEncodeError:  # a lone surrogate the client sent as "\ud800" (a ref, a
            return json.dumps(frame, separators=(",", ":"))  # topic) goes back escaped as sent
        return text

    def decode(self, text: str) -> Message:
        """Read a text frame or raise PhoenixFrameError."""
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError) as err:
            raise PhoenixFrameError(f"not JSON: {err}") from err
        if self.version == 2:
            if not isinstance(raw, list) or len(raw) < 5:
                raise PhoenixFrameError("expected [join_ref, ref, topic, event, payload]")
            join_ref, ref, topic, event, payload = raw[:5]
        else:
            if not isinstance(raw, dict) or not {"topic", "event", "payload"} <= raw.keys():
                raise PhoenixFrameError("expected an object with topic, event, payload and ref")
            join_ref, ref = raw.get("join_ref"), raw.get("ref")
            topic, event, payload = raw["topic"], raw["event"], raw["payload"]
        return _checked(join_ref, ref, topic, event, payload)

    def decode_binary(self, data: bytes) -> Message:
        """Read a V2 binary push (kind 0) or raise PhoenixFrameError."""
        if self.version != 2:
            raise PhoenixFrameError("binary frames need vsn 2.0.0")
        if len(data) < 5 or data[0] != BINARY_PUSH:
            raise PhoenixFrameError("binary frames must be pushes (kind 0)")
        sizes = data[1:5]
        fields, at = [], 5
        for size in sizes:
            if at + size > len(data):
                raise PhoenixFrameError("binary frame shorter than its header says")
            try:
                fields.append(data[at : at + size].decode("utf-8"))
            except UnicodeDecodeError as err:
                raise PhoenixFrameError("binary frame header is not UTF-8") from err
            at += size
        join_ref, ref, topic, event = fields
        return _checked(join_ref or None, ref or None, topic, event, bytes(data[at:]))


def _checked(join_ref: Any, ref: Any, topic: Any, event: Any, payload: Any) -> Message:
    for value in (join_ref, ref):
        if not isinstance(value, str | int | float | type(None)) or isinstance(value, bool):
            raise PhoenixFrameError("join_ref and ref must be strings or null")
    if not isinstance(topic, str) or not isinstance(event, str) or not topic or not event:
        raise PhoenixFrameError(
            "topic and event must be non-empty strings", ref=ref, join_ref=join_ref
        )
    if not isinstance(payload, dict | bytes):
        raise PhoenixFrameError(
            "payload must be an object", ref=ref, join_ref=join_ref, topic=topic
        )
    return Message(topic=topic, event=event, payload=payload, ref=ref, join_ref=join_ref)


def reply(msg: Message, status: Literal["ok", "error"], response: dict[str, Any]) -> Message:
    """The phx_reply to `msg` (same join_ref and ref)."""
    return Message(
        topic=msg.topic,
        event="phx_reply",
        payload={"status": status, "response": response},
        ref=msg.ref,
        join_ref=msg.join_ref,
    )


def push(topic: str, event: str, payload: dict[str, Any]) -> Message:
    """A server-initiated message: ref and join_ref null, as Phoenix 1.3 and broadcasts send."""
    return Message(topic=topic, event=event, payload=payload)


def close(topic: str, join_ref: Ref) -> Message:
    """`phx_close` for a join that ended (ref = join_ref, as Phoenix sends it)."""
    return Message(topic=topic, event="phx_close", payload={}, ref=join_ref, join_ref=join_ref)


def unmatched(msg: Message) -> Message:
    """Phoenix's answer to an event for a topic the socket has not joined (join_ref null)."""
    refused = reply(msg, "error", {"reason": "unmatched topic"})
    return Message(refused.topic, refused.event, refused.payload, ref=msg.ref)


def refusal(err: PhoenixFrameError) -> Message:
    """The error reply to a frame that was read only in part (its ref is known)."""
    return Message(
        topic=err.topic or "phoenix",
        event="phx_reply",
        payload={"status": "error", "response": {"reason": err.reason}},
        ref=err.ref,
        join_ref=err.join_ref,
    )
