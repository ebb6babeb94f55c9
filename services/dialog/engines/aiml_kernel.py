"""AIML kernels: python-aiml's kernel made safe and shared, answering with explicit session state.

python-aiml keeps sessions inside the kernel; here a session's state is passed in and handed
back, so it can live in Postgres and any replica can continue it. Pure logic: no I/O, no clock.
"""

import contextlib
import gc
import re
import string
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiml import Kernel
from aiml.PatternMgr import PatternMgr

# Elements that would let uploaded AIML touch the server: shell commands, files, disk writes.
UNSAFE_ELEMENTS = ("system", "learn", "gossip")
HISTORY_KEYS = ("_inputHistory", "_outputHistory")
MAX_HISTORY = 10
DEFAULT_BOT_NAME = "Nameless"  # python-aiml's own
_NO_WORDS = re.compile(rf"^[\s{re.escape(string.punctuation)}]*$")


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


def _silent(*_args: Any) -> str:
    return ""


class _Patterns(PatternMgr):  # type: ignore[misc]
    """python-aiml's pattern matcher, except that a `that` or topic of punctuation only is no
    `that` or topic.

    python-aiml replaces an empty `that` by a dummy word before it strips punctuation, so when
    the bot's last answer was punctuation only (ALICE's "where are you" answers ", ." with its
    `city` and `state` unset) no pattern can match the next input at all: the bot answered
    nothing, whatever was asked.

    `match` is python-aiml's, its input normalised the same way in fewer steps (compiled
    patterns applied directly, no whitespace pass before a split, the emptiness checked once
    punctuation is gone), and its search `_template`: it runs for every input and every
    `<srai>`."""

    def match(self, pattern: str, that: str, topic: str) -> Any:
        if not pattern:
            return None
        blank = self._puncStripRE.sub
        said = blank(" ", that.upper()).split() or _NO_THAT
        about = blank(" ", topic.upper()).split() or _NO_TOPIC
        return self._template(blank(" ", pattern.upper()).split(), 0, said, about, self._root)

    def _template(
        self, words: list[str], at: int, that: list[str], topic: list[str], node: dict[Any, Any]
    ) -> Any:
        """python-aiml's `_match` (the same nodes tried in the same order: `_`, the word, the
        bot's name, `*`; then `that`, then the topic), returning the template alone: the
        words are followed by index, not copied at each step, and no path is built (only
        `star` needs it, and it still uses `_match`)."""
        if at == len(words):
            template = None
            if that:
                below = node.get(_THAT)
                if below is not None:
                    template = self._template(that, 0, [], topic, below)
            elif topic:
                below = node.get(_TOPIC)
                if below is not None:
                    template = self._template(topic, 0, [], [], below)
            return node.get(_TEMPLATE) if template is None else template
        end = len(words) + 1
        below = node.get(_UNDERSCORE)
        if below is not None:
            for rest in range(at + 1, end):
                template = self._template(words, rest, that, topic, below)
                if template is not None:
                    return template
        word = words[at]
        below = node.get(word)
        if below is not None:
            template = self._template(words, at + 1, that, topic, below)
            if template is not None:
                return template
        if word == self._botName:
            below = node.get(_BOT_NAME)
            if below is not None:
                template = self._template(words, at + 1, that, topic, below)
                if template is not None:
                    return template
        below = node.get(_STAR)
        if below is not None:
            for rest in range(at + 1, end):
                template = self._template(words, rest, that, topic, below)
                if template is not None:
                    return template
        return None

    def star(self, star_type: str, pattern: str, that: str, topic: str, index: int) -> Any:
        that, topic = _words_or_none(that), _words_or_none(topic)
        return super().star(star_type, pattern, that, topic, index)


_UNDERSCORE, _STAR, _TEMPLATE, _THAT, _TOPIC, _BOT_NAME = (
    PatternMgr._UNDERSCORE,
    PatternMgr._STAR,
    PatternMgr._TEMPLATE,
    PatternMgr._THAT,
    PatternMgr._TOPIC,
    PatternMgr._BOT_NAME,
)  # the tree's keys besides words
_NO_THAT = ["ULTRABOGUSDUMMYTHAT"]  # what python-aiml matches when there is no `that`
_NO_TOPIC = ["ULTRABOGUSDUMMYTOPIC"]


class _OncePerAnswer:
    """python-aiml's "normal" substitutions, each text substituted once per answer: every
    `<srai>` step and `<star/>` substitutes the input, `that` and topic again (a regex of
    some hundred alternatives each time). `done` is emptied after each answer."""

    def __init__(self, subber: Any) -> None:
        self._subber = subber
        self.done: dict[str, str] = {}

    def sub(self, text: str) -> str:
        found = self.done.get(text)
        if found is None:
            found = self.done[text] = self._subber.sub(text)
        return found


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
    kernel._maxHistorySize = MAX_HISTORY  # what python-aiml keeps of each history
    kernel._brain = _Patterns()
    kernel._subbers["normal"] = _OncePerAnswer(kernel._subbers["normal"])
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
        subber = kernel._subbers["normal"]
        if isinstance(subber, _OncePerAnswer):
            subber.done.clear()
    # the session left the kernel: it is the new state as it is (python-aiml kept each
    # history to its last MAX_HISTORY itself, and left the input stack empty)
    del session["_inputStack"]
    return Answer(text=reply, matched=bool(reply), state=session)


def _restore(state: dict[str, Any]) -> dict[str, Any]:
    """A session for the kernel from `state`, which is left as it is: python-aiml appends to
    the histories in place, so they are copied (the last MAX_HISTORY of each)."""
    restored = dict(state)
    for key in HISTORY_KEYS:
        kept = restored.get(key)
        restored[key] = kept[-MAX_HISTORY:] if isinstance(kept, list) else []
    restored["_inputStack"] = []
    return restored
