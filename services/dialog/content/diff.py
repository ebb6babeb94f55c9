"""What changed between two content versions, part by part, as unified diffs of each part's text
form: an AIML file or behaviour tree as stored, maps / sets / properties as they are, the FAQ,
intents, state machine and chain as YAML. Pure: the caller loads the texts.

Files are compared by digest first, so only the texts of files that differ need loading.
"""

import difflib
from collections.abc import Iterable, Iterator
from typing import Any

import yaml

from shared.contracts.content import BotContent, ContentFile, PartDiff

TEXT_PARTS = ("maps", "sets", "properties")
DOCUMENT_PARTS = ("faq", "intents", "machine", "chain")
CONTEXT_LINES = 3


def file_digests(content: BotContent) -> dict[str, str]:
    """Each file part of a version (aiml/<name>, behavior/<name>, document/<name>) and its
    digest."""
    return {
        **_named("aiml", content.aiml_files),
        **_named("behavior", content.behaviors),
        **_named("document", content.documents),
    }


def changed_files(old: dict[str, str], new: dict[str, str]) -> set[str]:
    """The digests whose texts a diff of these two versions needs."""
    return {
        digest
        for side, other in ((old, new), (new, old))
        for part, digest in side.items()
        if other.get(part) != digest
    }


def text_forms(content: BotContent) -> dict[str, str]:
    """The parts that are not files, as text ("" when a part is empty or not there)."""
    forms = {part: getattr(content, part) for part in TEXT_PARTS}
    for part in DOCUMENT_PARTS:
        model = getattr(content, part)
        data: Any = model.model_dump(mode="json", exclude_defaults=True) if model else None
        forms[part] = yaml.safe_dump(data, allow_unicode=True, sort_keys=False) if data else ""
    return forms


def diff_parts(old: dict[str, str], new: dict[str, str]) -> list[PartDiff]:
    """The parts whose texts differ (a part missing on one side is empty there), aiml files
    first, then the other parts in a fixed order, behaviour trees last."""
    found = []
    for part in sorted(old.keys() | new.keys(), key=_order):
        before, after = old.get(part, ""), new.get(part, "")
        if before == after:
            continue
        change = "added" if not before else "removed" if not after else "changed"
        lines = difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{part}",
            tofile=f"b/{part}",
            n=CONTEXT_LINES,
        )
        found.append(PartDiff(part=part, change=change, diff="".join(_ended(lines))))
    return found


def _named(kind: str, files: list[ContentFile]) -> dict[str, str]:
    return {f"{kind}/{file.name}": file.sha256 for file in files}


def _order(part: str) -> tuple[int, str]:
    kind = part.split("/", 1)[0]
    ranks = ("aiml", *TEXT_PARTS, *DOCUMENT_PARTS, "behavior", "document")
    return (ranks.index(kind) if kind in ranks else len(ranks), part)


def _ended(lines: Iterable[str]) -> Iterator[str]:
    """Diff lines, each ending in a newline (a last line without one gets difflib's marker)."""
    for line in lines:
        yield line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n"
