"""AIML: validate what users upload and compile it for a kernel (aiml_kernel.py builds and
asks the kernels), and what the AIML hears of a turn. Pure logic: no I/O, no clock."""

import io
import re
import xml.sax
from typing import Any
from uuid import UUID

from aiml.AimlParser import AimlHandler, AimlParserError
from defusedxml import DefusedXmlException
from defusedxml.expatreader import DefusedExpatParser

from shared.contracts import IMAGE_INPUT, AimlProblem
from shared.contracts.chat import FileRef
from shared.contracts.content import AimlFile

from ..errors import DialogError
from .aiml_kernel import CompiledAiml, gc_paused

_WRAP_OPEN = '<aiml version="1.0.1">'
_HAS_ROOT = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<aiml[\s>]", re.DOTALL)
_LOCATION = re.compile(r"\(line (\d+), column (\d+)\)")
_DECLARED = re.compile(r"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*["'])[^"']*(["'])""")
MAX_PROBLEMS = 100
IMAGE_PREDICATE = "image"
FILE_INPUT = "XFILE"  # what the AIML hears of a file (<pattern>XFILE</pattern>)


class InvalidAiml(DialogError):
    """Uploaded AIML was refused; `problems` says where and why."""

    def __init__(self, problems: list[AimlProblem]) -> None:
        first = problems[0]
        super().__init__(
            f"invalid AIML at line {first.line}, column {first.column}: {first.message}"
        )
        self.problems = problems


class _CollectingHandler(AimlHandler):  # type: ignore[misc]
    """python-aiml's handler, recording each problem instead of printing it.

    Its startElement, endElement and characters are python-aiml's own (which catch a problem
    in _startElement, _endElement or _characters, print it to stderr and skip the rest of
    the category), with the printing replaced by `record`: no wrapper per event, and nothing
    written to stderr, so no compile redirects the process's stderr."""

    _state: int  # python-aiml's, declared for the type checker
    _currentUnknown: str

    def __init__(self, line_shift: int, column_shift: int) -> None:
        super().__init__("UTF-8")
        self.problems: list[AimlProblem] = []
        self._shift = (line_shift, column_shift)

    def record(self, message: str, line: int, column: int) -> None:
        if line == 1:
            column -= self._shift[1]
        self.problems.append(
            AimlProblem(line=max(line, 1), column=max(column + 1, 1), message=message)
        )

    def _refused(self, err: AimlParserError) -> None:
        """What python-aiml does with a problem, recorded instead of printed."""
        found = _LOCATION.search(str(err))
        line, column = (int(found[1]), int(found[2])) if found else (0, 0)
        self.record(_LOCATION.sub("", str(err)).strip(), line, column)
        self._numParseErrors += 1
        if self._state >= self._STATE_InsideCategory:
            self._skipCurrentCategory = True

    def startElement(self, name: str, attr: Any) -> None:
        if self._currentUnknown != "" or self._skipCurrentCategory:
            return
        try:
            self._startElement(name, attr)
        except AimlParserError as err:
            self._refused(err)

    def endElement(self, name: str) -> None:
        if self._state == self._STATE_OutsideAiml:
            return
        if self._currentUnknown != "":
            if name == self._currentUnknown:
                self._currentUnknown = ""
            return
        if self._skipCurrentCategory:
            if name == "category":
                self._skipCurrentCategory = False
                self._state = self._STATE_InsideAiml
            return
        try:
            self._endElement(name)
        except AimlParserError as err:
            self._refused(err)

    def characters(self, ch: str) -> None:
        if (
            self._state == self._STATE_OutsideAiml
            or self._currentUnknown != ""
            or self._skipCurrentCategory
        ):
            return
        try:
            self._characters(ch)
        except AimlParserError as err:
            self._refused(err)


class _Parser(DefusedExpatParser):  # type: ignore[misc]
    """defusedxml's SAX parser (no DTDs, entities or external references) with expat's
    element events handed to the content handler directly, its attributes the dict expat
    makes (python-aiml reads them as a mapping): the SAX layer's call and attributes object
    per element were a fifth of ALICE's parse."""

    def reset(self) -> None:
        super().reset()
        self._parser.StartElementHandler = self._cont_handler.startElement
        self._parser.EndElementHandler = self._cont_handler.endElement


def compile_aiml(text: str) -> CompiledAiml:
    """Parse AIML (a whole `<aiml>` document, or bare categories) or raise InvalidAiml."""
    wrapped = not _HAS_ROOT.match(text)
    # The text is decoded already: whatever encoding its declaration names, it is parsed as
    # the UTF-8 it is encoded to here.
    source = f"{_WRAP_OPEN}{text}</aiml>" if wrapped else _DECLARED.sub(r"\1UTF-8\2", text, count=1)
    handler = _CollectingHandler(0, len(_WRAP_OPEN) if wrapped else 0)
    parser = _Parser()  # no DTDs or entity tricks in uploaded AIML
    parser.setContentHandler(handler)
    try:
        parser.parse(io.BytesIO(source.encode("utf-8")))
    except xml.sax.SAXParseException as err:
        handler.record(err.getMessage(), err.getLineNumber() or 1, err.getColumnNumber() or 0)
    except DefusedXmlException as err:
        handler.record(f"not allowed in AIML: {err}", 1, 0)
    if handler.problems:
        raise InvalidAiml(handler.problems)
    return CompiledAiml(categories=dict(handler.categories))


def compile_files(files: list[AimlFile]) -> tuple[CompiledAiml, list[int]]:
    """Parse AIML files in load order (a later file's category replaces an earlier one's, as
    python-aiml's `learn` does), and each file's category count; InvalidAiml lists the
    problems of every file, each with its file name."""
    categories: dict[Any, Any] = {}
    counts: list[int] = []
    problems: list[AimlProblem] = []
    with gc_paused():
        for file in files:
            try:
                compiled = compile_aiml(file.text)
            except InvalidAiml as err:
                problems += [p.model_copy(update={"file": file.name}) for p in err.problems]
                continue
            counts.append(len(compiled.categories))
            categories.update(compiled.categories)
    if problems:
        raise InvalidAiml(problems[:MAX_PROBLEMS])
    return CompiledAiml(categories=categories, counts=tuple(counts)), counts


def parse_properties(text: str) -> dict[str, str]:
    """Bot properties from `key:value` or `KEY=VALUE` lines (both XPARO formats)."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=") if "=" in line else line.partition(":")
        if sep and key.strip():
            found[key.strip()] = value.strip()
    return found


def data_predicates(data: dict[str, Any]) -> dict[str, str]:
    """The AIML predicates a session's data sets: a string, number or bool is said as text
    (`<get name="first_name"/>`); any other value (null, list, object) clears the predicate."""
    return {
        key: str(value) if isinstance(value, str | int | float | bool) else ""
        for key, value in data.items()
    }


def heard(
    *, text: str, image: UUID | None, state: dict[str, Any], file: FileRef | None = None
) -> tuple[str, dict[str, Any]]:
    """What the AIML hears of a turn: an image is IMAGE_INPUT, with predicate `image` naming it;
    a file is FILE_INPUT, with predicates `file_name` and `file_type`."""
    if image is not None:
        return IMAGE_INPUT, {**state, IMAGE_PREDICATE: str(image)}
    if file is not None:
        return FILE_INPUT, {**state, "file_name": file.name, "file_type": file.type}
    return text, state
