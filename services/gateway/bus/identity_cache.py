"""Projects looked up once per gateway process, not on every request or connect.

Every protocol authenticates against the project's record (its key, its secret's hash, its
settings): RSVP.ai on every request, the sockets on every connect. `CachedProjects` keeps the
records it loaded in memory and drops a project's the moment any of these is announced on NATS
(`config.*.<project>`, one core subscription per gateway):

- `config.project.<key>` (ProjectChanged): its secret was rotated or its settings changed, by
  the admin API of any gateway or `switchboard project rotate-secret`;
- `config.deleted.<key>` (ProjectDeleted): it was deleted;
- `config.changed.<key>` (ConfigChanged): its bot content changed.

So an old secret is refused by every gateway as soon as the rotation is announced. What could
make a gateway miss an announcement is covered too: nothing is cached before its subscription
exists, nor while its NATS connection is down; a reconnect drops everything cached before it;
and every record expires after GATEWAY_IDENTITY_CACHE_S anyway (an announcement that could not
be sent: NATS down during a rotation from the command line). Unknown keys and wrong secrets are
not cached: a project created a moment ago works at once.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from uuid import UUID

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import subjects
from shared.contracts.project import ProjectChanged
from shared.identity import NewProject, Project, ProjectStore
from shared.identity.secrets import hash_secret, secret_matches

log = logging.getLogger(__name__)
Announce = Callable[[ProjectChanged], Awaitable[None]]


class CachedProjects(ProjectStore):
    """A ProjectStore whose lookups (get, authenticate, by_secret) are answered from memory
    while this gateway listens for changes; its own changes forget and announce at once."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        keep_s: float,
        announce: Announce | None = None,
    ) -> None:
        super().__init__(sessions)
        self._keep_s = keep_s
        self._announce = announce
        self._nc: NatsClient | None = None
        self._epoch = -1  # the connection's reconnect count the cache was filled under
        self._by_key: dict[UUID, tuple[float, Project]] = {}
        self._by_hash: dict[str, UUID] = {}
        self._generation = 0  # bumped by every forget: a load started before is not kept

    async def listen(self, nc: NatsClient) -> None:
        """Subscribe to every project change (a gateway startup step); caching starts now."""
        await nc.subscribe(subjects.CONFIG_ALL, cb=self._on_change)
        self._nc = nc

    def forget(self, key: UUID) -> None:
        """Drop what is cached of project `key`."""
        self._generation += 1
        found = self._by_key.pop(key, None)
        if found is not None:
            self._by_hash.pop(found[1].secret_hash, None)

    def forget_all(self) -> None:
        self._generation += 1
        self._by_key.clear()
        self._by_hash.clear()

    async def get(self, key: UUID) -> Project | None:
        if not self._caching():
            return await super().get(key)
        found = self._by_key.get(key)
        if found is not None and found[0] > time.monotonic():
            return found[1]
        generation = self._generation
        project = await super().get(key)
        self._keep(project, generation)
        return project

    async def by_secret(self, secret: str) -> Project | None:
        if self._caching():
            key = self._by_hash.get(hash_secret(secret))
            found = self._by_key.get(key) if key is not None else None
            if found is not None and found[0] > time.monotonic():
                hit = found[1]
                return hit if secret_matches(secret, hit.secret_hash) else None
        generation = self._generation
        project = await super().by_secret(secret)
        self._keep(project, generation)
        return project

    async def rotate_secret(self, ref: str) -> NewProject:
        made = await super().rotate_secret(ref)
        await self._changed(made.project.key, "secret")
        return made

    async def update(self, key: UUID, **changes: str) -> Project:
        project = await super().update(key, **changes)
        await self._changed(key, "settings")
        return project

    async def set_setting(self, key: UUID, name: str, value: Any) -> Project:
        project = await super().set_setting(key, name, value)
        await self._changed(key, "settings")
        return project

    async def delete(self, key: UUID) -> bool:
        deleted = await super().delete(key)
        self.forget(key)  # the others learn it from ProjectDeleted, announced before
        return deleted

    async def _changed(self, key: UUID, change: Literal["secret", "settings"]) -> None:
        self.forget(key)
        if self._announce is None:
            return
        try:
            await self._announce(ProjectChanged.first(project_key=key, change=change))
        except Exception as err:  # the change is made; other gateways catch up within keep_s
            log.warning("change of project %s not announced to the gateways: %r", key, err)

    def _caching(self) -> bool:
        """Whether cached records can be trusted now (else the cache is emptied)."""
        nc = self._nc
        if nc is None or self._keep_s <= 0 or not nc.is_connected:
            if self._by_key:
                self.forget_all()
            return False
        epoch = nc.stats["reconnects"]
        if epoch != self._epoch:  # announcements may have been missed while away
            self.forget_all()
            self._epoch = epoch
        return True

    def _keep(self, project: Project | None, generation: int) -> None:
        if project is None or generation != self._generation or not self._caching():
            return
        self._by_key[project.key] = (time.monotonic() + self._keep_s, project)
        self._by_hash[project.secret_hash] = project.key

    async def _on_change(self, msg: Msg) -> None:
        try:
            key = UUID(hex=msg.subject.rpartition(".")[2])
        except ValueError:
            return
        self.forget(key)
