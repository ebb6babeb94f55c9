"""Reading a condition: tokens, a hand-written recursive-descent parser, and the tree it
makes (`Node`); `Invalid` says what is wrong and where (0-based `position`)."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex

MAX_LENGTH = 2000
MAX_DEPTH = 32
NAMES = (
    "message",
    "intent",
    "score",
    "params",
    "vars",
    "event",
    "file",
    "time",
    "hour",
    "minute",
    "weekday",
    "date",
)
COMPARE = ("==", "!=", "<=", ">=", "<", ">")
WORD_OPS = ("in", "contains", "startswith", "endswith", "matches")
FUNCTION_NAMES = frozenset({"lower", "upper", "trim", "len", "number"})
"""The functions a condition may call (what each does: shared.expression.values.FUNCTIONS)."""
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>-?\d+(?:\.\d+)?)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\.)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.X,
)


class Invalid(ValueError):
    """An expression that does not parse; `position` is where (0-based) in it."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.reason = message
        self.position = position


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, op, word, end
    text: str
    position: int


Node = tuple[Any, ...]
"""("lit", value) | ("name", root) | ("get", node, key node) | ("list", [nodes]) |
("call", function, node) | ("not", node) | ("and"/"or", left, right) | ("op", op, left, right)."""


def _tokens(source: str) -> list[Token]:
    tokens: list[Token] = []
    at = 0
    while at < len(source):
        if source[at:].strip() == "":
            break
        found = _TOKEN.match(source, at)
        if found is None or found.lastgroup is None:
            start = at + len(source[at:]) - len(source[at:].lstrip())
            raise Invalid(f"unexpected {source[start]!r}", start)
        kind = found.lastgroup
        tokens.append(Token(kind, found.group(kind), found.start(kind)))
        at = found.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokens(source)
        self.at = 0
        self.depth = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def is_word(self, *words: str) -> bool:
        return self.peek.kind == "word" and self.peek.text in words

    def expect(self, text: str) -> Token:
        token = self.take()
        if token.text != text or token.kind not in ("op", "word"):
            raise Invalid(f"expected {text!r}, found {_shown(token)}", token.position)
        return token

    def parse(self) -> Node:
        node = self.disjunction()
        if self.peek.kind != "end":
            raise Invalid(f"unexpected {_shown(self.peek)}", self.peek.position)
        return node

    def nested(self, parse: Callable[[], Node]) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Invalid(f"nested more than {MAX_DEPTH} levels deep", self.peek.position)
        try:
            return parse()
        finally:
            self.depth -= 1

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.is_word("or"):
            self.take()
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.is_word("and"):
            self.take()
            node = ("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.is_word("not"):
            self.take()
            return ("not", self.nested(self.negation))
        return self.comparison()

    def comparison(self) -> Node:
        left = self.value()
        token = self.peek
        if token.kind == "op" and token.text in COMPARE:
            self.take()
            return ("op", token.text, left, self.value())
        if self.is_word("not") and self.tokens[self.at + 1].text == "in":
            self.at += 2
            return ("not", ("op", "in", left, self.value()))
        if self.is_word(*WORD_OPS):
            self.take()
            right = self.value()
            if token.text == "matches":
                right = ("lit", _pattern(right, self.tokens[self.at - 1]))
            return ("op", token.text, left, right)
        return left

    def value(self) -> Node:
        return self.nested(self._value)

    def _value(self) -> Node:
        token = self.take()
        if token.kind == "number":
            number = float(token.text)
            return ("lit", int(number) if number.is_integer() and "." not in token.text else number)
        if token.kind == "string":
            return ("lit", _unquote(token))
        if token.text == "(" and token.kind == "op":
            node = self.disjunction()
            self.expect(")")
            return node
        if token.text == "[" and token.kind == "op":
            return self.items()
        if token.kind == "word":
            return self.named(token)
        raise Invalid(f"expected a value, found {_shown(token)}", token.position)

    def items(self) -> Node:
        items: list[Node] = []
        while not (self.peek.kind == "op" and self.peek.text == "]"):
            items.append(self.value())
            if self.peek.text != ",":
                break
            self.take()
        self.expect("]")
        return ("list", items)

    def named(self, token: Token) -> Node:
        constants = {"true": True, "false": False, "null": None}
        if token.text in constants:
            return ("lit", constants[token.text])
        if token.text in FUNCTION_NAMES and self.peek.text == "(":
            self.take()
            argument = self.disjunction()
            self.expect(")")
            return ("call", token.text, argument)
        if token.text not in NAMES:
            known = ", ".join(NAMES)
            raise Invalid(f"unknown name {token.text!r} (known: {known})", token.position)
        node: Node = ("name", token.text)
        while self.peek.kind == "op" and self.peek.text in (".", "["):
            if self.take().text == ".":
                key = self.take()
                if key.kind != "word":
                    raise Invalid(f"expected a name after '.', found {_shown(key)}", key.position)
                node = ("get", node, ("lit", key.text))
            else:
                node = ("get", node, self.disjunction())
                self.expect("]")
        return node


def _shown(token: Token) -> str:
    return "the end" if token.kind == "end" else repr(token.text)


def _unquote(token: Token) -> str:
    quoted = token.text
    if quoted.startswith("'"):  # as JSON: \' is ', a bare " is escaped
        body = _SINGLE.sub(lambda m: _requoted(m[1]), quoted[1:-1])
        quoted = f'"{body}"'
    try:
        return str(json.loads(quoted))
    except ValueError:
        raise Invalid("a bad escape in this string", token.position) from None


_SINGLE = re.compile(r'\\(.)|"', re.S)


def _requoted(escaped: str | None) -> str:
    if escaped is None:
        return '\\"'
    return "'" if escaped == "'" else "\\" + escaped


def _pattern(node: Node, token: Token) -> "regex.Pattern[str]":
    if node[0] != "lit" or not isinstance(node[1], str):
        raise Invalid("matches takes a quoted pattern", token.position)
    try:
        return regex.compile(node[1])
    except regex.error as err:
        raise Invalid(f"not a valid pattern: {err}", token.position) from None


def parse(source: str) -> Node:
    """The expression `source` as a tree; Invalid says what is wrong and where."""
    if len(source) > MAX_LENGTH:
        raise Invalid(f"longer than {MAX_LENGTH} characters", MAX_LENGTH)
    if not source.strip():
        raise Invalid("empty", 0)
    return _Parser(source).parse()


def names(node: Node) -> set[tuple[str, str | None]]:
    """The (root, first key) pairs an expression reads: ("vars", "age"), ("time", None)..."""
    if node[0] == "name":
        return {(node[1], None)}
    if node[0] == "get" and node[1][0] == "name" and node[2][0] == "lit":
        return {(node[1][1], str(node[2][1]))}
    found: set[tuple[str, str | None]] = set()
    for child in node[1:]:
        if isinstance(child, tuple):
            found |= names(child)
        elif isinstance(child, list):
            for item in child:
                found |= names(item)
    return found
