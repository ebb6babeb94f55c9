"""FAQ retrieval: the groups that answer a question, scored 0..1 by the project's own classifier
(every group a class, all its paraphrases its examples), 0.5 at the calibrated threshold."""

import numpy as np
from numpy.typing import NDArray

from shared.contracts.knowledge import Faq, FaqCandidate, FaqGroup, FaqMatch, Lang

from .classifier import TextClassifier
from .text import EXACT, MAX_CHARS, NEAR, is_cjk, normalise, tokenise

WEAK_EVIDENCE = 0.5
"""A group none of whose paraphrases shares a meaningful word (a stem or a Chinese word, not a
stopword) with the question keeps this much of its score, below the default threshold: the
classifier also weighs function words and character n-grams, which questions about anything
else share too ("what is the highest belt in karate" is no question about card delivery)."""


def script_classes(
    labels: NDArray[np.int64], chinese: NDArray[np.bool_], classes: int
) -> NDArray[np.bool_]:
    """Which classes have Chinese examples (row 1) and which have others (row 0)."""
    has = np.zeros((2, classes), dtype=bool)
    has[chinese.astype(np.int64), labels] = True
    return has


class FaqIndex:
    """A project's FAQ, trained once and searched many times.

    A question is answered by the groups the classifier ranks first; a group's candidate shows
    its paraphrase closest to the question. A paraphrase itself (after normalise()) scores 1,
    anything else at most 0.99, and half its score when it shares no meaningful word with the
    question. A Chinese question is only answered by groups with Chinese
    paraphrases, and other questions by groups with other paraphrases.
    """

    def __init__(self, faq: Faq) -> None:
        """Train on every paraphrase of `faq` (blocking: about 0.1 s per thousand)."""
        self._groups = faq.groups
        labels = [n for n, group in enumerate(faq.groups) for _ in group.questions]
        self._questions = [q for group in faq.groups for q in group.questions]
        self._label = np.asarray(labels, dtype=np.int64)
        self._skill = np.array([g.skillname for g in faq.groups], dtype=object)
        self._model = TextClassifier(self._questions, labels)
        chinese = np.array([is_cjk(q) for q in self._questions], dtype=bool)
        self._script = script_classes(self._label, chinese, len(faq.groups))
        self._words = [frozenset(tokenise(q)) for q in self._questions]
        groups_of: dict[str, set[int]] = {}
        for n, words in enumerate(self._words):
            for word in words:
                groups_of.setdefault(word, set()).add(labels[n])
        self._groups_of = {w: np.fromiter(g, np.int64, len(g)) for w, g in groups_of.items()}
        self._exact: dict[str, list[int]] = {}
        for n, question in enumerate(self._questions):
            self._exact.setdefault(normalise(question), []).append(n)

    @property
    def threshold(self) -> float:
        """The calibrated raw threshold (what scores 0.5)."""
        return self._model.calibration.threshold

    def search(
        self, text: str, *, lang: Lang, skill: str | None = None, top: int = 5
    ) -> FaqMatch | None:
        """The groups that best answer `text`, best first, one candidate per group.

        Args:
            text: The question as the user said it (any length; only the start is read).
            lang: The caller's language. Scripts are told apart by their characters instead,
                so Chinese sent with lang="en" is still understood.
            skill: Only groups with this skillname, when given.
            top: At most this many candidates.

        Returns:
            The match, or None when no group shares anything with the question (or the FAQ
            is empty).
        """
        text = text[:MAX_CHARS]
        if not self._groups or not normalise(text):
            return None
        similar = self._model.similarities(text)
        scores = self._model.confidence(self._model.decisions(similar))
        np.minimum(scores, NEAR, out=scores)
        related = np.zeros(len(self._groups), dtype=bool)
        related[self._label[similar > 0]] = True
        words = frozenset(tokenise(text))
        backed = np.zeros(len(self._groups), dtype=bool)
        for word in words & self._groups_of.keys():
            backed[self._groups_of[word]] = True
        scores[~backed] *= WEAK_EVIDENCE
        exact = self._exact.get(normalise(text), [])
        scores[self._label[exact]] = EXACT
        allowed = related & self._script[int(is_cjk(text))]
        allowed[self._label[exact]] = True
        if skill is not None:
            allowed &= self._skill == skill
        order = np.argsort(-scores, kind="stable")
        ranked = [int(g) for g in order[allowed[order]][:top]]
        if not ranked:
            return None
        candidates = [self._candidate(g, float(scores[g]), words, similar, exact) for g in ranked]
        best = self._groups[ranked[0]]
        return FaqMatch(
            gid=best.gid, skillname=best.skillname, labels=best.labels, candidates=candidates
        )

    def _candidate(
        self,
        group: int,
        score: float,
        words: frozenset[str],
        similar: NDArray[np.float64],
        exact: list[int],
    ) -> FaqCandidate:
        mine = [n for n in exact if self._label[n] == group]
        if not mine:
            # The paraphrase sharing most meaningful words with the question, then the most
            # similar overall.
            rows = np.flatnonzero(self._label == group)
            mine = [int(max(rows, key=lambda n: (len(words & self._words[n]), similar[n])))]
        g: FaqGroup = self._groups[group]
        return FaqCandidate(
            score=min(max(score, 0.0), 1.0),
            gid=g.gid,
            question=self._questions[mine[0]],
            answer=g.answer,
            skillname=g.skillname,
            labels=g.labels,
        )
