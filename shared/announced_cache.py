"""A per-project cache that forgets a project the moment a change of it is announced on NATS.

Both the gateways' identity cache and the dialog's project cache answer from memory what
Postgres holds of a project, and drop a project's entries when any `config.*.<project>` is
announced (one core subscription per process: ConfigChanged, ProjectChanged, ProjectDeleted).
What could make a process miss an announcement is covered here, once:

- nothing is cached before the subscription exists, nor while the NATS connection is down;
- a reconnect (a new epoch: the connection's reconnect count) drops everything cached before;
- a load that started before a forget is not kept (a generation counter);
- every entry expires after `keep_s` anyway (`keep_s <= 0`: nothing is cached).

A subclass holds its tables, says how to drop one project's entries (`_drop`) and all of them
(`_drop_all`), and reads through `cached` (or `generation` and `keep`, when it keeps more than
one table per load).
"""

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from . import subjects

Key = TypeVar("Key")
Value = TypeVar("Value")
Entries = dict[Key, tuple[float, Value]]
"""A table of the cache: key → (the clock's time it expires at, value)."""


class AnnouncedCache:
    """Entries kept while this process listens to the change announcements (see the module)."""

    def __init__(self, *, keep_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._keep_s = keep_s
        self._clock = clock
        self._nc: NatsClient | None = None
        self._epoch = -1  # the connection's reconnect count the cache was filled under
        self._generation = 0  # bumped by every forget: a load started before is not kept

    async def listen(self, nc: NatsClient) -> None:
        """Subscribe to every project change (a startup step); caching starts now."""
        await nc.subscribe(subjects.CONFIG_ALL, cb=self._on_change)
        self._nc = nc

    def forget(self, project: UUID) -> None:
        """Drop what is kept of `project` (its content, settings or secret changed)."""
        self._generation += 1
        self._drop(project)

    def forget_all(self) -> None:
        """Drop everything kept."""
        self._generation += 1
        self._drop_all()

    def _drop(self, project: UUID) -> None:
        """Remove `project`'s entries from the subclass's tables."""
        raise NotImplementedError

    def _drop_all(self) -> None:
        """Empty the subclass's tables."""
        raise NotImplementedError

    def _has_entries(self) -> bool:
        """Whether anything is kept (the tables are emptied only then)."""
        raise NotImplementedError

    def caching(self) -> bool:
        """Whether kept entries can be trusted now (else the cache is emptied)."""
        nc = self._nc
        if nc is None or self._keep_s <= 0 or not nc.is_connected:
            if self._has_entries():
                self.forget_all()
            return False
        epoch = nc.stats["reconnects"]
        if epoch != self._epoch:  # announcements may have been missed while away
            self.forget_all()
            self._epoch = epoch
        return True

    @property
    def generation(self) -> int:
        """Taken before a load; `keep` keeps what it loaded only if no forget came between."""
        return self._generation

    def fresh(self, table: Entries[Key, Value], key: Key) -> Value | None:
        """`table`'s unexpired value of `key` (values are never None), else None."""
        kept = table.get(key)
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        return None

    def keep(self, table: Entries[Key, Value], key: Key, value: Value, generation: int) -> bool:
        """Keep `value` under `key` unless a forget came after `generation` was taken or the
        cache cannot be trusted now; True when kept."""
        if generation != self._generation or not self.caching():
            return False
        table[key] = (self._clock() + self._keep_s, value)
        return True

    async def cached(
        self, table: Entries[Key, Value], key: Key, load: Callable[[], Awaitable[Value]]
    ) -> Value:
        """`table`'s value of `key` from memory, else `load()`ed (and kept, see `keep`)."""
        if not self.caching():
            return await load()
        found = self.fresh(table, key)
        if found is not None:
            return found
        generation = self._generation
        value = await load()
        self.keep(table, key, value, generation)
        return value

    async def _on_change(self, msg: Msg) -> None:
        try:
            project = UUID(hex=msg.subject.rpartition(".")[2])
        except ValueError:
            return
        self.forget(project)
