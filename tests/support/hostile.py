"""Hostile values and frames that belong to no protocol: SQL-looking and path-traversal strings,
odd characters, huge numbers, JSON nested past the decoder's limit, frames bent out of shape
(truncated, binary, invalid UTF-8, too many digits) and garbage. fuzz.py builds each protocol's
frames from them; test_refusal_shapes.py uses them on HTTP routes."""

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

Frame = str | bytes

SQL = (
    "'; DROP TABLE identity.projects; --",
    "1 OR 1=1",
    '" OR ""="',
    "'); DELETE FROM dialog.transcripts; --",
    "%' UNION SELECT secret_hash FROM identity.projects --",
    "\\'; SELECT pg_sleep(10); --",
)
TRAVERSAL = (
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "....//....//etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..",
    ".hidden",
    "a/../../b",
    "file:///etc/passwd",
)
ODD: tuple[str, ...] = ("", " ", "\x00", "a\x00b", "\ud800", "\udfff x", "*", ">", "a.b")
ODD += ("chat.turn.>", "$SYS.>", "<script>alert(1)</script>", "${jndi:ldap://x/a}", "{{7*7}}")
ODD += ("\u202e\u0000\ufeff",)
HUGE_INTS = (2**63, -(2**63) - 1, 2**64, 10**300, -(10**300))
DEPTHS = (64, 500, 900, 990, 1000, 5000, 100_000)
MAX_QUERY = 60_000  # HTTP clients refuse longer URLs (httpx: 65,536)


def hostile_strings(other_ids: Sequence[str] = ()) -> st.SearchStrategy[str]:
    """Short text, known-bad strings, other projects' ids and very long strings."""
    known = st.sampled_from([*SQL, *TRAVERSAL, *ODD, *other_ids])
    long = st.sampled_from([1_000, 65_537, 300_000]).map(lambda n: "A" * n)
    return st.one_of(st.text(max_size=40), known, known, st.uuids().map(str), long)


def json_values(other_ids: Sequence[str] = ()) -> st.SearchStrategy[Any]:
    """Any JSON value, with hostile leaves (huge and non-finite numbers included)."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**40), 2**40),
        st.sampled_from(HUGE_INTS),
        st.floats(allow_nan=True, allow_infinity=True),
        hostile_strings(other_ids),
    )
    keys = st.one_of(st.text(max_size=12), st.sampled_from([*SQL[:2], *TRAVERSAL[:3], *ODD[:5]]))
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=12,
    )


def nested(depth: int, leaf: str = "1") -> str:
    """`depth` nested arrays around `leaf`, as JSON text."""
    return "[" * depth + leaf + "]" * depth


def _dump(value: Any, compact: bool) -> str:
    return json.dumps(value, ensure_ascii=compact, separators=(",", ":") if compact else None)


def deep_inside(value: Any, depth: int) -> str:
    """`value` as JSON with its first member (or itself) wrapped in `depth` arrays."""
    mark = "\x01deep\x01"
    shell: Any
    if isinstance(value, dict) and value:
        first = next(iter(value))
        shell, inner = {**value, first: mark}, value[first]
    elif isinstance(value, list) and value:
        shell, inner = [mark, *value[1:]], value[0]
    else:
        return nested(depth, json.dumps(value))
    return json.dumps(shell).replace(json.dumps(mark), nested(depth, json.dumps(inner)), 1)


def sendable(frame: Frame) -> Frame:
    """`frame`, or its bytes when it holds a raw lone surrogate (no UTF-8 text frame can)."""
    if isinstance(frame, str):
        try:
            frame.encode()
        except UnicodeEncodeError:
            return frame.encode("utf-8", "surrogatepass")
    return frame


def encoded(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Frame]:
    """`value` as a frame: JSON text (sometimes truncated or bent), or as a binary frame."""
    return _bent(value).map(sendable)


@st.composite
def _bent(draw: st.DrawFn, value: st.SearchStrategy[Any]) -> Frame:
    drawn = draw(value)
    text = _dump(drawn, draw(st.booleans()))
    how = draw(st.sampled_from(["text"] * 6 + ["truncate", "bytes", "bad-utf8", "nest", "digits"]))
    if how == "truncate":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    if how == "bytes":
        return text.encode("utf-8", "surrogatepass")
    if how == "bad-utf8":
        return b"\xff\xfe" + text.encode("utf-8", "surrogatepass") + b"\xc3\x28\xa0\xa1"
    if how == "nest":  # a valid frame whose first value is deep
        return deep_inside(drawn, draw(st.sampled_from(DEPTHS[:4])))
    if how == "digits":  # a number past int()'s 4,300-digit limit
        return text.replace(":", ":" + "9" * 5000 + ',"x":', 1) if ":" in text else "9" * 5000
    return text


def garbage() -> st.SearchStrategy[Frame]:
    """Frames that are not JSON, or JSON too deep or too big to decode."""
    return st.one_of(
        st.text(max_size=60).map(sendable),
        st.binary(max_size=60),
        st.sampled_from(DEPTHS).map(lambda d: "[" * d),
        st.sampled_from(DEPTHS).map(nested),
        st.sampled_from(DEPTHS).map(lambda d: '{"a":' * d + "1" + "}" * d),
        st.sampled_from(["9" * 5000, "-" + "1" * 4301, "1e999999", "NaN", "-Infinity"]),
        st.sampled_from(['"\\ud800"', '{"a":"\\udc00"}', "\ufeff{}", "{}", "[]", "null", "\x00"]),
    )
