"""The files people keep their FAQ and intents in: JSON and CSV for the FAQ, JSON and YAML for
intents. Reading checks everything the contracts check and says where each problem is (the CSV
line, the YAML line, the item's path); writing gives back a file that reads the same.
"""

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from shared.contracts.knowledge import Faq, Intents
from shared.contracts.machine import StateMachine

MAX_PROBLEMS = 50
FAQ_COLUMNS = ("gid", "question", "answer", "labels", "skillname", "url", "image", "action")
LABEL_SEPARATOR = "|"
M = TypeVar("M", bound=BaseModel)
Loc = tuple[Any, ...]
_GROUP_FIELDS = ("answer", "labels", "skillname", "url", "image", "action")


class FormatError(Exception):
    """An upload was refused; `problems` lists each problem with where it is."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        first = problems[0]
        where = f"line {first['line']}: " if "line" in first else ""
        item = f"{first['item']}: " if first.get("item") else ""
        super().__init__(f"{where}{item}{first['message']}")
        self.problems = problems[:MAX_PROBLEMS]


def is_csv(content_type: str) -> bool:
    """Whether a Content-Type names CSV."""
    return content_type.split(";")[0].strip().lower() in ("text/csv", "application/csv")


def read_faq(body: bytes, content_type: str) -> Faq:
    """An FAQ from CSV (one row per question) or JSON (`{"groups": [...]}` or the list)."""
    if is_csv(content_type):
        data, lines = _faq_rows(_text(body))
        return _checked(Faq, data, lambda loc: _csv_line(loc, lines))
    data = _json(body)
    return _checked(Faq, {"groups": data} if isinstance(data, list) else data, lambda _: None)


def read_intents(body: bytes, content_type: str) -> Intents:
    """Intents and entities from JSON or YAML (YAML errors and problems carry their line)."""
    return _read_document(Intents, body, content_type)


def read_machine(body: bytes, content_type: str) -> StateMachine:
    """A state machine from JSON or YAML (YAML errors and problems carry their line)."""
    return _read_document(StateMachine, body, content_type)


def _read_document(model: type[M], body: bytes, content_type: str) -> M:
    text = _text(body)
    if content_type.split(";")[0].strip().lower() == "application/json":
        return _checked(model, _json(body), lambda _: None)
    try:
        root = yaml.compose(text, Loader=_NoAliases)
        data = yaml.load(text, Loader=_NoAliases)  # noqa: S506 - a SafeLoader without aliases
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem: dict[str, Any] = {"message": f"not valid YAML: {getattr(err, 'problem', err)}"}
        if mark is not None:
            problem["line"] = mark.line + 1
        raise FormatError([problem]) from None
    except (ValueError, RecursionError) as err:  # int() past 4,300 digits; nesting past the stack
        raise FormatError([{"message": f"not valid YAML: {_unreadable(err)}"}]) from None
    return _checked(model, data, lambda loc: _yaml_line(root, loc), lambda e: _yaml_mark(root, e))


def faq_csv(faq: Faq) -> str:
    """The FAQ as CSV: a header, then one row per question (group fields on each row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FAQ_COLUMNS)
    for group in faq.groups:
        for question in group.questions:
            labels = LABEL_SEPARATOR.join(group.labels)
            extras = [group.url or "", group.image or "", group.action or ""]
            writer.writerow([group.gid, question, group.answer, labels, group.skillname, *extras])
    return out.getvalue()


def as_yaml(document: Intents | StateMachine) -> str:
    """Intents or a state machine as YAML, in the shape read_intents / read_machine read."""
    data = document.model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


class _NoAliases(yaml.SafeLoader):
    """YAML's safe loader without anchors and aliases (which can blow a small file up)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise FormatError([{"line": mark.line + 1, "message": "YAML aliases are not allowed"}])
        return super().compose_node(parent, index)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FormatError([{"message": f"not UTF-8 (byte {err.start})"}]) from None


def _json(body: bytes) -> Any:
    try:
        return json.loads(_text(body))
    except json.JSONDecodeError as err:
        raise FormatError([{"line": err.lineno, "message": f"not valid JSON: {err.msg}"}]) from None
    except (ValueError, RecursionError) as err:  # int() past 4,300 digits; nesting past the stack
        raise FormatError([{"message": f"not valid JSON: {_unreadable(err)}"}]) from None


def _unreadable(err: Exception) -> str:
    if isinstance(err, RecursionError):
        return "nested too deeply"
    return "a number too long to read" if "digits" in str(err) else str(err)[:200]


def _faq_rows(text: str) -> tuple[dict[str, Any], list[int]]:
    """CSV rows grouped by gid (in first-seen order), and each group's first line."""
    reader = csv.DictReader(io.StringIO(text, newline=""))  # csv splits the lines itself
    try:
        return _grouped(reader)
    except csv.Error as err:
        raise FormatError([{"line": reader.line_num, "message": f"not valid CSV: {err}"}]) from None


def _grouped(reader: "csv.DictReader[str]") -> tuple[dict[str, Any], list[int]]:
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in ("gid", "question", "answer") if name not in header]
    if missing:
        raise FormatError([{"line": 1, "message": f"the header lacks {', '.join(missing)}"}])
    reader.fieldnames = header
    groups: dict[str, dict[str, Any]] = {}
    lines: list[int] = []
    problems: list[dict[str, Any]] = []
    for row in reader:
        line = reader.line_num
        cells = {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}
        gid = cells.get("gid", "")
        if not gid:
            problems.append({"line": line, "message": "gid is empty"})
            continue
        group = groups.get(gid)
        if group is None:
            group = groups[gid] = {"gid": gid, "questions": []}
            lines.append(line)
        if cells.get("question"):
            group["questions"].append(cells["question"])
        for name, value in _group_cells(cells):
            if name in group and group[name] != value:
                problems.append({"line": line, "item": f"gid {gid}", "message": f"{name} differs"})
            group[name] = value
    if problems:
        raise FormatError(problems)
    return {"groups": list(groups.values())}, lines


def _group_cells(cells: dict[str, str]) -> Iterator[tuple[str, Any]]:
    for name in _GROUP_FIELDS:
        value = cells.get(name, "")
        if value:
            yield (
                name,
                [v.strip() for v in value.split(LABEL_SEPARATOR)] if name == "labels" else value,
            )


def _checked(
    model: type[M],
    data: Any,
    line_of: Callable[[Loc], int | None],
    mark_of: Callable[[Any], dict[str, int]] = lambda _: {},
) -> M:
    """`data` as `model`, or FormatError listing every problem with its item and line (and,
    for a condition, the column in the YAML and the character in the condition)."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = []
        for error in err.errors()[:MAX_PROBLEMS]:
            loc = tuple(error["loc"])
            problem: dict[str, Any] = {"item": _path(loc), "message": error["msg"]}
            line = line_of(loc)
            if line is not None:
                problem = {"line": line, **mark_of(error), **problem}
            problems.append(problem)
        raise FormatError(problems) from None


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _csv_line(loc: tuple[Any, ...], lines: list[int]) -> int | None:
    if len(loc) >= 2 and loc[0] == "groups" and isinstance(loc[1], int) and loc[1] < len(lines):
        return lines[loc[1]]
    return None


def _yaml_line(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest YAML node on `loc`'s path."""
    found = _yaml_node(node, loc)
    return found.start_mark.line + 1 if found is not None else None


def _yaml_node(node: Any, loc: tuple[Any, ...]) -> Any:
    """The deepest YAML node on `loc`'s path (a part that is a union's tag, such as the
    `condition` of a transition, is no YAML key: it may be skipped)."""
    return _deepest(node, loc)[1]


def _deepest(node: Any, loc: tuple[Any, ...]) -> tuple[int, Any]:
    """How many parts of `loc` lead to a node, and the node they lead to."""
    if not loc:
        return 0, node
    part, child = loc[0], None
    if isinstance(node, yaml.MappingNode):
        child = next((v for k, v in node.value if k.value == part), None)
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        child = node.value[part] if part < len(node.value) else None
    skipped = _deepest(node, loc[1:]) if isinstance(part, str) else (0, node)
    if child is None:
        return skipped
    depth, found = _deepest(child, loc[1:])
    return (depth + 1, found) if depth + 1 > skipped[0] else skipped


def _yaml_mark(root: Any, error: Any) -> dict[str, int]:
    """For a problem inside a condition (its `position` in the context): the column of that
    character in the YAML when the condition sits on one line, else of the condition; and the
    character (1-based) in the condition."""
    position = (error.get("ctx") or {}).get("position")
    node = _yaml_node(root, tuple(error["loc"]))
    if not isinstance(position, int) or not isinstance(node, yaml.ScalarNode):
        return {}
    column = node.start_mark.column + 1
    if node.start_mark.line == node.end_mark.line:
        column += position + (1 if node.style in ("'", '"') else 0)
    return {"column": column, "position": position + 1}
