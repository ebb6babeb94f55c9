"""The engines on public corpora's held-out questions, next to a supervised baseline trained on
the same split in the same run (`make eval`, after the smoke set of eval/).

Each set (eval/public/*.json, cut by eval/public/prepare.py; sources and licences in
eval/public/README.md) has training examples per class, held-out questions of those classes,
and out-of-scope questions no class answers. An intents set is loaded as a project's intents
(one intent per class), an FAQ set as its FAQ (one group per class, its examples the
paraphrases), and every question is asked of the shipped engine (NluModel.understand,
FaqIndex.search), as a turn would.

- top-1 / top-3: the right class ranks first / among the first three (ranking only);
- shipped: the right class ranks first *and* scores at least 0.5, the default chain threshold,
  so that the engine answers (a refusal counts as a miss);
- out of scope: a question is refused when nothing scores 0.5; precision is the share of
  refusals that were out-of-scope questions, recall the share of out-of-scope questions
  refused.

The baseline is Rasa's classic supervised pipeline as the issue set it: TF-IDF (word unigrams;
character 1- to 3-grams for Chinese) and scikit-learn's LogisticRegression with its defaults.
It refuses below a probability chosen the way the engine's own threshold is, by cross-validation
on the training examples (held-out folds for answerable questions, held-out classes for
unanswerable ones, the same objective).
"""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold

from shared.contracts.knowledge import Faq, FaqGroup, Intent, Intents, Lang

from ..engines.knowledge.classifier import REFUSAL_WEIGHT
from ..engines.knowledge.faq import FaqIndex
from ..engines.knowledge.nlu import NluModel

ANSWERS_AT = 0.5
"""The default chain threshold: what the engine answers at as shipped."""
NOW = datetime(2026, 7, 1, 12, 0)
FOLDS = 5


@dataclass(frozen=True)
class Set:
    """One public set: training examples by class, held-out (text, class), out of scope."""

    name: str
    lang: Lang
    kind: str  # "intents" or "faq"
    train: dict[str, list[str]]
    test: list[tuple[str, str]]
    oos: list[str]


@dataclass(frozen=True)
class Answers:
    """What a model made of a set's questions: its ranking and whether it answered."""

    ranked: list[list[str]]  # per held-out question, classes best first
    answered: list[bool]  # per held-out question
    oos_answered: list[bool]  # per out-of-scope question


def load(directory: Path) -> list[Set]:
    """Every set in `directory` (sorted by name)."""
    sets = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        sets.append(
            Set(
                name=data["name"],
                lang=data["lang"],
                kind=data["kind"],
                train=data["train"],
                test=[(t, c) for t, c in data["test"]],
                oos=data["oos"],
            )
        )
    return sets


def _sentence(text: str) -> str:
    """A training example as an intent sentence (braces would be slot marks)."""
    return text.replace("{", "(").replace("}", ")")


def engine(data: Set) -> Answers:
    """The shipped engine trained on `data`'s examples, asked each question."""
    ranked, answered, oos = [], [], []
    names = sorted(data.train)
    if data.kind == "faq":
        index = FaqIndex(
            Faq(
                groups=[
                    FaqGroup(gid=f"g{n}", questions=data.train[name], answer=name)
                    for n, name in enumerate(names)
                ]
            )
        )

        def ask(text: str) -> tuple[list[str], float]:
            match = index.search(text, lang=data.lang, top=5)
            if match is None:
                return [], 0.0
            return [c.answer for c in match.candidates], match.score

    else:
        intents = Intents(
            intents=[
                Intent(name=name, sentences=[_sentence(t) for t in data.train[name]], response=name)
                for name in names
            ]
        )
        model = NluModel(intents)

        def ask(text: str) -> tuple[list[str], float]:
            understood = model.understand(text, lang=data.lang, now=NOW)
            if understood is None:
                return [], 0.0
            return [c.name for c in understood.match.candidates], understood.match.score

    for text, _ in data.test:
        classes, score = ask(text)
        ranked.append(classes)
        answered.append(score >= ANSWERS_AT)
    for text in data.oos:
        oos.append(ask(text)[1] >= ANSWERS_AT)
    return Answers(ranked, answered, oos)


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

    def _calibrate(self, texts: list[str], labels: NDArray[Any]) -> float:
        scores, right, outside = [], [], []
        fewest = int(min(np.unique(labels, return_counts=True)[1]))
        folds = StratifiedKFold(n_splits=min(FOLDS, fewest))
        for train, held in folds.split(texts, labels):
            vectorizer, model = self._fit([texts[i] for i in train], labels[train])
            proba = model.predict_proba(vectorizer.transform([texts[i] for i in held]))
            scores += proba.max(axis=1).tolist()
            right += (model.classes_[proba.argmax(axis=1)] == labels[held]).tolist()
        groups = np.unique(labels, return_inverse=True)[1]
        classes = int(groups.max()) + 1
        if classes < 3:  # a left-out class leaves too few to train on
            return 0.0
        for train, held in GroupKFold(n_splits=min(FOLDS, classes)).split(texts, labels, groups):
            vectorizer, model = self._fit([texts[i] for i in train], labels[train])
            proba = model.predict_proba(vectorizer.transform([texts[i] for i in held]))
            outside += proba.max(axis=1).tolist()
        in_scores, ok, out = np.asarray(scores), np.asarray(right), np.sort(outside)
        best, best_value = 0.0, -1.0
        for t in np.unique(np.r_[in_scores, out]):
            value = float(np.mean(ok & (in_scores >= t))) + REFUSAL_WEIGHT * float(
                np.searchsorted(out, t, side="left") / out.size
            )
            if value > best_value:
                best, best_value = float(t), value
        return best

    def ask(self, texts: Sequence[str]) -> tuple[list[list[str]], list[bool]]:
        proba = self._model.predict_proba(self._vectorizer.transform(texts))
        order = np.argsort(-proba, axis=1)[:, :5]
        ranked = [[str(self._model.classes_[j]) for j in row] for row in order]
        return ranked, (proba.max(axis=1) >= self.threshold).tolist()


def baseline(data: Set) -> Answers:
    """The baseline trained on `data`'s examples, asked each question."""
    texts = [t for name in sorted(data.train) for t in data.train[name]]
    labels = [name for name in sorted(data.train) for _ in data.train[name]]
    model = Baseline(data.lang, texts, labels)
    ranked, answered = model.ask([t for t, _ in data.test])
    _, oos = model.ask(data.oos) if data.oos else ([], [])
    return Answers(ranked, answered, oos)


@dataclass(frozen=True)
class Scores:
    """The figures of one language and kind (sets pooled), for one model."""

    n: int
    oos_n: int
    top1: float
    top3: float
    shipped: float
    oos_precision: float
    oos_recall: float


def scores(sets: list[Set], answers: list[Answers]) -> Scores:
    """`answers` (one per set) scored against the sets' classes."""
    gold = [c for s in sets for _, c in s.test]
    ranked = [r for a in answers for r in a.ranked]
    answered = np.array([x for a in answers for x in a.answered], dtype=bool)
    oos_answered = np.array([x for a in answers for x in a.oos_answered], dtype=bool)
    first = np.array([bool(r) and r[0] == g for r, g in zip(ranked, gold, strict=True)])
    refused_in, refused_out = int((~answered).sum()), int((~oos_answered).sum())
    refused = refused_in + refused_out
    return Scores(
        n=len(gold),
        oos_n=len(oos_answered),
        top1=float(first.mean()) if gold else 0.0,
        top3=float(np.mean([g in r[:3] for r, g in zip(ranked, gold, strict=True)])),
        shipped=float((first & answered).mean()) if gold else 0.0,
        oos_precision=refused_out / refused if refused else 0.0,
        oos_recall=refused_out / len(oos_answered) if len(oos_answered) else 0.0,
    )


def evaluate(directory: Path) -> dict[tuple[str, str], tuple[Scores, Scores, list[str]]]:
    """(engine, baseline, set names) per (language, kind), sets of a pair pooled."""
    sets = load(directory)
    result = {}
    for lang in ("en", "cn"):
        for kind in ("intents", "faq"):
            chosen = [s for s in sets if s.lang == lang and s.kind == kind]
            if chosen:
                ours = scores(chosen, [engine(s) for s in chosen])
                theirs = scores(chosen, [baseline(s) for s in chosen])
                result[(lang, kind)] = (ours, theirs, [s.name for s in chosen])
    return result


def table(result: dict[tuple[str, str], tuple[Scores, Scores, list[str]]]) -> str:
    """The figures as a plain-text table: engine / baseline in each cell."""
    rows = [
        f"{'lang':<4} {'set':<8} {'N':>4} {'OOS':>4}   {'top-1':>11} {'shipped':>11} "
        f"{'top-3':>11}   {'OOS prec.':>11} {'OOS recall':>11}   sets",
    ]
    for (lang, kind), (ours, base, names) in result.items():

        def pair(a: float, b: float) -> str:
            return f"{a:.3f}/{b:.3f}"

        rows.append(
            f"{lang:<4} {kind:<8} {ours.n:>4} {ours.oos_n:>4}   {pair(ours.top1, base.top1):>11} "
            f"{pair(ours.shipped, base.shipped):>11} {pair(ours.top3, base.top3):>11}   "
            f"{pair(ours.oos_precision, base.oos_precision):>11} "
            f"{pair(ours.oos_recall, base.oos_recall):>11}   {', '.join(names)}"
        )
    return "\n".join(rows)


def training_speed(directory: Path, groups: int = 500) -> str:
    """How long a `groups`-group FAQ (two paraphrases each, from the sets' examples) takes to
    train, and a question to answer, in this process."""
    texts = [t for s in load(directory) for name in sorted(s.train) for t in s.train[name]]
    pairs = [texts[i : i + 2] for i in range(0, 2 * groups, 2)]
    faq = Faq(
        groups=[FaqGroup(gid=f"g{n}", questions=q, answer=str(n)) for n, q in enumerate(pairs)]
    )
    wall, cpu = time.perf_counter(), time.process_time()
    index = FaqIndex(faq)
    trained, trained_cpu = time.perf_counter() - wall, time.process_time() - cpu
    questions = texts[2 * groups : 2 * groups + 200] or texts[:200]
    wall, cpu = time.perf_counter(), time.process_time()
    for question in questions:
        index.search(question, lang="cn" if not question.isascii() else "en")
    asked = (time.perf_counter() - wall) / len(questions)
    asked_cpu = (time.process_time() - cpu) / len(questions)
    return (
        f"training: {groups} FAQ groups ({sum(len(q) for q in pairs)} paraphrases) in "
        f"{trained:.2f} s ({trained_cpu:.2f} s CPU); a question answered in "
        f"{asked * 1000:.2f} ms ({asked_cpu * 1000:.2f} ms CPU)"
    )
