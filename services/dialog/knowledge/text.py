"""Words, spans and sentence similarity shared by the FAQ, the NLU and the entity finders.

Text is tokenised by script, whatever language the caller claims (RSVP callers often send
Chinese without lang=cn): Latin runs become lowercase Snowball stems without stopwords, CJK runs
become jieba words without particles. Sentences are compared with BM25 (bm25s) blended with a
rapidfuzz similarity, so that shared rare words and near-identical wording both count.
"""

import logging
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import bm25s
import jieba
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS
from numpy.typing import NDArray
from rapidfuzz import fuzz, process

jieba.setLogLevel(logging.WARNING)
# bm25s sets its own logger to DEBUG when imported, so each index built (three per content load
# with an FAQ and intents) printed "Building index from tokens" in logs running at INFO.
logging.getLogger("bm25s").setLevel(logging.WARNING)

MAX_CHARS = 1000
"""Only the first this many characters of a question are read (sentences have at most 1,000)."""

EXACT = 1.0
"""The score of a sentence equal to the question (after normalise())."""
NEAR = 0.99
"""The highest score of a sentence that is not the same text: only equality scores 1."""

BM25_WEIGHT = 0.5
"""Share of the BM25 score in the blend (the rest is rapidfuzz's); tuned on eval/."""

_EN_STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | {"please", "could", "would"}
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
    for n, run in enumerate(_RUNS.split(normalise(text))):
        if n % 2:
            tokens.extend(w for w in jieba.lcut_for_search(run) if w not in _CN_STOPWORDS)
        else:
            words = [w for w in _LATIN_WORDS.findall(run) if w not in _EN_STOPWORDS]
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


def _words(text: str) -> tuple[list[str], str]:
    """The tokens of normalised `text`, and what rapidfuzz compares: the tokens, or the text
    itself when it is all stopwords ("who are you")."""
    tokens = tokenise(text)
    return tokens, " ".join(tokens) or text


class SentenceIndex:
    """Sentences indexed once, scored against a question many times (0..1 each).

    The score blends BM25 with rapidfuzz's token_sort_ratio of the two token strings (which also
    forgives typos BM25 does not see). BM25 is made 0..1 as the geometric mean of how much of the
    sentence the question covers (its BM25 score over the sentence's score against itself) and
    how much of the question the sentence covers (the share of the question's distinct words it
    contains), so that neither a short sentence nor a long question wins by size alone. A
    sentence equal to the question after normalise() scores exactly 1, any other at most NEAR.

    A question with Chinese characters is only compared with sentences that have some, and other
    questions with the other sentences: a bilingual project answers in the asker's language,
    and entity markers, which both languages share, do not make "{city}天气" the nearest
    sentence to "weather in Paris".
    """

    def __init__(self, sentences: Sequence[str], *, chinese: Sequence[bool] | None = None) -> None:
        """Tokenise and index `sentences` (the scores come back in this order).

        Args:
            sentences: The sentences.
            chinese: Which sentences are Chinese, when their text no longer tells (the NLU's
                "{city}" is a marker by then); by default, those with Chinese characters.
        """
        texts = [normalise(s) for s in sentences]
        self._exact: dict[str, list[int]] = {}
        for n, text in enumerate(texts):
            self._exact.setdefault(text, []).append(n)
        words = [_words(text) for text in texts]
        self._compared = [compared for _, compared in words]
        self._chinese = np.array(
            [is_cjk(text) for text in texts] if chinese is None else chinese, dtype=bool
        )
        self._bm25 = bm25s.BM25()
        self._self_scores = np.zeros(len(texts), dtype=np.float32)
        if texts:
            self._bm25.index([tokens for tokens, _ in words], show_progress=False)
            matrix = self._bm25.scores
            # Each (word, sentence) entry is the word's score in that sentence, so a sentence's
            # score against its own (distinct) words is the sum of its entries.
            self._self_scores = np.bincount(
                matrix["indices"], weights=matrix["data"], minlength=len(texts)
            ).astype(np.float32)

    def _bm25_part(self, tokens: list[str]) -> NDArray[np.float32]:
        ids = sorted(set(self._bm25.get_tokens_ids(tokens)))
        if not ids:
            return np.zeros(len(self._compared), dtype=np.float32)
        bm25 = self._bm25.get_scores_from_ids(ids)
        with np.errstate(divide="ignore", invalid="ignore"):
            sentence_covered = np.where(self._self_scores > 0, bm25 / self._self_scores, 0.0)
        shared = np.zeros(len(self._compared), dtype=np.float32)
        indices, indptr = self._bm25.scores["indices"], self._bm25.scores["indptr"]
        for word in ids:
            shared[indices[indptr[word] : indptr[word + 1]]] += 1
        question_covered = shared / len(set(tokens))
        return np.sqrt(np.minimum(sentence_covered, 1.0) * question_covered).astype(np.float32)

    def scores(self, question: str, *, chinese: bool | None = None) -> NDArray[np.float32]:
        """Every sentence's score (0..1) for `question`, Chinese or not as `chinese` says (by
        default, when it has Chinese characters)."""
        text = normalise(question)
        if not text or not self._compared:
            return np.zeros(len(self._compared), dtype=np.float32)
        tokens, compared = _words(text)
        result = BM25_WEIGHT * self._bm25_part(tokens)
        similar = process.cdist([compared], self._compared, scorer=fuzz.token_sort_ratio, workers=1)
        result += (1 - BM25_WEIGHT) * similar[0].astype(np.float32) / 100
        np.minimum(result, NEAR, out=result)
        result[self._chinese != (is_cjk(text) if chinese is None else chinese)] = 0.0
        result[self._exact.get(text, [])] = EXACT
        return result


def warm_up() -> None:
    """Load jieba's dictionary now (~0.7 s) rather than on the first Chinese question."""
    jieba.initialize()
