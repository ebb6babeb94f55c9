"""A dialog replica's project cache: content versions and fallback texts read once while it
listens to the change announcements, and dropped the moment one names the project."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast
from uuid import UUID, uuid4

from nats.aio.client import Client as NatsClient

from services.dialog.content.project_cache import ProjectCache
from shared import subjects


class FakeNats:
    """The two things the cache asks of its connection, and the subscription it makes."""

    def __init__(self) -> None:
        self.is_connected = True
        self.stats = {"reconnects": 0}
        self.subscribed: dict[str, Callable[[Any], Awaitable[None]]] = {}

    async def subscribe(self, subject: str, cb: Callable[[Any], Awaitable[None]]) -> None:
        self.subscribed[subject] = cb

    async def announce(self, subject: str) -> None:
        class Msg:
            pass

        msg = Msg()
        msg.subject = subject  # type: ignore[attr-defined]
        await self.subscribed[subjects.CONFIG_ALL](msg)


class Store:
    """What Postgres holds: the current version and fallback per project, and the reads."""

    def __init__(self) -> None:
        self.versions: dict[UUID, int] = {}
        self.fallbacks: dict[UUID, str] = {}
        self.reads = 0

    async def version(self, project: UUID, stage: str) -> int:
        self.reads += 1
        return self.versions.get(project, 0)

    async def fallback(self, project: UUID) -> str:
        self.reads += 1
        return self.fallbacks.get(project, "default")


def made() -> tuple[ProjectCache, Store, FakeNats]:
    store, nc = Store(), FakeNats()
    cache = ProjectCache(version=store.version, fallback=store.fallback, keep_s=60)
    asyncio.run(cache.listen(cast(NatsClient, nc)))
    return cache, store, nc


def test_a_change_announced_for_a_project_is_answered_with_at_once() -> None:
    """Versions and fallbacks come from memory while nothing changes; after config.changed
    (new content) or config.project (new settings) of a project, its next read is fresh, and
    another project's stays in memory."""
    cache, store, nc = made()
    mine, other = uuid4(), uuid4()
    store.versions[mine], store.fallbacks[mine] = 1, "ask the desk"

    async def scenario() -> list[object]:
        seen: list[object] = []
        for _ in range(2):
            seen += [await cache.version(mine, "test"), await cache.fallback(mine)]
            await cache.version(other, "release")
        assert store.reads == 3
        store.versions[mine], store.fallbacks[mine] = 2, "call us"
        await nc.announce(subjects.config_changed(mine))
        seen.append(await cache.version(mine, "test"))
        await nc.announce(subjects.project_changed(mine))
        seen.append(await cache.fallback(mine))
        await cache.version(other, "release")
        assert store.reads == 5
        return seen

    assert asyncio.run(scenario()) == [1, "ask the desk", 1, "ask the desk", 2, "call us"]


def test_nothing_is_kept_while_nats_is_away_and_a_reconnect_forgets_everything() -> None:
    """Announcements could be missed while NATS is away: nothing is kept meanwhile, and what
    was kept before a reconnect is read again after it."""
    cache, store, nc = made()
    project = uuid4()

    async def scenario() -> None:
        await cache.version(project, "test")
        nc.is_connected = False
        await cache.version(project, "test")
        await cache.version(project, "test")
        assert store.reads == 3
        nc.is_connected, nc.stats["reconnects"] = True, 1
        await cache.version(project, "test")
        await cache.version(project, "test")
        assert store.reads == 4

    asyncio.run(scenario())


def test_a_read_that_started_before_a_change_is_not_kept() -> None:
    """A version read while its project's change was announced answers that turn, but the next
    one reads again (it may have been read before the change was committed)."""
    store, nc = Store(), FakeNats()
    project, started, gate = uuid4(), asyncio.Event(), asyncio.Event()

    async def slow(project_key: UUID, stage: str) -> int:
        started.set()
        await gate.wait()
        return await store.version(project_key, stage)

    cache = ProjectCache(version=slow, fallback=store.fallback, keep_s=60)

    async def scenario() -> None:
        await cache.listen(cast(NatsClient, nc))
        reading = asyncio.create_task(cache.version(project, "test"))
        await started.wait()
        await nc.announce(subjects.config_changed(project))
        gate.set()
        await reading
        await cache.version(project, "test")
        assert store.reads == 2

    asyncio.run(scenario())
