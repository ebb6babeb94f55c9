"""Answers from a project's documents: each document split into passages of a few paragraphs
under their section heading, the passages indexed with BM25 (bm25s, over the Snowball stems and
jieba words of knowledge.text), and the best passages of a question found with their sources.

The index is built once per set of documents (a content version's) and only read afterwards;
searching is pure and blocking (run it in a thread). Without a language model the answer is
extractive: the sentences of the best passage that share most of the question's words.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shared.documents import pages

from .text import tokenise

PASSAGE_WORDS = 120
"""A passage is closed once it holds this many words (a paragraph is never cut unless it alone
is longer: then it is cut at sentence ends)."""
ANSWER_SENTENCES = 2
TOP = 3
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*(?:\{\s*#[\w-]+\s*\})?\s*#*\s*$")
_SENTENCE_END = re.compile("(?<=[.!?\u3002\uff01\uff1f])\\s+|(?<=[\u3002\uff01\uff1f])")
MAX_HEADING = 300  # longer lines are never headings (and _HEADING backtracks on long lines)
_MARKUP = re.compile(r"^\s*(```.*|///.*|\{\*.*\*\}|<!--.*-->|---+|===+|\|[-:| ]+\|)\s*$")


@dataclass(frozen=True)
class Passage:
    """A piece of a document: its text, where it is, and the heading it sits under."""

    source: str
    page: int
    section: str
    text: str

    @property
    def quoted(self) -> str:
        """The passage as an answer quotes it: its heading, then its text."""
        return f"{self.section}\n{self.text}" if self.section else self.text


@dataclass(frozen=True)
class Hit:
    """A passage found for a question, and how much of the question it covers (0..1: the
    share of the question's word weight, by inverse document frequency, found in it)."""

    passage: Passage
    score: float


def split(source: str, text: str, *, words: int = PASSAGE_WORDS) -> list[Passage]:
    """The passages of one document's text (pages apart by form feeds), in reading order."""
    found: list[Passage] = []
    section = ""
    for number, page in enumerate(pages(text), 1):
        pending: list[str] = []
        for paragraph in _paragraphs(page):
            heading = _heading(paragraph)
            if heading is not None:
                _close(found, pending, Passage(source, number, section, ""))
                section = heading.group(2)
                continue
            for piece in _pieces(paragraph, words):
                if pending and _count("\n".join([*pending, piece])) > words:
                    _close(found, pending, Passage(source, number, section, ""))
                pending.append(piece)
        _close(found, pending, Passage(source, number, section, ""))
    return found


def _close(found: list[Passage], pending: list[str], where: Passage) -> None:
    """The paragraphs gathered so far become a passage at `where` (its text left empty)."""
    if pending:
        found.append(Passage(where.source, where.page, where.section, "\n\n".join(pending)))
        pending.clear()


def _paragraphs(page: str) -> list[str]:
    """The paragraphs of a page (headings on their own), markup-only lines left out."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", page):
        lines = [line for line in block.splitlines() if line.strip() and not _MARKUP.match(line)]
        current: list[str] = []
        for line in lines:
            if _heading(line.strip()):
                if current:
                    out.append(" ".join(current))
                    current = []
                out.append(line.strip())
            else:
                current.append(line.strip())
        if current:
            out.append(" ".join(current))
    return out


def _count(text: str) -> int:
    return len(text.split()) + sum(1 for c in text if "\u4e00" <= c <= "\u9fff") // 2


def _pieces(paragraph: str, words: int) -> list[str]:
    """A paragraph as it is, or cut at sentence ends when it alone is over `words` words."""
    if _count(paragraph) <= words:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(paragraph):
        if current and _count(current + " " + sentence) > words:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


class DocumentIndex:
    """The passages of a set of documents, indexed once and searched many times."""

    def __init__(self, documents: Sequence[tuple[str, str]]) -> None:
        """Split and index `documents`, each (name, extracted text)."""
        self.passages = [p for name, text in documents for p in split(name, text)]
        self.sources = sorted({name for name, _ in documents})
        titles = {name: _title(name, text) for name, text in documents}
        import bm25s  # on the first index of a process (0.2 s)

        self._bm25 = bm25s.BM25()
        self._idf: dict[str, float] = {}
        if not self.passages:
            return
        corpus = [
            tokenise(f"{titles[p.source]} {p.section} {p.section} {p.text}") for p in self.passages
        ]
        self._bm25.index(corpus, show_progress=False)
        n = len(corpus)
        frequency: dict[str, int] = {}
        for tokens in corpus:
            for token in set(tokens):
                frequency[token] = frequency.get(token, 0) + 1
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}
        self._unseen = math.log(1 + (n + 0.5) / 0.5)

    def search(self, question: str, *, top: int = TOP) -> list[Hit]:
        """The passages that best answer `question`, best first (none when no word of it
        occurs in any passage)."""
        tokens = tokenise(question)
        ids = sorted(set(self._bm25.get_tokens_ids(tokens))) if self.passages else []
        if not ids:
            return []
        scores = self._bm25.get_scores_from_ids(ids)
        order = np.argsort(-scores, kind="stable")[:top]
        return [
            Hit(self.passages[n], self._coverage(tokens, self.passages[n]))
            for n in order
            if scores[n] > 0
        ]

    def _coverage(self, tokens: list[str], passage: Passage) -> float:
        wanted = set(tokens)
        weight = {t: self._idf.get(t, self._unseen) for t in wanted}
        total = sum(weight.values())
        if total <= 0:
            return 0.0
        there = set(tokenise(f"{passage.section} {passage.text}"))
        return round(sum(w for t, w in weight.items() if t in there) / total, 4)


def extract_answer(question: str, passage: Passage, *, sentences: int = ANSWER_SENTENCES) -> str:
    """The sentences of `passage` that share most of the question's words (at most
    `sentences` of them, in the passage's order; the first alone when none shares any)."""
    wanted = set(tokenise(question))
    candidates = [s.strip() for s in _SENTENCE_END.split(passage.text) if s.strip()]
    if len(candidates) <= sentences:
        return " ".join(candidates)
    shared = [len(wanted & set(tokenise(s))) for s in candidates]
    best = sorted(range(len(candidates)), key=lambda n: (-shared[n], n))[:sentences]
    kept = [n for n in best if shared[n] > 0] or best[:1]  # no sentence sharing nothing
    return " ".join(candidates[n] for n in sorted(kept))


def _heading(line: str) -> re.Match[str] | None:
    """A Markdown heading, matched only on a short line: on a long line of blanks and hashes
    the pattern's backtracking is quadratic (0.55 s at 24,000 characters), and it holds the
    GIL, so a hostile upload would stall the replica's turns."""
    return _HEADING.match(line) if len(line) <= MAX_HEADING else None


def _title(name: str, text: str) -> str:
    """A document's title: its first heading, else its name without the suffix."""
    for line in text.splitlines()[:50]:
        heading = _heading(line.strip())
        if heading is not None:
            return heading.group(2)
    stem = name.rsplit("/", 1)[-1]
    return stem.rsplit(".", 1)[0].replace("-", " ").replace("_", " ")
