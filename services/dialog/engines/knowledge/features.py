"""The features of the project's own classifier (classifier.py): TF-IDF weighted word and
character n-grams of a text, and the transform of one question without scikit-learn's per-call
checks. Every choice here (n-gram lengths, the words' share per script, unseen features in a
question's length) was made on `make eval`'s DEV split (eval/public/README.md)."""

import math
import re
import zlib
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .text import _stemmer, jieba, normalise

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

Floats = NDArray[np.float64]

_RUNS = re.compile("([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
_MARKER = re.compile(r"__[a-z0-9_]+?__")
_LATIN = re.compile(r"__[a-z0-9_]+?__|[^\W_]+")


def words(text: str) -> list[str]:
    """Word features: stems (stopwords kept: "where" and "how" tell questions apart), jieba
    words for Chinese, entity markers whole. No pairs of neighbours: on DEV they cost English
    top-1 2 points on BANKING77 and 0.7 on intents (the character n-grams already span words)."""
    tokens: list[str] = []
    for n, run in enumerate(_RUNS.split(normalise(text))):
        if n % 2:
            tokens.extend(w for w in jieba().lcut_for_search(run) if w.strip())
        else:
            tokens.extend(
                w if _MARKER.fullmatch(w) else _stemmer().stemWord(w) for w in _LATIN.findall(run)
            )
    return tokens


def _marker_char(match: re.Match[str]) -> str:
    """One private-use character per entity marker, so that its letters are no n-grams."""
    return chr(0xE000 + zlib.crc32(match[0].encode()) % 0x1000)


def chars(text: str) -> list[str]:
    """Character features: the n-grams of the normalised text (spaces at both ends), of
    CHAR_NGRAMS letters where they are Latin and CJK_CHAR_NGRAMS where they hold a Chinese
    character (a Latin letter alone says nothing of what is asked; a Chinese one does)."""
    padded = f" {_MARKER.sub(_marker_char, normalise(text))} "
    grams = []
    for n in sorted(set(CHAR_NGRAMS) | set(CJK_CHAR_NGRAMS)):
        for i in range(len(padded) - n + 1):
            gram = padded[i : i + n]
            if not gram.isspace() and n in (CJK_CHAR_NGRAMS if _RUNS.search(gram) else CHAR_NGRAMS):
                grams.append(gram)
    return grams


CHAR_NGRAMS = (2, 3, 4)
"""The character n-gram lengths of Latin script."""
CJK_CHAR_NGRAMS = (1, 2, 3)
"""The character n-gram lengths holding a Chinese character (a character is often a word)."""
WORD_SHARE = 0.5
"""The share of a text's (unit) feature vector given to its words, the rest to its characters."""
CJK_WORD_SHARE = 0.0
"""The same for a text with Chinese characters: jieba's words are a guess, its characters (1- to
3-grams) are what was written. Chosen on make eval's DEV split: Chinese top-1 rose by 1 to 2
points from an even share (0.3 was in between)."""


def word_share(text: str) -> float:
    """How much of `text`'s feature vector its words get (the rest: its characters)."""
    return CJK_WORD_SHARE if _RUNS.search(text) else WORD_SHARE


def vectorizer(analyzer: Callable[[str], list[str]]) -> "TfidfVectorizer":
    from sklearn.feature_extraction.text import TfidfVectorizer  # on first training (0.8 s)

    return TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, dtype=np.float64)


class Features:
    """A fitted TfidfVectorizer's transform of one text, without scikit-learn's per-call checks
    (a few milliseconds per question): sublinear counts times idf, unit length."""

    def __init__(
        self, fitted: "TfidfVectorizer", analyzer: Callable[[str], list[str]], documents: int
    ) -> None:
        self._vocabulary: dict[str, int] = fitted.vocabulary_
        self._idf: Floats = np.asarray(fitted.idf_, dtype=np.float64)
        # scikit-learn's smoothed idf of a feature in none of the n examples: ln(n + 1) + 1.
        self._unseen_idf = math.log(documents + 1) + 1.0
        self._analyzer = analyzer

    def __call__(self, text: str) -> tuple[NDArray[np.int64], Floats]:
        counts = Counter(self._analyzer(text))
        known = [f for f in counts if f in self._vocabulary]
        if not known:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        index = np.fromiter((self._vocabulary[f] for f in known), np.int64, len(known))
        tf = np.fromiter((1.0 + math.log(counts[f]) for f in known), np.float64, len(known))
        values = tf * self._idf[index]
        norm = float(values @ values)
        # A feature no example has still weighs in the text's length (as it would have in
        # training, with the idf of a feature in no example): a question in other words than
        # the project's is not made of the few it shares ("is", "的") alone. Without this,
        # questions of a left-out class scored higher when asked than in calibration.
        unseen = [1.0 + math.log(c) for f, c in counts.items() if f not in self._vocabulary]
        norm += float(np.sum(np.square(unseen))) * self._unseen_idf**2
        return index, values / math.sqrt(norm)
