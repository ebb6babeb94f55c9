"""Conditions as data: a small expression language for state machine transitions, parsed by
hand and evaluated over plain values, never with Python's `eval` (what a user says only ever
becomes a value, never code).

    vars.age >= 18 and not (intent == "cancel")
    message startswith "order" or message matches "^[0-9]{4}$"
    event.action == "onSubmit" and event.value.qty > 0
    weekday in ["sat", "sun"] or time >= "18:00"

Names: `message`, `intent`, `score`, `params.<name>`, `vars.<name>`, `event.<field>`,
`file.<name|type>`, `time` ("HH:MM"), `hour`, `minute`, `weekday` ("mon".."sun"), `date`
("YYYY-MM-DD"). A missing value is `null`. Comparisons are numeric when both sides are numbers
(or numeric text), else textual; `<` and friends on anything else are false, never an error.
Every error says where in the expression it is (`Invalid.position`, 0-based).
"""

from .syntax import (
    COMPARE,
    FUNCTION_NAMES,
    MAX_DEPTH,
    MAX_LENGTH,
    NAMES,
    WORD_OPS,
    Invalid,
    Node,
    Token,
    names,
    parse,
)
from .values import (
    FUNCTIONS,
    MATCH_INPUT,
    MATCH_TIMEOUT_S,
    evaluate,
    holds,
    number,
    satisfied,
    text,
    truthy,
)

__all__ = [
    "COMPARE",
    "FUNCTIONS",
    "FUNCTION_NAMES",
    "MATCH_INPUT",
    "MATCH_TIMEOUT_S",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "NAMES",
    "WORD_OPS",
    "Invalid",
    "Node",
    "Token",
    "evaluate",
    "holds",
    "names",
    "number",
    "parse",
    "satisfied",
    "text",
    "truthy",
]
