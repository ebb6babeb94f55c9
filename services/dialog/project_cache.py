"""What a turn needs of its project besides its brain, looked up once per dialog process: the
content version each stage answers from, and the fallback text.

Both used to be read from Postgres on the way of every batch (the version) or every 5 s (the
fallback). `ProjectCache` keeps them in memory and drops a project's the moment a change is
announced on NATS (`config.*.<project>`, one core subscription per replica), as the gateways'
identity cache does (services/gateway/bus/identity_cache.py):

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

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from shared import subjects
from shared.contracts.knowledge import Stage

log = logging.getLogger(__name__)
LoadVersion = Callable[[UUID, Stage], Awaitable[int]]
LoadFallback = Callable[[UUID], Awaitable[str]]


class ProjectCache:
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
        self._load_version = version
        self._load_fallback = fallback
        self._keep_s = keep_s
        self._clock = clock
        self._nc: NatsClient | None = None
        self._epoch = -1  # the connection's reconnect count the cache was filled under
        self._versions: dict[tuple[UUID, Stage], tuple[float, int]] = {}
        self._fallbacks: dict[UUID, tuple[float, str]] = {}
        self._generation = 0  # bumped by every forget: a load started before is not kept

    async def listen(self, nc: NatsClient) -> None:
        """Subscribe to every project change (a dialog startup step); caching starts now."""
        await nc.subscribe(subjects.CONFIG_ALL, cb=self._on_change)
        self._nc = nc

    def forget(self, project: UUID) -> None:
        """Drop what is kept of `project` (its content or settings changed)."""
        self._generation += 1
        for stage in ("test", "release"):
            self._versions.pop((project, stage), None)
        self._fallbacks.pop(project, None)

    def forget_all(self) -> None:
        self._generation += 1
        self._versions.clear()
        self._fallbacks.clear()

    async def version(self, project: UUID, stage: Stage) -> int:
        """The content version `stage` of `project` answers from (0: none)."""
        if not self._caching():
            return await self._load_version(project, stage)
        kept = self._versions.get((project, stage))
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        generation = self._generation
        found = await self._load_version(project, stage)
        if generation == self._generation and self._caching():
            self._versions[(project, stage)] = (self._clock() + self._keep_s, found)
        return found

    async def fallback(self, project: UUID) -> str:
        """What `project` says when nothing in its content answers."""
        if not self._caching():
            return await self._load_fallback(project)
        kept = self._fallbacks.get(project)
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        generation = self._generation
        found = await self._load_fallback(project)
        if generation == self._generation and self._caching():
            self._fallbacks[project] = (self._clock() + self._keep_s, found)
        return found

    def _caching(self) -> bool:
        """Whether kept entries can be trusted now (else the cache is emptied)."""
        nc = self._nc
        if nc is None or self._keep_s <= 0 or not nc.is_connected:
            if self._versions or self._fallbacks:
                self.forget_all()
            return False
        epoch = nc.stats["reconnects"]
        if epoch != self._epoch:  # announcements may have been missed while away
            self.forget_all()
            self._epoch = epoch
        return True

    async def _on_change(self, msg: Msg) -> None:
        try:
            project = UUID(hex=msg.subject.rpartition(".")[2])
        except ValueError:
            return
        self.forget(project)
