"""The public sets of `make eval` (eval/public/*.json) and the two splits every figure comes
from: TEST and DEV.

- TEST is what each file holds: the training examples per class, the held-out questions of
  those classes, and the out-of-scope questions (cut once by eval/public/prepare.py with its
  fixed SEED). `make eval` reports TEST figures; nothing is chosen by looking at them.
- DEV is carved from the training examples only, with the seeds DEV_SEEDS: per seed, a share
  of each set's classes is left out and a share of each remaining class's examples is held
  out as its questions. It asks as many out-of-scope questions per question as TEST does
  (refusals' precision depends on that share): half of them the left-out classes' examples
  (near the project's topics), half training examples of the language's other corpora (other
  topics, as most of TEST's out of scope are). Every modelling choice (features,
  regularisation, calibration method, weights) is made on DEV, pooled over seeds.
"""

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

from shared.contracts.knowledge import Lang

DEV_SEEDS = tuple(range(2201, 2211))
"""The DEV splits' seeds (committed, so DEV figures can be reproduced)."""
DEV_CLASSES_OUT = 0.2
"""Share of a set's classes left out of DEV training: their examples are its out of scope."""
DEV_EXAMPLES_OUT = 0.2
"""Share of each remaining class's examples held out as DEV questions."""


@dataclass(frozen=True)
class Set:
    """One public set: training examples by class, held-out (text, class), out of scope."""

    name: str
    lang: Lang
    kind: str  # "intents" or "faq"
    train: dict[str, list[str]]
    test: list[tuple[str, str]]
    oos: list[str]


def load(directory: Path) -> list[Set]:
    """Every set in `directory` (sorted by name), as its TEST split."""
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


def corpus(data: Set) -> str:
    """The corpus a set was cut from (an FAQ set and an intents set may share one)."""
    return data.name.split("@")[0].removesuffix("_faq")


def dev_split(
    data: Set, seed: int, foreign: list[str] | None = None, excluded: frozenset[str] = frozenset()
) -> Set:
    """`data`'s DEV split for `seed`: made of its training examples only (its held-out and
    out-of-scope questions are not read) but those `excluded` (another set's TEST questions),
    with `foreign` (other corpora's training examples) as half its out of scope."""
    rng = random.Random(f"{seed}:{data.name}")  # noqa: S311 (a fixed draw, not a secret)
    names = sorted(data.train)
    left_out = set(rng.sample(names, max(1, round(len(names) * DEV_CLASSES_OUT))))
    train: dict[str, list[str]] = {}
    test: list[tuple[str, str]] = []
    oos: list[str] = []
    for name in names:
        examples = [t for t in data.train[name] if t not in excluded]
        rng.shuffle(examples)
        if not examples:
            continue
        if name in left_out:
            oos += examples
            continue
        held = min(len(examples) - 1, max(1, round(len(examples) * DEV_EXAMPLES_OUT)))
        test += [(t, name) for t in examples[:held]]
        train[name] = examples[held:]
    # As many out-of-scope questions per question as TEST asks (precision depends on it),
    # half of them near (the left-out classes) and half far (other corpora) where there are.
    wanted = max(2, round(len(test) * len(data.oos) / max(1, len(data.test))))
    near = rng.sample(oos, min(len(oos), wanted // 2 if foreign else wanted))
    far = rng.sample(sorted(foreign or []), min(len(foreign or []), wanted - len(near)))
    return replace(data, name=f"{data.name}@{seed}", train=train, test=test, oos=near + far)


def dev_sets(sets: list[Set], seeds: tuple[int, ...] = DEV_SEEDS) -> list[Set]:
    """The DEV splits of `sets`, one per seed each."""
    splits = []
    asked = frozenset(t for data in sets for t in data.oos) | {t for s in sets for t, _ in s.test}
    for data in sets:
        foreign = [
            t
            for other in sets
            if other.lang == data.lang and corpus(other) != corpus(data)
            for texts in other.train.values()
            for t in texts
            if t not in asked  # a TEST question of another set is not asked on DEV
        ]
        splits += [dev_split(data, seed, foreign, asked) for seed in seeds if len(data.train) >= 3]
    return splits
