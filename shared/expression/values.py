"""Evaluating a parsed condition over plain values: it never raises for any data (a missing
value is None, a comparison that makes no sense is false) and never runs user text as code."""

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import regex

from .syntax import FUNCTION_NAMES, Node

MATCH_TIMEOUT_S = 0.05  # a pattern that backtracks without end is stopped, and does not match
MATCH_INPUT = 10_000  # characters of a value a pattern is tried on


def evaluate(node: Node, context: Mapping[str, Any]) -> Any:
    """The value of `node` with its names read from `context` (never raises for any data)."""
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "name":
        return context.get(node[1])
    if kind == "get":
        return _get(evaluate(node[1], context), evaluate(node[2], context))
    if kind == "list":
        return [evaluate(item, context) for item in node[1]]
    if kind == "call":
        return FUNCTIONS[node[1]](evaluate(node[2], context))
    if kind == "not":
        return not truthy(evaluate(node[1], context))
    if kind == "and":
        return truthy(evaluate(node[1], context)) and truthy(evaluate(node[2], context))
    if kind == "or":
        return truthy(evaluate(node[1], context)) or truthy(evaluate(node[2], context))
    return holds(node[1], evaluate(node[2], context), evaluate(node[3], context))


def satisfied(node: Node, context: Mapping[str, Any]) -> bool:
    """Whether the condition `node` holds in `context`."""
    return truthy(evaluate(node, context))


def truthy(value: Any) -> bool:
    return value not in (None, False, "", 0) and value != [] and value != {}


def _get(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping):
        return value.get(key if isinstance(key, str) else text(key))
    if isinstance(value, list) and isinstance(key, int) and not isinstance(key, bool):
        return value[key] if -len(value) <= key < len(value) else None
    return None


def holds(op: str, left: Any, right: Any) -> Any:
    """`left op right` (numbers numerically, numeric text too; else as text)."""
    if op == "in":
        return _contains(right, left)
    if op == "contains":
        return _contains(left, right)
    if op == "startswith":
        return left is not None and text(left).startswith(text(right))
    if op == "endswith":
        return left is not None and text(left).endswith(text(right))
    if op == "matches":
        return _matches(right, left)
    a, b = number(left), number(right)
    if a is not None and b is not None:
        return _ORDER[op](a, b)
    if op in ("==", "!="):
        same = (left is None and right is None) or (
            left is not None and right is not None and text(left) == text(right)
        )
        return same if op == "==" else not same
    return isinstance(left, str) and isinstance(right, str) and _ORDER[op](left, right)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, list):
        return any(holds("==", member, item) for member in container)
    if isinstance(container, Mapping):
        return text(item) in container
    if isinstance(container, str):
        return item is not None and text(item) in container
    return False


def _matches(pattern: Any, value: Any) -> bool:
    if value is None or not isinstance(pattern, regex.Pattern):
        return False
    try:
        return pattern.search(text(value)[:MATCH_INPUT], timeout=MATCH_TIMEOUT_S) is not None
    except TimeoutError:
        return False


def number(value: Any) -> float | None:
    """`value` as a finite number, if it is one (or numeric text)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        found = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        return None
    return found if math.isfinite(found) else None


def text(value: Any) -> str:
    """`value` as text (JSON's spelling for true, false, lists and objects)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list | dict) else len(text(value))


FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "lower": lambda value: text(value).lower(),
    "upper": lambda value: text(value).upper(),
    "trim": lambda value: text(value).strip(),
    "len": _length,
    "number": number,
}
if FUNCTIONS.keys() != FUNCTION_NAMES:  # the parser accepts exactly these calls
    raise RuntimeError("shared.expression: FUNCTIONS and FUNCTION_NAMES differ")
