"""What a turn needs of its project besides its brain, looked up once per dialog process: the
content version each stage answers from, and the fallback text.

Both used to be read from Postgres on the way of every batch (the version) or every 5 s (the
fallback). `ProjectCache` keeps them in memory and drops a project's the moment a change is
announced on NATS (`config.*.<project>`, one core subscription per replica), as the gateways'
identity cache does (both are shared/announced_cache.py's AnnouncedCache):

- `config.changed.<key>` (ConfigChanged): its bot content changed (a save, a publication, a
  restore), announced by the replica that made it, which forgets first (`forget`);
- `config.project.<key>` (ProjectChanged): its settings (the fallback among them) changed;
- `config.deleted.<key>` (ProjectDeleted): it was deleted.

A replica hears an announcement before the next turn of that project: the announcement is
routed before the change's reply leaves NATS, and reaches this replica's connection ahead of any
turn sent after that reply. What could make a replica miss one is covered too: nothing is
cached before the subscription exists nor while NATS is away, a reconnect drops everything, a
load that started before a forget is not kept, and every entry expires after
DIALOG_PROJECT_CACHE_S anyway.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from uuid import UUID

from shared.announced_cache import AnnouncedCache
from shared.contracts.knowledge import Stage

log = logging.getLogger(__name__)
LoadVersion = Callable[[UUID, Stage], Awaitable[int]]
LoadFallback = Callable[[UUID], Awaitable[str]]


class ProjectCache(AnnouncedCache):
    """Content versions (per project and stage) and fallback texts (per project), answered
    from memory while this replica listens to the change announcements."""

    def __init__(
        self,
        *,
        version: LoadVersion,
        fallback: LoadFallback,
        keep_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(keep_s=keep_s, clock=clock)
        self._load_version = version
        self._load_fallback = fallback
        self._versions: dict[tuple[UUID, Stage], tuple[float, int]] = {}
        self._fallbacks: dict[UUID, tuple[float, str]] = {}

    def _drop(self, project: UUID) -> None:
        for stage in ("test", "release"):
            self._versions.pop((project, stage), None)
        self._fallbacks.pop(project, None)

    def _drop_all(self) -> None:
        self._versions.clear()
        self._fallbacks.clear()

    def _has_entries(self) -> bool:
        return bool(self._versions or self._fallbacks)

    async def version(self, project: UUID, stage: Stage) -> int:
        """The content version `stage` of `project` answers from (0: none)."""
        return await self.cached(
            self._versions, (project, stage), lambda: self._load_version(project, stage)
        )

    async def fallback(self, project: UUID) -> str:
        """What `project` says when nothing in its content answers."""
        return await self.cached(self._fallbacks, project, lambda: self._load_fallback(project))
