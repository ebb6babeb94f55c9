"""How the public held-out sets of `make eval` were cut from their corpora (run once; the JSON
files it writes are committed, so `make eval` needs neither this script nor the corpora).

    python eval/public/prepare.py MIRRORS_DIR

MIRRORS_DIR holds bare git copies of the corpora's repositories, named owner+name/repo
(clinc+oos-eval, xliuhw+NLU-Evaluation-Data, PolyAI-LDN+task-specific-datasets,
thu-coai+CrossWOZ, gunthercox+chatterbot-corpus, mainlp+xsid). Classes and examples are drawn
with a fixed seed; see README.md here for what each set is and its licence. Names after
MIRRORS_DIR cut only those sets (e.g. `xsid`).
"""

import csv
import io
import json
import random
import sys
from pathlib import Path
from typing import Any

from chinese import crosswoz, xsid
from cutting import HERE, SEED, cut, git_paths, git_show, unique


def clinc(mirrors: Path) -> dict[str, Any]:
    data = json.loads(git_show(mirrors, "clinc+oos-eval", "data/data_full.json"))
    by_class: dict[str, list[str]] = {}
    # Training examples from train, held-out from test (the corpus's own split).
    rng = random.Random(f"{SEED}:clinc150")  # noqa: S311 (a fixed draw, not a secret)
    names = sorted({label for _, label in data["train"]})
    chosen = sorted(rng.sample(names, 30))
    train = {c: unique([t for t, label in data["train"] if label == c]) for c in chosen}
    for texts in train.values():
        rng.shuffle(texts)
    test = [[t, label] for t, label in data["test"] if label in chosen]
    rng.shuffle(test)
    per_class: dict[str, int] = {}
    kept = []
    for text, label in test:
        if per_class.get(label, 0) < 15:
            per_class[label] = per_class.get(label, 0) + 1
            kept.append([text, label])
    oos = unique([t for t, _ in data["oos_test"]])[:500]
    rng.shuffle(oos)
    del by_class
    return {
        "name": "clinc150",
        "lang": "en",
        "kind": "intents",
        "source": "CLINC150 (Larson et al. 2019), github.com/clinc/oos-eval data/data_full.json",
        "licence": "CC BY 3.0",
        "train": {c: texts[:10] for c, texts in train.items()},
        "test": sorted(kept, key=lambda row: (row[1], row[0])),
        "oos": oos[:200],
    }


def hwu64(mirrors: Path) -> dict[str, Any]:
    repo = "xliuhw+NLU-Evaluation-Data"
    by_class: dict[str, list[str]] = {}
    for path in git_paths(mirrors, repo):
        if "/KFold_1/trainset/" in path or "/KFold_1/testset/csv/" in path:
            rows = csv.DictReader(
                io.StringIO(git_show(mirrors, repo, path).decode()), delimiter=";"
            )
            for row in rows:
                label = f"{row['scenario']}_{row['intent']}"
                by_class.setdefault(label, []).append(row["answer_from_anno"])
    # In scope: every intent of scenarios drawn at random until there are 30; out of scope:
    # questions of the other scenarios (topics the bot does not cover).
    rng = random.Random(f"{SEED}:hwu64:scenarios")  # noqa: S311 (a fixed draw, not a secret)
    scenarios = sorted({label.split("_")[0] for label in by_class})
    rng.shuffle(scenarios)
    inside: dict[str, list[str]] = {}
    for scenario in scenarios:
        if len(inside) >= 30:
            break
        inside |= {c: t for c, t in by_class.items() if c.split("_")[0] == scenario}
    outside = [t for c, ts in sorted(by_class.items()) if c not in inside for t in ts]
    return cut(
        "hwu64",
        inside,
        classes=min(30, sum(len(unique(t)) >= 25 for t in inside.values())),
        train=10,
        test=15,
        oos=outside,
        lang="en",
        kind="intents",
        source="HWU64 (Liu et al. 2019), github.com/xliuhw/NLU-Evaluation-Data, "
        "CrossValidation/.../KFold_1 train and test CSVs; in scope: the intents of scenarios "
        "drawn at random; out of scope: questions of the other scenarios",
        licence="CC BY 4.0",
    )


def banking77(mirrors: Path) -> dict[str, Any]:
    repo = "PolyAI-LDN+task-specific-datasets"
    by_class: dict[str, list[str]] = {}
    for split in ("train", "test"):
        rows = csv.DictReader(
            io.StringIO(git_show(mirrors, repo, f"banking_data/{split}.csv").decode())
        )
        for row in rows:
            by_class.setdefault(row["category"], []).append(row["text"])
    clinc_oos = unique(
        [
            t
            for t, _ in json.loads(git_show(mirrors, "clinc+oos-eval", "data/data_full.json"))[
                "oos_test"
            ]
        ]
    )
    return cut(
        "banking77",
        by_class,
        oos=clinc_oos[500:],
        classes=50,
        train=5,
        test=10,
        lang="en",
        kind="faq",
        source="BANKING77 (Casanueva et al. 2020), github.com/PolyAI-LDN/task-specific-datasets "
        "banking_data/; each category drawn is an FAQ group with 5 paraphrases; out of scope: "
        "CLINC150's out-of-scope test questions (the second half, which clinc150.json does "
        "not use)",
        licence="CC BY 4.0 (BANKING77), CC BY 3.0 (CLINC150)",
    )


CUTS = {
    "clinc150": lambda m: [clinc(m)],
    "hwu64": lambda m: [hwu64(m)],
    "banking77": lambda m: [banking77(m)],
    "crosswoz": crosswoz,
    "xsid": xsid,
}


def main() -> int:
    mirrors = Path(sys.argv[1])
    names = sys.argv[2:] or list(CUTS)
    sets = [data for name in names for data in CUTS[name](mirrors)]
    for data in sets:
        path = HERE / f"{data['name']}.json"
        path.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
        print(
            path,
            len(data["train"]),
            "classes",
            len(data["test"]),
            "held out",
            len(data["oos"]),
            "oos",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
