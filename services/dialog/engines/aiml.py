"""AIML: validate what users upload, build safe kernels, answer with explicit session state.

Pure logic: no I/O, no clock. python-aiml keeps sessions inside the kernel; here a session's
state is passed in and handed back, so it can live in Postgres and any replica can continue it.
"""

import contextlib
import gc
import io
import re
import string
import threading
import xml.sax
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid5

import defusedxml.sax
from aiml import Kernel
from aiml.AimlParser import AimlHandler, AimlParserError
from aiml.PatternMgr import PatternMgr
from defusedxml import DefusedXmlException

from shared.contracts import IMAGE_INPUT, AimlProblem
from shared.contracts.chat import FileRef
from shared.contracts.content import AimlFile

_WRAP_OPEN = '<aiml version="1.0.1">'
_HAS_ROOT = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<aiml[\s>]", re.DOTALL)
_LOCATION = re.compile(r"\(line (\d+), column (\d+)\)")
_DECLARED = re.compile(r"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*["'])[^"']*(["'])""")
MAX_PROBLEMS = 100
# Elements that would let uploaded AIML touch the server: shell commands, files, disk writes.
UNSAFE_ELEMENTS = ("system", "learn", "gossip")
HISTORY_KEYS = ("_inputHistory", "_outputHistory")
MAX_HISTORY = 10
IMAGE_PREDICATE = "image"
FILE_INPUT = "XFILE"  # what the AIML hears of a file (<pattern>XFILE</pattern>)
DEFAULT_BOT_NAME = "Nameless"  # python-aiml's own
_NO_WORDS = re.compile(rf"^[\s{re.escape(string.punctuation)}]*$")
_DELETED_IDS = UUID("6f1c2b57-3f0e-4d55-9a43-1d5b2f7c9e10")  # namespace of SessionDeleted ids
_REPLY_IDS = UUID("3a7d0c1e-92b4-5f08-8e6a-4c1d2b9f7a30")  # namespace of TurnAnswered ids


class DialogError(Exception):
    """Root of the dialog service's errors."""


class InvalidAiml(DialogError):
    """Uploaded AIML was refused; `problems` says where and why."""

    def __init__(self, problems: list[AimlProblem]) -> None:
        first = problems[0]
        super().__init__(
            f"invalid AIML at line {first.line}, column {first.column}: {first.message}"
        )
        self.problems = problems


class SessionGone(DialogError):
    """The session was deleted: nothing more is answered in it, and it is never recreated."""

    def __init__(self, *, project_key: UUID, session_id: str) -> None:
        super().__init__(f"session {session_id} of project {project_key} was deleted")
        self.project_key = project_key
        self.session_id = session_id


@dataclass(frozen=True)
class CompiledAiml:
    """Parsed categories ready to load into a kernel (`counts`: each file's, when compiled
    from files)."""

    categories: dict[Any, Any]
    counts: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        """Categories the kernel will have (a later file's category replaces an earlier's)."""
        return len(self.categories)


NO_AIML = CompiledAiml(categories={})


@dataclass(frozen=True)
class BotProperties:
    """A project's bot predicates (`<bot name="..."/>`), applied to a shared kernel per
    answer; `name` is also what patterns holding `<bot name="name"/>` match (upper case, as
    the input is when it is matched: python-aiml compared it with the name as written, so
    such a pattern matched only a name written in capitals)."""

    values: dict[str, str]
    name: str

    @classmethod
    def of(cls, properties: dict[str, str]) -> "BotProperties":
        values = {"name": DEFAULT_BOT_NAME, **properties}
        return cls(values=values, name=" ".join(values["name"].upper().split()))


NO_PROPERTIES = BotProperties.of({})


@dataclass(eq=False)
class SharedKernel:
    """One python-aiml kernel per distinct AIML content (`key`: the digest of its files),
    shared by every project and stage that has that content. Each answer runs under `lock`
    with the asking project's bot properties and session state put in, and taken out after,
    so nothing of one project is seen by another."""

    kernel: Kernel
    key: str
    categories: int = 0
    counts: tuple[int, ...] = ()  # each file's categories, when built from files
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Answer:
    """What the kernel said, and the session state after saying it."""

    text: str
    matched: bool
    state: dict[str, Any] = field(default_factory=dict)


class _CollectingHandler(AimlHandler):  # type: ignore[misc]
    """python-aiml's handler, recording each problem instead of printing it."""

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

    def _guard(self, method: Any, *args: Any) -> None:
        try:
            method(*args)
        except AimlParserError as err:
            found = _LOCATION.search(str(err))
            line, column = (int(found[1]), int(found[2])) if found else (0, 0)
            self.record(_LOCATION.sub("", str(err)).strip(), line, column)
            raise

    def _startElement(self, name: str, attr: Any) -> None:
        self._guard(super()._startElement, name, attr)

    def _endElement(self, name: str) -> None:
        self._guard(super()._endElement, name)

    def _characters(self, ch: str) -> None:
        self._guard(super()._characters, ch)


def compile_aiml(text: str) -> CompiledAiml:
    """Parse AIML (a whole `<aiml>` document, or bare categories) or raise InvalidAiml."""
    wrapped = not _HAS_ROOT.match(text)
    # The text is decoded already: whatever encoding its declaration names, it is parsed as
    # the UTF-8 it is encoded to here.
    source = f"{_WRAP_OPEN}{text}</aiml>" if wrapped else _DECLARED.sub(r"\1UTF-8\2", text, count=1)
    handler = _CollectingHandler(0, len(_WRAP_OPEN) if wrapped else 0)
    parser = defusedxml.sax.make_parser()  # no DTDs or entity tricks in uploaded AIML
    parser.setContentHandler(handler)
    with contextlib.redirect_stderr(io.StringIO()):
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


def _silent(*_args: Any) -> str:
    return ""


class _Patterns(PatternMgr):  # type: ignore[misc]
    """python-aiml's pattern matcher, except that a `that` or topic of punctuation only is no
    `that` or topic.

    python-aiml replaces an empty `that` by a dummy word before it strips punctuation, so when
    the bot's last answer was punctuation only (ALICE's "where are you" answers ", ." with its
    `city` and `state` unset) no pattern can match the next input at all: the bot answered
    nothing, whatever was asked."""

    def match(self, pattern: str, that: str, topic: str) -> Any:
        return super().match(pattern, _words_or_none(that), _words_or_none(topic))

    def star(self, star_type: str, pattern: str, that: str, topic: str, index: int) -> Any:
        that, topic = _words_or_none(that), _words_or_none(topic)
        return super().star(star_type, pattern, that, topic, index)


def _words_or_none(text: str) -> str:
    return "" if _NO_WORDS.match(text) else text


_paused = 0
_pause_lock = threading.Lock()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a large AIML set is parsed or built (from any thread):
    its million objects made the collector run over and over, most of ALICE's build time."""
    global _paused
    with _pause_lock:
        _paused += 1
        gc.disable()
    try:
        yield
    finally:
        with _pause_lock:
            _paused -= 1
            if not _paused:
                gc.enable()


def keep_out_of_gc() -> None:
    """Move every object alive now (a kernel just built among them) out of the collector's
    sight: a full collection over ALICE's million objects stopped the process for over a
    second. A kernel given up later is freed by reference counting (see `release_kernel`)."""
    gc.freeze()


def release_kernel(kernel: Kernel) -> None:
    """Break a kernel's one reference cycle (its element processors are its bound methods), so
    reference counting frees it although the collector no longer sees it."""
    kernel._elementProcessors.clear()


def build_kernel(compiled: CompiledAiml, properties: dict[str, str]) -> Kernel:
    """A kernel answering from `compiled`, with the server-touching elements disabled."""
    kernel = Kernel()
    kernel.verbose(False)
    kernel._brain = _Patterns()
    for name in UNSAFE_ELEMENTS:
        kernel._elementProcessors[name] = _silent
    with gc_paused():
        for key, tem in compiled.categories.items():
            kernel._brain.add(key, tem)
    for name, value in properties.items():
        kernel.setBotPredicate(name, value)
    return kernel


def answer(
    kernel: Kernel | SharedKernel,
    *,
    text: str,
    state: dict[str, Any],
    session_id: str,
    properties: BotProperties | None = None,
) -> Answer:
    """Answer `text` in a session whose predicates, `that` and topic are `state`; a shared
    kernel answers one question at a time, with `properties` as its bot's."""
    if isinstance(kernel, SharedKernel):
        with kernel.lock:
            return _answer(kernel.kernel, text, state, session_id, properties or NO_PROPERTIES)
    return _answer(kernel, text, state, session_id, properties)


def _answer(
    kernel: Kernel,
    text: str,
    state: dict[str, Any],
    session_id: str,
    properties: BotProperties | None,
) -> Answer:
    if properties is not None:
        kernel._botPredicates = properties.values
        kernel._brain._botName = properties.name
    session = kernel._sessions[session_id] = _restore(state)
    try:
        # not verbose, python-aiml writes nothing to stderr
        reply = kernel.respond(text, session_id) if text.strip() else ""
    finally:
        kernel._sessions.pop(session_id, None)
    # the session left the kernel: its values are handed back as they are (no deep copy)
    new_state = {
        k: (v[-MAX_HISTORY:] if k in HISTORY_KEYS else v)
        for k, v in session.items()
        if k != "_inputStack"
    }
    return Answer(text=reply, matched=bool(reply), state=new_state)


def _restore(state: dict[str, Any]) -> dict[str, Any]:
    restored = {k: (list(v) if isinstance(v, list) else v) for k, v in state.items()}
    for key in (*HISTORY_KEYS, "_inputStack"):
        restored.setdefault(key, [])
    restored["_inputStack"] = []
    return restored


CHANNELS_KEPT = 32  # connections of one session whose turn order is remembered


def waits_for_predecessor(*, channel: str, seq: int, answered: list[list[Any]]) -> bool:
    """True when an earlier turn of the same channel (connection) has not been answered yet.

    Turns are numbered per channel from 1; the session remembers the last one it answered on
    each of its latest channels (`answered`: [channel, seq] pairs, oldest first), so a user with
    two tabs open on one session is answered in order on each without waiting on the other.
    """
    last = next((int(s) for c, s in answered if c == channel), 0)
    return seq > last + 1


def answered_on(answered: list[list[Any]], *, channel: str, seq: int) -> list[list[Any]]:
    """`answered` once turn `seq` of `channel` was answered (the latest CHANNELS_KEPT)."""
    kept = [[c, s] for c, s in answered if c != channel]
    return [*kept[-(CHANNELS_KEPT - 1) :], [channel, seq]]


def early_retry_delay(deliveries: int, *, first: float, longest: float = 1.0) -> float:
    """How long an early turn waits before it is tried again: `first`, doubling per delivery up
    to `longest`, so a short wait is answered fast and a long one does not flood the stream."""
    return min(first * 2.0 ** max(deliveries - 1, 0), longest)


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


def reply_event_id(turn_event_id: UUID) -> UUID:
    """The one event id of a turn's answer: answering it again (after a crash between publish
    and commit) publishes a duplicate that JetStream and the gateways drop."""
    return uuid5(_REPLY_IDS, str(turn_event_id))


def deleted_event_id(*, project_key: UUID, session_id: str) -> UUID:
    """The one event id of a session's deletion, so announcing it again is a duplicate."""
    return uuid5(_DELETED_IDS, f"{project_key}/{session_id}")
