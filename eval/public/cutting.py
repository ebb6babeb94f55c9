"""What prepare.py and chinese.py share: reading the corpora's git copies, and drawing a set's
classes, training examples and held-out questions with the fixed SEED."""

import random
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SEED = 22


def git_show(mirrors: Path, repo: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(mirrors / repo / "repo"), "show", f"HEAD:{path}"],
        check=True,
        capture_output=True,
    ).stdout


def git_paths(mirrors: Path, repo: str) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(mirrors / repo / "repo"), "ls-tree", "-r", "--name-only", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.splitlines()


def unique(texts: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for text in texts:
        key = " ".join(text.casefold().split())
        if key and key not in seen:
            seen.add(key)
            out.append(text.strip())
    return out


def cut(
    name: str,
    by_class: dict[str, list[str]],
    *,
    classes: int,
    train: int,
    test: int,
    oos: list[str] | None = None,
    oos_n: int = 200,
    **meta: Any,
) -> dict[str, Any]:
    """`classes` classes with at least train + test examples: `train` of each to train on,
    `test` held out; out-of-scope questions from `oos`, else from the classes not drawn."""
    rng = random.Random(f"{SEED}:{name}")  # noqa: S311 (a fixed draw, not a secret)
    eligible = sorted(c for c, texts in by_class.items() if len(unique(texts)) >= train + test)
    chosen = sorted(rng.sample(eligible, classes))
    result_train, result_test = {}, []
    for c in chosen:
        texts = unique(by_class[c])
        rng.shuffle(texts)
        result_train[c] = texts[:train]
        result_test += [[t, c] for t in texts[train : train + test]]
    if oos is None:
        oos = [t for c in sorted(by_class) if c not in chosen for t in unique(by_class[c])]
    seen = {" ".join(t.casefold().split()) for ts in result_train.values() for t in ts}
    oos = [t for t in unique(oos) if " ".join(t.casefold().split()) not in seen]
    rng.shuffle(oos)
    return {"name": name, **meta, "train": result_train, "test": result_test, "oos": oos[:oos_n]}
