"""FAQ retrieval: the groups whose paraphrases are closest to a question, scored 0..1."""

import numpy as np

from shared.contracts.knowledge import Faq, FaqCandidate, FaqGroup, FaqMatch, Lang

from .text import SentenceIndex


class FaqIndex:
    """A project's FAQ, indexed once and searched many times.

    Every paraphrase of every group is a sentence of one SentenceIndex; a group scores as its
    best paraphrase.
    """

    def __init__(self, faq: Faq) -> None:
        """Index every paraphrase of `faq`."""
        self._groups = faq.groups
        self._group_of = np.array(
            [n for n, group in enumerate(faq.groups) for _ in group.questions], dtype=np.int32
        )
        self._questions = [q for group in faq.groups for q in group.questions]
        self._skill = np.array([g.skillname for g in faq.groups for _ in g.questions], dtype=object)
        self._index = SentenceIndex(self._questions)

    def search(
        self, text: str, *, lang: Lang, skill: str | None = None, top: int = 5
    ) -> FaqMatch | None:
        """The groups that best answer `text`, best first, one candidate per group.

        Args:
            text: The question as the user said it (any length; only the start is read).
            lang: The caller's language. Words are told apart by script instead, so Chinese
                sent with lang="en" is still understood (from the Chinese paraphrases).
            skill: Only groups with this skillname, when given.
            top: At most this many candidates.

        Returns:
            The match, or None when no group scores above 0 (or the FAQ is empty).
        """
        scores = self._index.scores(text)
        if skill is not None:
            scores[self._skill != skill] = 0.0
        candidates: list[FaqCandidate] = []
        seen: set[int] = set()
        for n in np.argsort(-scores, kind="stable"):
            if scores[n] <= 0 or len(candidates) >= top:
                break
            group = int(self._group_of[n])
            if group not in seen:
                seen.add(group)
                candidates.append(self._candidate(self._groups[group], n, float(scores[n])))
        if not candidates:
            return None
        best = self._groups[int(self._group_of[np.argmax(scores)])]  # the first candidate's
        return FaqMatch(
            gid=best.gid, skillname=best.skillname, labels=best.labels, candidates=candidates
        )

    def _candidate(self, group: FaqGroup, n: int, score: float) -> FaqCandidate:
        return FaqCandidate(
            score=score,
            gid=group.gid,
            question=self._questions[n],
            answer=group.answer,
            skillname=group.skillname,
            labels=group.labels,
        )
