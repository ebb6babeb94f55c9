"""BESSER's frames (reference/besser.md §2): the envelope, how each reply part is encoded, and
what a client frame may hold. Pure functions; BesserFrameError says what is wrong with a frame."""

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.contracts.chat import (
    AudioPart,
    ChartPart,
    FilePart,
    FormPart,
    ImagePart,
    LocationPart,
    OptionsPart,
    Part,
    RagPart,
    TablePart,
    TextPart,
)
from shared.contracts.session import HistoryTurn

from ...edge.errors import BadFrame

ACTIONS = (
    "user_message",
    "user_voice",
    "user_file",
    "reset",
    "fetch_user_messages",
    "user_set_variable",
    "agent_reply_str",
    "user_gui_event",
)
GUI_ACTIONS = ("onClick", "onChange", "onSubmit")
GUI_KEYS = ("elementId", "action", "messageId", "name", "value")
MAX_GUI_EVENT = 65536


class BesserFrameError(BadFrame):
    """A client frame that is answered with an error frame (the socket stays open)."""


def timestamp(at: datetime) -> str:
    """BESSER's timestamp: the server's local time, `YYYY-MM-DD HH:MM:SS`."""
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def envelope(
    action: str, message: Any, *, at: datetime, history: bool = False, message_id: str | None
) -> dict[str, Any]:
    """One server frame, with BAF 4.5's five keys."""
    return {
        "action": action,
        "message": message,
        "history": history,
        "timestamp": timestamp(at),
        "message_id": message_id,
    }


def error_frame(reason: str, *, at: datetime) -> dict[str, Any]:
    """A refusal as BAF's UIs show it: an `agent_reply_str` saying what went wrong (an unknown
    action such as `error` would be dropped by their decoder and the user would see nothing),
    with the reason again under `error`, a key BAF's clients ignore, for programs to test."""
    frame = envelope("agent_reply_str", f"Error: {reason}", at=at, message_id=None)
    frame["error"] = reason
    return frame


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encode_part(part: Part) -> tuple[str, Any]:
    """The action and message of one reply part, as BESSER's reply_* methods encode them."""
    if isinstance(part, TextPart):
        return f"agent_reply_{part.kind}", part.text
    if isinstance(part, OptionsPart):  # json.dumps({i: option}): a JSON string, keys "0", "1"...
        return "agent_reply_options", json.dumps({str(n): o for n, o in enumerate(part.options)})
    if isinstance(part, TablePart):  # df.to_json(): orient=columns, row labels "0", "1"...
        table = {c: {str(n): v for n, v in enumerate(vs)} for c, vs in part.columns.items()}
        return "agent_reply_dataframe", _compact(table)
    if isinstance(part, ChartPart):  # plotly.io.to_json(fig)
        return "agent_reply_plotly", _compact(part.figure)
    if isinstance(part, ImagePart):
        return "agent_reply_image", part.base64
    if isinstance(part, FilePart):
        return "agent_reply_file", {"name": part.name, "type": part.type, "base64": part.base64}
    if isinstance(part, LocationPart):
        return "agent_reply_location", {"latitude": part.latitude, "longitude": part.longitude}
    if isinstance(part, RagPart):  # RAGMessage: docs are langchain Documents (content, metadata)
        docs = [
            {"content": d.content, "metadata": {"source": d.source, "page": d.page}}
            for d in part.docs
        ]
        return "agent_reply_rag", {
            "llm_name": part.llm_name,
            "question": part.question,
            "answer": part.answer,
            "docs": docs,
        }
    if isinstance(part, AudioPart):  # reply_speech: the raw numpy array, its dtype and shape
        samples = len(base64.b64decode(part.base64)) // 4
        metadata = {"sample_rate": part.sample_rate, "dtype": "float32", "shape": [samples]}
        return "agent_reply_audio", {"audio_data_base64": part.base64, "metadata": metadata}
    if isinstance(part, FormPart):  # ours: BESSER's UIs drop it; its submission is a GUI event
        return "agent_reply_form", part.model_dump(exclude={"kind"}, exclude_none=True)
    raise TypeError(f"no BESSER encoding for {part!r}")


def reply_frames(
    parts: list[Part], text: str, *, at: datetime, reply_id: UUID, history: bool = False
) -> list[dict[str, Any]]:
    """The frames of one answer: one per part, or its text alone (an AIML/FAQ/NLU answer)."""
    parts = [p for p in parts if not (isinstance(p, AudioPart) and not p.base64)]  # unsaid
    if not parts:
        parts = [TextPart(kind="str", text=text)] if text else []
    frames = []
    for n, part in enumerate(parts):
        action, message = encode_part(part)
        message_id = f"{reply_id}" if n == 0 else f"{reply_id}.{n}"
        frames.append(envelope(action, message, at=at, history=history, message_id=message_id))
    return frames


def history_frames(turn: HistoryTurn) -> list[dict[str, Any]]:
    """A stored turn replayed: the user's side (as the client sent it), then the bot's."""
    frames = []
    if turn.event in ("text", "json"):
        frames.append(
            envelope(
                "user_message", turn.question, at=turn.received_at, history=True, message_id=None
            )
        )
    elif turn.event == "file" and turn.file is not None:
        message = json.dumps({"name": turn.file.name, "type": turn.file.type})
        frames.append(
            envelope("user_file", message, at=turn.received_at, history=True, message_id=None)
        )
    if turn.engine != "none":
        frames += reply_frames(
            turn.parts, turn.answer, at=turn.answered_at, reply_id=turn.reply_event_id, history=True
        )
    return frames


def parse_frame(text: str) -> tuple[str, Any]:
    """The action and message of a client frame; BesserFrameError says what is wrong with it."""
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise BesserFrameError(f"a frame is a JSON object: {err}") from err
    if not isinstance(frame, dict) or not isinstance(frame.get("action"), str):
        raise BesserFrameError('a frame is a JSON object with an "action"')
    action = frame["action"]
    if action not in ACTIONS:
        raise BesserFrameError(f"unknown action {action[:64]!r}; known: {', '.join(ACTIONS)}")
    if "message" not in frame:
        raise BesserFrameError(f'{action} needs a "message" (null is fine)')
    return action, frame["message"]


def json_object(message: Any) -> dict[str, Any] | None:
    """The JSON object a user_message carries (an object, or a string holding one), else None."""
    if isinstance(message, dict):
        return message
    if isinstance(message, str) and message.lstrip().startswith("{"):
        try:
            found = json.loads(message)
        except (ValueError, RecursionError):
            return None
        return found if isinstance(found, dict) else None
    return None


def gui_event(message: Any) -> dict[str, Any]:
    """A user_gui_event's payload (BAF 4.5's GUIEvent: an object, or a JSON string of one):
    `elementId`, `action` (onClick, onChange, onSubmit), `messageId`, `name`, `value`."""
    found = json_object(message)
    if found is None:
        raise BesserFrameError('user_gui_event needs {"elementId", "action", ...} (a JSON object)')
    element, action = found.get("elementId"), found.get("action")
    if not isinstance(element, str) or not element or len(element) > 256:
        raise BesserFrameError("user_gui_event needs an elementId (1 to 256 characters)")
    if action not in GUI_ACTIONS:
        raise BesserFrameError(f"user_gui_event's action is one of {', '.join(GUI_ACTIONS)}")
    payload = {key: found[key] for key in GUI_KEYS if key in found}
    if len(_compact(payload)) > MAX_GUI_EVENT:
        raise BesserFrameError(f"user_gui_event is at most {MAX_GUI_EVENT} characters of JSON")
    return payload


def decode_base64(value: Any, what: str) -> bytes:
    """Bytes of a base64 string (a `data:...;base64,` prefix is allowed); BesserFrameError if
    not."""
    if not isinstance(value, str) or not value:
        raise BesserFrameError(f"{what} must be a non-empty base64 string")
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise BesserFrameError(f"{what} is not valid base64") from err


def file_message(message: Any) -> tuple[str, str, bytes]:
    """Name, declared type and bytes of a user_file (a JSON string, or an object)."""
    found = json.loads(message) if isinstance(message, str) and message.strip() else message
    if not isinstance(found, dict):
        raise BesserFrameError('user_file needs {"name", "type", "base64"} (a JSON string)')
    name, kind = found.get("name"), found.get("type")
    if not isinstance(name, str) or not name or not isinstance(kind, str) or not kind:
        raise BesserFrameError('user_file needs a non-empty "name" and "type"')
    return name[:255], kind[:255], decode_base64(found.get("base64"), "the file's base64")
