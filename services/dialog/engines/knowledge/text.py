"""Words, spans and sentence similarity shared by the FAQ, the NLU and the entity finders.

Text is tokenised by script, whatever language the caller claims (RSVP callers often send
Chinese without lang=cn): Latin runs become lowercase Snowball stems without stopwords, CJK runs
become jieba words without particles. Sentences are compared by the project's own classifier
(classifier.py), which builds its features from the same normalised text.
"""

import functools
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

import Stemmer

MAX_CHARS = 1000
"""Only the first this many characters of a question are read (sentences have at most 1,000)."""

EXACT = 1.0
"""The score of a sentence equal to the question (after normalise())."""
NEAR = 0.99
"""The highest score of a sentence that is not the same text: only equality scores 1."""


_CN_STOPWORDS = frozenset(
    ("的", "了", "吗", "呢", "啊", "吧", "呀", "哦", "嗯", "我", "你", "您", "是", "请问", "么")
)
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
"""The Chinese characters (a regex character range)."""
_RUNS = re.compile(f"([{CJK}]+)")
_LATIN_WORDS = re.compile(r"__[a-z0-9_]+?__|[^\W_]+")
_MARKER = re.compile(r"__[a-z0-9_]+?__")
_NOT_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")
CN_DIGITS = {c: n for n, c in enumerate("零一二三四五六七八九")} | {"\u3007": 0, "两": 2}
CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000}


@dataclass(frozen=True)
class Found:
    """An entity's value found in a text: `key` is text[start:end], `value` what it means."""

    entity: str
    key: str
    value: Any
    start: int
    end: int


_per_thread = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """This thread's stemmer: a PyStemmer instance must not be used by two threads at once."""
    stemmer: Stemmer.Stemmer | None = getattr(_per_thread, "stemmer", None)
    if stemmer is None:
        stemmer = _per_thread.stemmer = Stemmer.Stemmer("english")
    return stemmer


def is_cjk(text: str) -> bool:
    """Whether `text` contains Chinese characters."""
    return _RUNS.search(text) is not None


def normalise(text: str) -> str:
    """`text` for equality tests: NFKC, casefolded, punctuation and symbols dropped, one space."""
    folded = unicodedata.normalize("NFKC", text[:MAX_CHARS]).casefold()
    return _SPACES.sub(" ", _NOT_WORD.sub(" ", folded)).strip()


def tokenise(text: str) -> list[str]:
    """The words of `text` that carry meaning: stems for Latin script, jieba words for Chinese.

    jieba cuts in its search mode, which also gives the words inside longer ones (停车场 →
    停车, 车场, 停车场), so that 停车 finds 停车场. Markers such as `__system_date__` (entity
    placeholders) are kept whole.
    """
    tokens: list[str] = []
    stopwords = en_stopwords()
    for n, run in enumerate(_RUNS.split(normalise(text))):
        if n % 2:
            tokens.extend(w for w in jieba().lcut_for_search(run) if w not in _CN_STOPWORDS)
        else:
            words = [w for w in _LATIN_WORDS.findall(run) if w not in stopwords]
            tokens.extend(w if _MARKER.fullmatch(w) else _stemmer().stemWord(w) for w in words)
    return tokens


def cn_number(numeral: str) -> int:
    """The value of a Chinese numeral: 十五 → 15, 两百零五 → 205, 二零三 (digit by digit) → 203."""
    if not any(c in CN_UNITS for c in numeral):
        return int("".join(str(CN_DIGITS[c]) for c in numeral))
    total = section = digit = 0
    for c in numeral:
        if c in CN_DIGITS:
            digit = CN_DIGITS[c]
        elif c == "万":
            total, section, digit = (total + section + digit) * 10_000, 0, 0
        else:
            section, digit = section + max(digit, 1) * CN_UNITS[c], 0
    return total + section + digit


def warm_up() -> None:
    """Load jieba's dictionary now (~0.7 s) rather than on the first Chinese question."""
    jieba().initialize()


# The libraries below load on first use, as the first FAQ, intents or documents of a process are
# built (a brain is built before its first answer): a dialog replica whose projects have none
# starts ~1 s sooner (scikit-learn, bm25s, jieba, dateparser), and so does every test stack.


@functools.cache
def jieba() -> Any:  # the module (no type hints of its own)
    """jieba, imported on first use and told to log warnings only (it logs at DEBUG)."""
    import jieba as module

    module.setLogLevel(logging.WARNING)
    return module


@functools.cache
def en_stopwords() -> frozenset[str]:
    """English stopwords (bm25s's list, imported on first use, and a few polite words)."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    # bm25s sets its own logger to DEBUG when imported.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return frozenset(STOPWORDS_EN_PLUS) | {"please", "could", "would"}
