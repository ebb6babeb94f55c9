"""The content use cases of files: AIML uploads of many files, behaviour trees, exports and
diffs, and building a version's brain from its AIML files."""

import asyncio
import dataclasses
import weakref
from collections.abc import Callable
from uuid import UUID

from shared.contracts.content import (
    AimlChecked,
    AimlFile,
    AimlFiles,
    BotContent,
    BotContentRejected,
    BotContentSaved,
    ContentDiff,
    ContentMissing,
    DiffContent,
    ExportContent,
    SaveAiml,
    SaveBehavior,
    SaveDocument,
)

from ..engines.aiml import InvalidAiml, compile_files
from ..engines.aiml_kernel import NO_AIML, CompiledAiml
from ..engines.brain import KERNELS, Brain, Brains, aiml_key, build_brain, files_key
from ..engines.knowledge.documents import DocumentIndex
from ..models import BotContentRow
from .diff import changed_files, diff_parts, file_digests, text_forms
from .manifest import AIML, BEHAVIORS, digest, listed
from .port import Content
from .versions import EMPTY, content_of


def saved_of(row: BotContentRow) -> BotContentSaved:
    """The reply to a save: the new version and what it holds."""
    return BotContentSaved(
        version=row.version,
        categories=row.categories,
        faq_groups=row.faq_groups,
        intents=row.intent_count,
        machine_states=row.machine_states,
    )


class ContentFiles:
    """Saves, exports and compares content files; keeps the brain of each new version."""

    def __init__(self, store: Content, brains: Brains) -> None:
        self.store = store
        self.brains = brains
        # One index per set of documents (by their digests): versions that differ in
        # anything else share it, and it goes when no kept brain uses it.
        self._indexes: weakref.WeakValueDictionary[str, DocumentIndex] = (
            weakref.WeakValueDictionary()
        )

    async def brain(self, project: UUID, content: BotContent) -> Brain:
        """The brain of a stored version, its AIML files compiled in load order, unless a
        kernel of the same AIML is in this process already (then its texts are not read)."""
        held = KERNELS.get(aiml_key(content)) if content.aiml_files else None
        if held is not None or not content.version:
            brain = await build_version(content, None)
        else:
            files = await self.store.aiml_files(project, content.version)
            brain = await build_version(
                content,
                lambda: compile_files(files)[0] if files else NO_AIML,
                key=texts_key(files),
            )
        return await self.documented(project, brain, content)

    async def documented(self, project: UUID, brain: Brain, content: BotContent) -> Brain:
        """`brain` with the index of `content`'s documents (built in a thread the first time
        this process sees that set of documents)."""
        if not content.documents:
            return brain
        key = files_key([f"{f.name}:{f.sha256}" for f in content.documents])
        index = self._indexes.get(key)
        if index is None:
            texts = await self.store.texts(project, [f.sha256 for f in content.documents])
            named = [(f.name, texts[f.sha256]) for f in content.documents]
            index = await asyncio.to_thread(DocumentIndex, named)
            self._indexes[key] = index
        return dataclasses.replace(brain, documents=index)

    async def save_document(
        self, command: SaveDocument, text: str | None
    ) -> BotContentSaved | ContentMissing:
        """Store or remove one document (a new version, its brain indexed before the reply)."""
        row = await self.store.save_document(command, text)
        if row is None:
            return ContentMissing(reason=f"there is no document {command.name}")
        self.brains.put(command.project_key, await self.brain(command.project_key, content_of(row)))
        return saved_of(row)

    async def save_aiml(
        self, command: SaveAiml, files: list[AimlFile]
    ) -> BotContentSaved | BotContentRejected | AimlChecked:
        """Check AIML files and, unless it is a dry run, store them as every AIML file of the
        next version (its brain ready before the reply)."""
        # the same files were checked and built already: their kernel knows their counts
        held = KERNELS.get(texts_key(files))
        if held is not None and held.counts:
            compiled, counts = NO_AIML, list(held.counts)
        else:
            try:
                compiled, counts = await asyncio.to_thread(compile_files, files)
            except InvalidAiml as err:
                return BotContentRejected(problems=err.problems)
        categories = held.categories if held is not None and held.counts else compiled.size
        if command.dry_run:
            return AimlChecked(files=len(files), categories=categories)
        key = texts_key(files)
        # a new kernel is built in a thread while the files are stored (the database's I/O)
        building = None
        if held is None:
            building = asyncio.create_task(
                asyncio.to_thread(KERNELS.get_or_build, key, lambda: compiled)
            )
        try:
            row = await self.store.save_aiml(
                command.project_key,
                command.correlation_id,
                list(zip(files, counts, strict=True)),
                categories=categories,  # what the brain has: later files replace
            )
        finally:
            if building is not None:
                held = await building
        brain = await build_version(content_of(row), compiled, key=key)
        brain = await self.documented(command.project_key, brain, content_of(row))
        self.brains.put(command.project_key, brain)
        del held
        return saved_of(row)

    async def save_behavior(self, command: SaveBehavior) -> BotContentSaved | ContentMissing:
        """Store or remove one behaviour tree (a new version; the brain is unchanged)."""
        row = await self.store.save_behavior(command)
        if row is None:
            return ContentMissing(reason=f"there is no behaviour tree {command.name}")
        return saved_of(row)

    async def export(self, query: ExportContent) -> tuple[int, AimlFiles] | ContentMissing:
        """A version's AIML files (all, or the one named) or one behaviour tree, with texts."""
        key = query.project_key
        row = await self.store.row(key, query.version or query.stage)
        if row is None and query.version is not None:
            return ContentMissing(reason=f"there is no version {query.version}")
        entries = listed(row, AIML if query.part == "aiml" else BEHAVIORS)
        if query.file is not None:
            entries = [entry for entry in entries if entry.name == query.file]
            if not entries:
                what = "AIML file" if query.part == "aiml" else "behaviour tree"
                return ContentMissing(reason=f"there is no {what} {query.file!r}")
        texts = await self.store.texts(key, [entry.sha256 for entry in entries])
        files = [AimlFile(name=entry.name, text=texts[entry.sha256]) for entry in entries]
        return (row.version if row else 0), AimlFiles(files=files)

    async def diff(self, query: DiffContent) -> ContentDiff | ContentMissing:
        """What changed from `old` to `new`, part by part."""
        sides: list[tuple[BotContent, dict[str, str]]] = []
        for ref in (query.old, query.new):
            row = await self.store.row(query.project_key, ref)
            if row is None and isinstance(ref, int) and ref != 0:
                return ContentMissing(reason=f"there is no version {ref}")
            content = content_of(row) if row else EMPTY
            sides.append((content, file_digests(content)))
        (old, old_files), (new, new_files) = sides
        texts = await self.store.texts(
            query.project_key, sorted(changed_files(old_files, new_files))
        )
        parts = diff_parts(
            {**text_forms(old), **{p: texts.get(d, "") for p, d in old_files.items()}},
            {**text_forms(new), **{p: texts.get(d, "") for p, d in new_files.items()}},
        )
        return ContentDiff(old=old.version, new=new.version, parts=parts)


async def build_version(
    content: BotContent,
    compiled: CompiledAiml | Callable[[], CompiledAiml] | None,
    *,
    key: str | None = None,
) -> Brain:
    """The brain of `content` whose AIML is `compiled` (or made by it; None: its inline text),
    built in a thread: a kernel not built yet takes seconds for a large AIML set. `key`: the
    kernel's (see build_brain)."""
    return await asyncio.to_thread(build_brain, content, compiled, key=key)


def texts_key(files: list[AimlFile]) -> str:
    """The kernel key of AIML files, from their texts."""
    return files_key([digest(file.text) for file in files])
