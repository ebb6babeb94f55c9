"""The supervised baseline of `make eval`: Rasa's classic pipeline as issue 22 set it, TF-IDF
(word unigrams; character 1- to 3-grams for Chinese) and scikit-learn's LogisticRegression with
its defaults. It refuses below a probability chosen the way the engine's own threshold used to
be, by cross-validation on the training examples (held-out folds for answerable questions,
held-out classes for unanswerable ones, answered-right plus half the refused)."""

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold

from shared.contracts.knowledge import Lang

from .public_sets import Set

FOLDS = 5
REFUSAL_WEIGHT = 0.5
"""How much a refused unanswerable question counts against an answerable one answered right."""


class Baseline:
    """TF-IDF + logistic regression, refusing below a cross-validated probability."""

    def __init__(self, lang: Lang, texts: Sequence[str], labels: Sequence[str]) -> None:
        self._lang = lang
        self._vectorizer, self._model = self._fit(texts, labels)
        self.threshold = self._calibrate(list(texts), np.asarray(labels, dtype=object))

    def _fit(
        self, texts: Sequence[str], labels: Sequence[str]
    ) -> tuple[TfidfVectorizer, LogisticRegression]:
        if self._lang == "cn":
            vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
        else:
            vectorizer = TfidfVectorizer()
        model = LogisticRegression(max_iter=2000)
        model.fit(vectorizer.fit_transform(texts), labels)
        return vectorizer, model

    def _held_out(self, texts: list[str], labels: NDArray[Any], folds: Any) -> list[Any]:
        """Per fold of `folds`: the probabilities of its held-out texts, and their labels."""
        out = []
        for train, held in folds:
            vectorizer, model = self._fit([texts[i] for i in train], labels[train])
            proba = model.predict_proba(vectorizer.transform([texts[i] for i in held]))
            out.append((proba, model.classes_, labels[held]))
        return out

    def _calibrate(self, texts: list[str], labels: NDArray[Any]) -> float:
        fewest = int(min(np.unique(labels, return_counts=True)[1]))
        folds = StratifiedKFold(n_splits=max(2, min(FOLDS, fewest))).split(texts, labels)
        scores: list[float] = []
        right: list[bool] = []
        for proba, classes, gold in self._held_out(texts, labels, folds):
            scores += proba.max(axis=1).tolist()
            right += (classes[proba.argmax(axis=1)] == gold).tolist()
        groups = np.unique(labels, return_inverse=True)[1]
        classes_n = int(groups.max()) + 1
        if classes_n < 3 or fewest < 2:  # a left-out class leaves too few to train on
            return 0.0
        by_class = GroupKFold(n_splits=min(FOLDS, classes_n)).split(texts, labels, groups)
        outside = sorted(
            p for proba, _, _ in self._held_out(texts, labels, by_class) for p in proba.max(axis=1)
        )
        in_scores, ok, out = np.asarray(scores), np.asarray(right), np.asarray(outside)
        best, best_value = 0.0, -1.0
        for t in np.unique(np.r_[in_scores, out]):
            value = float(np.mean(ok & (in_scores >= t))) + REFUSAL_WEIGHT * float(
                np.searchsorted(out, t, side="left") / out.size
            )
            if value > best_value:
                best, best_value = float(t), value
        return best

    def ask(self, texts: Sequence[str]) -> tuple[list[list[str]], list[bool]]:
        """Per text, the classes best first (five) and whether it is answered."""
        proba = self._model.predict_proba(self._vectorizer.transform(texts))
        order = np.argsort(-proba, axis=1)[:, :5]
        ranked = [[str(self._model.classes_[j]) for j in row] for row in order]
        return ranked, (proba.max(axis=1) >= self.threshold).tolist()


def baseline(data: Set) -> tuple[list[list[str]], list[bool], list[bool]]:
    """The baseline trained on `data`'s examples: its ranking and answers of the held-out
    questions, and its answers of the out-of-scope ones."""
    texts = [t for name in sorted(data.train) for t in data.train[name]]
    labels = [name for name in sorted(data.train) for _ in data.train[name]]
    with warnings.catch_warnings():
        # A DEV split may leave a class one example: scikit-learn says so, and still fits.
        warnings.simplefilter("ignore", UserWarning)
        model = Baseline(data.lang, texts, labels)
    ranked, answered = model.ask([t for t, _ in data.test])
    _, oos = model.ask(data.oos) if data.oos else ([], [])
    return ranked, answered, oos
