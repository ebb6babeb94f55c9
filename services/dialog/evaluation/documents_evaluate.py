"""How well answers from documents find their source passage (`make eval`, its document part).

    python -m services.dialog.evaluation.documents_evaluate [--documents eval/documents/fastapi]
        [--heldout eval/documents_heldout.yaml]

Indexes every .md, .html, .txt and .pdf file under --documents as an upload would be (the same
extraction and splitting), asks each held-out question, and counts a hit when one of the top
passages comes from the question's `source` and contains its `evidence`. Prints the set's size
(files, characters, pages of 3,000 characters) and top-1 / top-3 accuracy.
"""

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from shared.documents import extract, kind_of

from ..engines.knowledge.documents import DocumentIndex

DOCUMENTS = Path("eval/documents/fastapi")
HELDOUT = Path("eval/documents_heldout.yaml")
PAGE_CHARS = 3000  # a printed page
SUFFIXES = (".md", ".html", ".txt", ".pdf")


@dataclass(frozen=True)
class Figures:
    """The size of the set and how often the source passage was found."""

    files: int
    chars: int
    questions: int
    top1: float
    top3: float
    misses: list[str]

    @property
    def pages(self) -> int:
        """The set's length in printed pages."""
        return self.chars // PAGE_CHARS


def load(root: Path) -> list[tuple[str, str]]:
    """Every document under `root`, as (its path below root, its extracted text)."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES):
        name = path.relative_to(root).as_posix()
        found.append((name, extract(path.read_bytes(), kind_of(name, ""))))
    return found


def evaluate(documents: list[tuple[str, str]], questions: list[dict[str, str]]) -> Figures:
    """Ask every question of an index of `documents`."""
    index = DocumentIndex(documents)
    top1 = top3 = 0
    misses = []
    for item in questions:
        hits = index.search(item["q"], top=3)
        right = [
            hit.passage.source == item["source"] and item["evidence"] in hit.passage.quoted
            for hit in hits
        ]
        top1 += bool(right[:1] and right[0])
        top3 += any(right)
        if not any(right):
            misses.append(f"{item['q']} -> {[h.passage.source for h in hits]}")
    n = len(questions) or 1
    return Figures(
        files=len(documents),
        chars=sum(len(text) for _, text in documents),
        questions=len(questions),
        top1=top1 / n,
        top3=top3 / n,
        misses=misses,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=Path, default=DOCUMENTS)
    parser.add_argument("--heldout", type=Path, default=HELDOUT)
    parser.add_argument("--misses", action="store_true", help="list the questions missed")
    args = parser.parse_args(argv)
    questions = yaml.safe_load(args.heldout.read_text(encoding="utf-8"))["questions"]
    found = evaluate(load(args.documents), questions)
    print(
        f"Documents: {found.files} files, {found.chars:,} characters "
        f"({found.pages} pages of {PAGE_CHARS:,}); {found.questions} held-out questions"
    )
    print(f"  source passage top-1 {found.top1:.1%}   top-3 {found.top3:.1%}")
    for miss in found.misses if args.misses else []:
        print(f"  missed: {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
