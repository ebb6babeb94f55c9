"""RSVP.ai's chat API on the wire: the query a caller sends and the JSON it gets back.

`GET /<endpoint>/chat?botid&token&uid&q&lang&skillid&stage` answers
`{"params": {...}, "stage": [DialogStage...], "status": 0, "topic": ...}`; failures answer
`status: -1` with a readable `message` and an empty `stage`, which RSVP's callers (they say each
`stage[].message`) turn into silence rather than a crash.
"""

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from starlette.datastructures import QueryParams
from starlette.responses import Response

from shared import subjects
from shared.contracts import TurnAnswered
from shared.contracts.knowledge import FaqMatch, IntentMatch, Lang, SlotValue, Stage

from ...edge.errors import GatewayError

MEDIA_TYPE = "application/json;charset=utf-8"
TOPICS = {"faq": "faq", "nlu": "nlu_skill", "aiml": "aiml", "fallback": "fallback"}
MAX_UID = 256
MAX_QUESTION = 65536


class RsvpError(GatewayError):
    """A request RSVP's API refuses: `status` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ChatQuery:
    """A checked chat request."""

    botid: UUID | None
    token: str
    uid: str
    q: str
    lang: Lang
    stage: Stage
    skillid: str | None

    @property
    def session_id(self) -> str:
        """The dialog session of `uid`: itself when it is a subject-safe id, else a digest of
        it (so any uid a caller uses, e.g. `@3f…` or an e-mail, keeps its own state)."""
        return subjects.session_key(self.uid, prefix="uid-")


def parse_query(params: QueryParams) -> ChatQuery:
    """The request's parameters, checked; RsvpError(400) names the first bad one."""
    token = _required(params, "token", 256)
    uid = _required(params, "uid", MAX_UID)
    q = _required(params, "q", MAX_QUESTION)
    lang = params.get("lang") or "en"
    if lang not in ("en", "cn"):
        raise RsvpError(400, f'lang must be "en" or "cn", not {lang[:20]!r}')
    stage = params.get("stage") or "test"
    if stage not in ("test", "release"):
        raise RsvpError(400, f'stage must be "test" or "release", not {stage[:20]!r}')
    skillid = params.get("skillid") or None
    if skillid is not None and len(skillid) > 100:
        raise RsvpError(400, "skillid is longer than 100 characters")
    botid = params.get("botid") or ""
    try:
        bot = UUID(botid) if botid else None
    except ValueError:
        raise RsvpError(404, f"no bot {botid[:64]!r}") from None
    return ChatQuery(bot, token, uid, q, lang, stage, skillid)  # type: ignore[arg-type]


def _required(params: QueryParams, name: str, limit: int) -> str:
    value = params.get(name)
    if value is None or not value.strip():
        raise RsvpError(400, f"{name} is required")
    if len(value) > limit:
        raise RsvpError(400, f"{name} is longer than {limit} characters")
    return value


def answer_body(reply: TurnAnswered, *, skillid: str | None) -> dict[str, Any]:
    """A reply in RSVP's success shape: what was said to the session since its previous turn
    (an operator, a schedule), then the answer. An answer of no engine (an operator holds the
    session) adds nothing: `stage` is what the operator said, or empty, under topic
    "operator"."""
    said = [{"message": text} for text in reply.said_before]
    skill = skillid or ""
    params: dict[str, Any] = {"skillId": skill, "tid": str(reply.turn_event_id)}
    if reply.engine == "none":
        return {"params": params, "stage": said, "status": 0, "topic": "operator"}
    element: dict[str, Any] = {"message": reply.text}
    for name in ("url", "image", "action"):
        if (value := getattr(reply, name)) is not None:
            element[name] = value
    if reply.faq is not None:
        element["props"] = {"faq_info": _faq_info(reply.faq)}
        params["skillId"] = skill or reply.faq.skillname
    if reply.intent is not None:
        params |= _intent_params(reply.intent)
        params["skillId"] = skill or reply.intent.skill
    topic = TOPICS.get(reply.engine, reply.engine)  # machine: no RSVP name
    return {"params": params, "stage": [*said, element], "status": 0, "topic": topic}


def failure_body(message: str) -> dict[str, Any]:
    """RSVP's failure shape: status -1 and why."""
    return {"params": {}, "stage": [], "status": -1, "topic": "error", "message": message}


def respond(body: dict[str, Any], status: int = 200) -> Response:
    """JSON as RSVP sends it: UTF-8 text (Chinese unescaped), `application/json;charset=utf-8`."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text.encode(), status_code=status, media_type=MEDIA_TYPE)


def _faq_info(match: FaqMatch) -> dict[str, Any]:
    candidates = [
        {
            "score": round(c.score, 7),
            "gid": c.gid,
            "groupBusinessId": "",
            "question": c.question,
            "answer": c.answer,
            "skillname": c.skillname,
            "labels": c.labels,
        }
        for c in match.candidates
    ]
    return {
        "candidates": candidates,
        "skillname": match.skillname,
        "gid": match.gid,
        "groupBusinessId": "",
        "labels": match.labels,
    }


def _intent_params(intent: IntentMatch) -> dict[str, Any]:
    candidates = [
        {
            "sentence": c.sentence,
            "skillid": c.skill,
            "score": round(c.score, 7),
            "name": c.name,
            "intentid": c.intent_id,
            "fulfillment": c.fulfillment,
            "done": c.done,
            "slotProperties": _slots(c.slots),
        }
        for c in intent.candidates
    ]
    return {
        "intentName": intent.name,
        "intentSlots": _slots(intent.slots),
        "nluSkillId": intent.skill,
        "intentCandidates": candidates,
    }


def _slots(slots: dict[str, list[SlotValue]]) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [{"slotType": v.slot_type, "value": v.value, "key": v.key} for v in values]
        for name, values in slots.items()
    }
