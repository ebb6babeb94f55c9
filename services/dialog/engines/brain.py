"""A content version's brain: its AIML kernel (shared by every version with the same AIML), its
FAQ, intents and state machine models and its chain, built once per process and kept for the
versions each project answers from."""

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from shared.contracts import BotContent
from shared.contracts.knowledge import Chain, FaqGroup

from .aiml import compile_aiml, parse_properties
from .aiml_kernel import (
    NO_AIML,
    BotProperties,
    CompiledAiml,
    SharedKernel,
    build_kernel,
    keep_out_of_gc,
    release_kernel,
)
from .knowledge import FaqIndex, NluModel, faq_index, nlu_model, warm_up
from .knowledge.documents import DocumentIndex
from .machine import MachineModel

VERSIONS_KEPT = 2  # per project: typically the test and the release stage


@dataclass(frozen=True)
class Brain:
    """Everything that answers from one content version: the AIML kernel is shared with every
    project and stage whose AIML is the same (see Kernels), `properties` are this one's."""

    version: int
    kernel: SharedKernel
    properties: BotProperties
    faq: FaqIndex | None
    groups: dict[str, FaqGroup]
    nlu: NluModel | None
    machine: MachineModel | None
    chain: Chain
    documents: DocumentIndex | None = None


def files_key(digests: list[str]) -> str:
    """What a kernel is keyed by: the digest of its AIML files' digests, in load order (a
    later file's category replaces an earlier one's)."""
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def aiml_key(content: BotContent) -> str:
    """The key of a version's AIML kernel (its inline text counts as its one file)."""
    digests = [file.sha256 for file in content.aiml_files]
    if not digests and content.aiml:
        digests = [hashlib.sha256(content.aiml.encode()).hexdigest()]
    return files_key(digests)


class Kernels:
    """The AIML kernels of this process, one per distinct content (`aiml_key`), each built
    once however many projects and stages ask for it at the same time, and forgotten when no
    kept brain uses it any more."""

    def __init__(self) -> None:
        self._kernels: weakref.WeakValueDictionary[str, SharedKernel] = (
            weakref.WeakValueDictionary()
        )
        self._building: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> SharedKernel | None:
        """The kernel of `key`, if one is alive in this process."""
        with self._lock:
            return self._kernels.get(key)

    def get_or_build(self, key: str, compile: Callable[[], CompiledAiml]) -> SharedKernel:
        """The kernel of `key`, built from `compile()` unless it exists (blocking: run it in
        a thread); concurrent callers of one key wait for the one build."""
        with self._lock:
            found = self._kernels.get(key)
            if found is not None:
                return found
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                found = self._kernels.get(key)
            if found is None:
                compiled = compile()
                found = SharedKernel(
                    kernel=build_kernel(compiled, {}),
                    key=key,
                    categories=compiled.size,
                    counts=compiled.counts,
                )
                del compiled
                weakref.finalize(found, release_kernel, found.kernel)
                keep_out_of_gc()
                with self._lock:
                    self._kernels[key] = found
            with self._lock:
                self._building.pop(key, None)
        return found

    def __len__(self) -> int:
        with self._lock:
            return len(self._kernels)


KERNELS = Kernels()  # one per process: every project's brains share it


def build_brain(
    content: BotContent,
    compiled: CompiledAiml | Callable[[], CompiledAiml] | None = None,
    *,
    key: str | None = None,
    kernels: Kernels = KERNELS,
) -> Brain:
    """Build a version's brain: its AIML kernel (unless one with the same AIML exists), FAQ and
    intents models (trained unless models of the same content exist; blocking: run it in a
    thread).

    Content with intents also loads the gazetteer, dates and jieba here (about 1.5 s, once per
    process) rather than on its first question; AIML-only projects never pay for them.
    `compiled` is the version's AIML when the caller has just compiled it to check it, or how
    to compile it (called only when no kernel of that AIML exists yet); `key` is the kernel's
    key when the caller knows the AIML's texts (else the content's manifest gives it).
    """
    if compiled is None:
        made: Callable[[], CompiledAiml] = lambda: (  # noqa: E731
            compile_aiml(content.aiml) if content.aiml else NO_AIML
        )
    elif isinstance(compiled, CompiledAiml):
        made = lambda: compiled  # noqa: E731
    else:
        made = compiled
    if content.intents.intents or (content.machine and content.machine.intents):
        warm_up()
    return Brain(
        version=content.version,
        kernel=kernels.get_or_build(key or aiml_key(content), made),
        properties=BotProperties.of(parse_properties(content.properties)),
        faq=faq_index(content.faq) if content.faq.groups else None,
        groups={group.gid: group for group in content.faq.groups},
        nlu=nlu_model(content.intents) if content.intents.intents else None,
        machine=MachineModel(content.machine) if content.machine else None,
        chain=content.chain,
    )


class Brains:
    """The brains of the versions each project answers from (the last few used)."""

    def __init__(self) -> None:
        self._brains: dict[UUID, OrderedDict[int, Brain]] = {}

    def get(self, project: UUID, version: int) -> Brain | None:
        kept = self._brains.get(project)
        if kept is None or version not in kept:
            return None
        kept.move_to_end(version)
        return kept[version]

    def put(self, project: UUID, brain: Brain) -> None:
        kept = self._brains.setdefault(project, OrderedDict())
        kept[brain.version] = brain
        kept.move_to_end(brain.version)
        while len(kept) > VERSIONS_KEPT:
            kept.popitem(last=False)

    def versions(self, project: UUID) -> list[int]:
        """The versions kept for `project`."""
        return list(self._brains.get(project, {}))
