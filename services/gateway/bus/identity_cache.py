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
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from uuid import UUID

from shared.announced_cache import AnnouncedCache
from shared.contracts.project import ProjectChanged
from shared.db import Database
from shared.identity import NewProject, Project, ProjectStore
from shared.identity.secrets import hash_secret, secret_matches

log = logging.getLogger(__name__)
Announce = Callable[[ProjectChanged], Awaitable[None]]


class CachedProjects(ProjectStore, AnnouncedCache):
    """A ProjectStore whose lookups (get, authenticate, by_secret) are answered from memory
    while this gateway listens for changes; its own changes forget and announce at once."""

    def __init__(
        self,
        database: Database,
        *,
        keep_s: float,
        announce: Announce | None = None,
    ) -> None:
        ProjectStore.__init__(self, database)
        AnnouncedCache.__init__(self, keep_s=keep_s)
        self._announce = announce
        self._by_key: dict[UUID, tuple[float, Project]] = {}
        self._by_hash: dict[str, UUID] = {}

    def _drop(self, project: UUID) -> None:
        found = self._by_key.pop(project, None)
        if found is not None:
            self._by_hash.pop(found[1].secret_hash, None)

    def _drop_all(self) -> None:
        self._by_key.clear()
        self._by_hash.clear()

    def _has_entries(self) -> bool:
        return bool(self._by_key)

    async def get(self, key: UUID) -> Project | None:
        if not self.caching():
            return await super().get(key)
        found = self.fresh(self._by_key, key)
        if found is not None:
            return found
        generation = self.generation
        project = await super().get(key)
        self._keep(project, generation)
        return project

    async def by_secret(self, secret: str) -> Project | None:
        if self.caching():
            key = self._by_hash.get(hash_secret(secret))
            hit = self.fresh(self._by_key, key) if key is not None else None
            if hit is not None:
                return hit if secret_matches(secret, hit.secret_hash) else None
        generation = self.generation
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

    def _keep(self, project: Project | None, generation: int) -> None:
        if project is not None and self.keep(self._by_key, project.key, project, generation):
            self._by_hash[project.secret_hash] = project.key
