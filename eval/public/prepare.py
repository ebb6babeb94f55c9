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
import re
import subprocess
import sys
import zipfile
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


def crosswoz_turns(mirrors: Path) -> dict[str, list[str]]:
    """User turns of CrossWOZ's val and test dialogues by what they ask: the (domain, slot)
    pairs of their Request acts, or their General acts when they request nothing."""
    by_class: dict[str, list[str]] = {}
    for split in ("val", "test"):
        raw = git_show(mirrors, "thu-coai+CrossWOZ", f"data/crosswoz/{split}.json.zip")
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            dialogues = json.loads(archive.read(f"{split}.json"))
        for dialogue in dialogues.values():
            for message in dialogue["messages"]:
                if message["role"] != "usr":
                    continue
                acts = message["dialog_act"]
                # What is asked, without the place it is asked of unless that is the question:
                # "它家电话是多少" is the same question of a hotel and of a restaurant.
                asked = sorted(
                    {
                        a[2] if a[2] != "名称" else f"{a[1]}-{a[2]}"
                        for a in acts
                        if a[0] == "Request"
                    }
                )
                general = sorted({a[1] for a in acts if a[0] == "General"})
                label = "+".join(asked) if asked else "+".join(general)
                if label and len(asked) <= 1:
                    by_class.setdefault(label, []).append(message["content"])
    return by_class


def chatterbot_zh(mirrors: Path) -> list[str]:
    """The Chinese (simplified) questions of the ChatterBot corpus: chit-chat and trivia that
    a travel bot does not answer (greetings and thanks left out: CrossWOZ has them)."""
    import yaml

    texts = []
    repo = "gunthercox+chatterbot-corpus"
    for path in git_paths(mirrors, repo):
        if path.startswith("chatterbot_corpus/data/chinese/") and not path.endswith(
            "greetings.yml"
        ):
            data = yaml.safe_load(git_show(mirrors, repo, path))
            texts += [str(c[0]) for c in data.get("conversations", []) if c]
    return [t for t in unique(texts) if not any(w in t for w in ("谢", "你好", "您好", "再见"))]


def crosswoz(mirrors: Path) -> list[dict[str, Any]]:
    turns = crosswoz_turns(mirrors)
    chatter = chatterbot_zh(mirrors)
    random.Random(f"{SEED}:chatterbot").shuffle(chatter)  # noqa: S311 (a fixed draw, not a secret)
    half = len(chatter) // 2
    source = (
        "CrossWOZ (Zhu et al. 2020), github.com/thu-coai/CrossWOZ data/crosswoz/"
        "{val,test}.json.zip: a user turn's class is what its one Request act asks "
        "(the slot; domain-名称 when it asks for a place) or its General act; out of scope: "
        "the Chinese questions of the "
        "ChatterBot corpus, github.com/gunthercox/chatterbot-corpus chatterbot_corpus/data/chinese"
    )
    licence = "Apache-2.0 (CrossWOZ), BSD-3-Clause (ChatterBot corpus)"
    intents = cut(
        "crosswoz",
        turns,
        classes=15,
        train=10,
        test=15,
        oos=chatter[:half],
        lang="cn",
        kind="intents",
        source=source,
        licence=licence,
    )
    faq = cut(
        "crosswoz_faq",
        turns,
        classes=len([c for c, t in turns.items() if len(unique(t)) >= 15]),
        train=5,
        test=10,
        oos=chatter[half:],
        lang="cn",
        kind="faq",
        source=source + "; each class drawn is an FAQ group with 5 paraphrases",
        licence=licence,
    )
    return [intents, faq]


XSID = "data/xSID-0.7"
_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
_TOKEN_SPACE = re.compile(f"(?<=[{_CJK}]) +| +(?=[{_CJK}])")


def xsid_split(mirrors: Path, split: str) -> dict[str, list[str]]:
    """The Chinese sentences of one xSID split by intent (`# text =`, `# intent =`)."""
    by_class: dict[str, list[str]] = {}
    text = ""
    for line in git_show(mirrors, "mainlp+xsid", f"{XSID}/zh.{split}.conll").decode().splitlines():
        if line.startswith("# text = "):
            # xSID separates words by spaces; Chinese is written without them.
            text = _TOKEN_SPACE.sub("", line.removeprefix("# text = ").strip())
        elif line.startswith("# intent = ") and text:
            by_class.setdefault(line.removeprefix("# intent = ").strip(), []).append(text)
    return by_class


def xsid_cut(
    name: str, valid: dict[str, list[str]], test: dict[str, list[str]], oos: list[str], **meta: Any
) -> dict[str, Any]:
    """Every intent with `train` sentences in xSID's valid split and `held` in its test split
    (the corpus's own split): training examples from valid, held-out questions from test."""
    train_n, held_n = meta.pop("train"), meta.pop("held")
    rng = random.Random(f"{SEED}:{name}")  # noqa: S311 (a fixed draw, not a secret)
    chosen = sorted(
        c
        for c in valid
        if len(unique(valid[c])) >= train_n and len(unique(test.get(c, []))) >= held_n
    )
    result_train, result_test = {}, []
    for c in chosen:
        examples, questions = unique(valid[c]), unique(test[c])
        rng.shuffle(examples)
        rng.shuffle(questions)
        result_train[c] = examples[:train_n]
        result_test += [[t, c] for t in questions[:held_n]]
    outside = unique(oos)
    rng.shuffle(outside)
    return {"name": name, **meta, "train": result_train, "test": result_test, "oos": outside[:200]}


def xsid(mirrors: Path) -> list[dict[str, Any]]:
    """xSID's Chinese (a translation of SNIPS and Facebook's English task-oriented queries:
    weather, alarms, reminders, music, restaurants, films, books) as intents and as an FAQ;
    out of scope: the ChatterBot corpus's Chinese questions."""
    valid, test = xsid_split(mirrors, "valid"), xsid_split(mirrors, "test")
    source = (
        "xSID 0.7 (van der Goot et al. 2021), github.com/mainlp/xsid data/xSID-0.7/zh.valid.conll "
        "(training examples) and zh.test.conll (held out); out of scope: the Chinese questions "
        "of the ChatterBot corpus, github.com/gunthercox/chatterbot-corpus"
    )
    licence = "CC BY-SA 4.0 (xSID; this subset is shared under it), BSD-3-Clause (ChatterBot)"
    chatter = chatterbot_zh(mirrors)
    common = {"lang": "cn", "source": source, "licence": licence}
    return [
        xsid_cut("xsid", valid, test, chatter, kind="intents", train=10, held=15, **common),
        xsid_cut("xsid_faq", valid, test, chatter, kind="faq", train=5, held=10, **common),
    ]


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
