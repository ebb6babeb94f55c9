"""Hostile frames for every protocol: hypothesis strategies shared by `make test` and `make chaos`.

Each protocol's strategy mixes frames a real client would send with the same frames bent out of
shape: wrong types, garbage and truncated JSON, deep nesting (CPython's decoder raises
RecursionError, not ValueError, past ~1000 levels), numbers of more than 4,300 digits (a
ValueError inside `json.loads`), NaN and Infinity (which `json.loads` accepts), lone surrogates
(`"\\ud800"` decodes to a str that cannot be encoded back to UTF-8), NUL characters, SQL-looking
and path-traversal strings, other projects' ids, very long strings and invalid UTF-8 in binary
frames. A frame is `str` (a text frame) or `bytes` (a binary frame); RSVP gets query strings.

`corpus(strategy, n)` draws `n` examples once (hypothesis is a few ms per example), and
`stream(corpus, count, seed)` stretches a corpus to any count with cheap byte-level mutations, so
a chaos run can send 100,000 frames per protocol without waiting on the generator.
"""

import json
import random
from base64 import b64encode
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from .hostile import HUGE_INTS, encoded, garbage, hostile_strings, json_values
from .hostile import MAX_QUERY as MAX_QUERY
from .hostile import Frame as Frame


def _frames(shaped: st.SearchStrategy[Any]) -> st.SearchStrategy[Frame]:
    return st.one_of(encoded(shaped), encoded(shaped), encoded(shaped), garbage())


# --- XPARO command API -------------------------------------------------------------------------

XPARO_COMMANDS = (
    "initialize_api",
    "save_aiml",
    "ask_bot",
    "ask_bot_api",
    "xparo_sync_config",
    "xparo_get_schedule",
    "xparo_schedule_control",
    "xparo_delete_schedule_control",
    "ADD_robots_info",
    "ROBOT_HEARTBEAT",
    "ADD_Logs_history_database",
    "UPDATE_Logs_history_database",
    "ADD_Task_history_database",
    "TASK_RESULT",
)


def xparo_frames(other_ids: Sequence[str] = ()) -> st.SearchStrategy[Frame]:
    """XPARO command frames: objects of commands with well-shaped and hostile values."""
    text = hostile_strings(other_ids)
    anything = json_values(other_ids)
    names = st.dictionaries(text, st.text(max_size=20), max_size=3)
    value = st.one_of(
        anything,
        st.fixed_dictionaries({"device_id": text}, optional={"hostname": text, "cpu": anything}),
        st.fixed_dictionaries({"question": text, "unique_id": text}, optional={"data": anything}),
        st.fixed_dictionaries({"log_files": names, "id": text | st.integers()}),
        st.fixed_dictionaries({"aiml": text}, optional={"custom_aiml": names, "maps": anything}),
        st.dictionaries(text, st.fixed_dictionaries({"date": text, "time": text}), max_size=2),
        st.fixed_dictionaries(
            {"resources_consuption": st.dictionaries(text, anything, max_size=3)}
        ),
    )
    command = st.one_of(st.sampled_from(XPARO_COMMANDS), st.sampled_from(XPARO_COMMANDS), text)
    return _frames(st.one_of(st.dictionaries(command, value, min_size=1, max_size=3), anything))


# --- XPARO typed API ---------------------------------------------------------------------------

TYPED_TYPES = ("chat", "telemetry", "pong", "ack", "ping", "error", "chat_response")


def typed_frames(other_ids: Sequence[str] = ()) -> st.SearchStrategy[Frame]:
    """Typed frames `{"type", "data"}`: chat, telemetry (odd metrics and numbers), ack, junk."""
    text = hostile_strings(other_ids)
    anything = json_values(other_ids)
    number = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(HUGE_INTS), anything
    )
    data = st.one_of(
        anything,
        st.fixed_dictionaries({"message": text}, optional={"robot_id": text}),
        st.dictionaries(st.sampled_from(["cpu_usage", "battery_v"]) | text, number, max_size=5),
        st.fixed_dictionaries({"command_id": st.uuids().map(str) | text}),
    )
    kind = st.one_of(st.sampled_from(TYPED_TYPES), st.sampled_from(TYPED_TYPES), text, anything)
    frame = st.fixed_dictionaries({"type": kind}, optional={"data": data, "robot_id": text})
    return _frames(st.one_of(frame, frame, frame, anything))


# --- AIDA Phoenix channels ---------------------------------------------------------------------

AIDA_EVENTS: tuple[str, ...] = ("phx_join", "phx_leave", "heartbeat", "new_session", "put_data")
AIDA_EVENTS += ("delete_session", "utb_msg", "utb_img")


def aida_payloads(secret: str, other_ids: Sequence[str]) -> st.SearchStrategy[Any]:
    """Payloads of AIDA's events, well-shaped or not."""
    text = hostile_strings(other_ids)
    anything = json_values(other_ids)
    session = st.one_of(text, st.uuids().map(str))
    return st.one_of(
        anything,
        st.fixed_dictionaries({"access_token": st.one_of(st.just(secret), text)}),
        st.fixed_dictionaries({}, optional={"data": anything}),
        st.fixed_dictionaries({"session": session, "text": text}),
        st.fixed_dictionaries({"session": session, "image": st.uuids().map(str) | text}),
        st.fixed_dictionaries({"session": session, "data": anything}),
    )


def aida_frames(
    key: UUID, secret: str, *, version: int = 2, other_ids: Sequence[str] = ()
) -> st.SearchStrategy[Frame]:
    """Phoenix frames for bot `key`: V2 arrays (and binary pushes) or V1 objects."""
    text = hostile_strings(other_ids)
    ref = st.one_of(st.none(), st.integers(0, 10**6).map(str), st.integers(), text, st.booleans())
    topic = st.one_of(
        st.just(f"bot:{key}"),
        st.just(f"bot:{key}"),
        st.just("phoenix"),
        st.sampled_from([f"bot:{other}" for other in other_ids] or ["bot:x"]),
        text,
    )
    event = st.one_of(st.sampled_from(AIDA_EVENTS), text)
    payload = aida_payloads(secret, other_ids)
    if version == 2:
        shaped: st.SearchStrategy[Any] = st.tuples(ref, ref, topic, event, payload).map(list)
        pushes = binary_pushes(topic, event)
        return st.one_of(_frames(shaped), _frames(shaped), _frames(shaped), pushes)
    shaped = st.fixed_dictionaries(
        {"topic": topic, "event": event, "payload": payload}, optional={"ref": ref}
    )
    return _frames(shaped)


@st.composite
def binary_pushes(
    draw: st.DrawFn, topic: st.SearchStrategy[str], event: st.SearchStrategy[str]
) -> bytes:
    """Phoenix V2 binary pushes (kind 0, four lengths, fields, payload), some lying about sizes."""
    fields = [draw(st.text(max_size=5)), draw(st.text(max_size=5)), draw(topic), draw(event)]
    raw = [f.encode("utf-8", "surrogatepass")[:255] for f in fields]
    sizes = [len(r) for r in raw]
    if draw(st.booleans()):
        sizes = [draw(st.integers(0, 255)) for _ in sizes]
    kind = draw(st.sampled_from([0, 0, 0, 1, 2, 255]))
    return bytes([kind, *sizes]) + b"".join(raw) + draw(st.binary(max_size=40))


# --- BESSER WebSocket platform -----------------------------------------------------------------

BESSER_ACTIONS: tuple[str, ...] = (
    "user_message",
    "user_voice",
    "user_file",
    "reset",
    "fetch_user_messages",
)
BESSER_ACTIONS += ("user_set_variable", "agent_reply_str")


def besser_frames(other_ids: Sequence[str] = (), *, media: bool = True) -> st.SearchStrategy[Frame]:
    """BESSER frames `{"action", "message", ...}`; `media=False` keeps file and voice frames from
    reaching the media service (their base64 is always broken), for stacks without one."""
    text = hostile_strings(other_ids)
    anything = json_values(other_ids)
    good64 = st.binary(max_size=64).map(lambda b: b64encode(b).decode())
    data = st.one_of(text, good64) if media else text.map(lambda s: s + "!")
    file = st.fixed_dictionaries({"name": text, "type": text, "base64": data})
    message = st.one_of(anything, text, file, file.map(json.dumps), data, anything.map(json.dumps))
    action = st.one_of(st.sampled_from(BESSER_ACTIONS), st.sampled_from(BESSER_ACTIONS), text)
    frame = st.fixed_dictionaries(
        {"action": action}, optional={"message": message, "history": anything}
    )
    return _frames(st.one_of(frame, frame, frame, anything))


# --- RSVP.ai chat API (query strings) ----------------------------------------------------------


@st.composite
def rsvp_queries(draw: st.DrawFn, key: UUID, secret: str, other_ids: Sequence[str] = ()) -> str:
    """Query strings of `GET /<endpoint>/chat`, the parameters well-shaped, hostile or missing;
    some raw, with broken percent-escapes and invalid UTF-8."""
    text = hostile_strings(other_ids)
    choices = {
        "botid": st.one_of(st.just(str(key)), st.sampled_from([*other_ids, "x"]), text),
        "token": st.one_of(st.just(secret), st.just(secret[:-1] + "0"), text),
        "uid": text,
        "q": text,
        "lang": st.one_of(st.sampled_from(["en", "cn"]), text),
        "stage": st.one_of(st.sampled_from(["test", "release"]), text),
        "skillid": text,
    }
    params = {name: draw(value) for name, value in choices.items() if draw(st.booleans())}
    query = urlencode(
        {k: v.encode("utf-8", "surrogatepass") for k, v in params.items()}, quote_via=quote
    )
    tails = ["", "", "", "&q=%ZZ", "&uid=%FF%FE", "&&=&", "&q=" + "%41" * 9000]
    tail = draw(st.sampled_from(tails))
    return (query + tail)[:MAX_QUERY]


# --- drawing many examples fast ----------------------------------------------------------------


def corpus(strategy: st.SearchStrategy[Any], n: int, *, seed: int = 0) -> list[Any]:
    """`n` examples of `strategy` (drawn once; hypothesis's own shrinking is off)."""
    found: list[Any] = []

    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=seed == 0,
    )
    @given(strategy)
    def draw(example: Any) -> None:
        found.append(example)

    random.seed(seed)
    draw()
    return found


def mutate(frame: Frame, rng: random.Random) -> Frame:
    """A cheap byte-level variant of `frame`: a cut, a flipped byte, a doubled span."""
    raw = frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else frame
    if not raw:
        return frame
    at = rng.randrange(len(raw))
    how = rng.randrange(3)
    if how == 0:
        raw = raw[:at]
    elif how == 1:
        raw = raw[:at] + bytes([rng.randrange(256)]) + raw[at + 1 :]
    else:
        raw = raw[:at] + raw[at : at + 64] + raw[at:]
    if isinstance(frame, bytes):
        return raw
    return raw.decode("utf-8", "replace")


def stream(examples: Sequence[Frame], count: int, *, seed: int = 0) -> Iterator[Frame]:
    """`count` frames: the examples in turn, one in four mutated after the first pass."""
    rng = random.Random(seed)
    for n in range(count):
        frame = examples[n % len(examples)]
        yield frame if n < len(examples) or n % 4 else mutate(frame, rng)
