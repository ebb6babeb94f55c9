"""The Chinese sets of `make eval` (CrossWOZ, xSID, ChatterBot's questions as out of scope),
cut by prepare.py; see README.md here for what each is and its licence."""

import io
import json
import random
import re
import zipfile
from pathlib import Path
from typing import Any

from cutting import SEED, cut, git_paths, git_show, unique


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
