"""The database: one asyncpg pool per store owner (services/*/db or main.py), the errors
that say Postgres is away, and how to wait for it."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy import exc, make_url

from .observability.metrics import watch_asyncpg_pool
from .retry import Dependency
from .settings import asyncpg_url


def libpq_url(database_url: str) -> str:
    """`database_url` as asyncpg itself wants it (postgresql://, no SQLAlchemy driver)."""
    return "postgresql://" + asyncpg_url(database_url).partition("://")[2]


class Database:
    """An asyncpg pool, opened in the service's lifespan: every store's statements run on one.

    `init` runs on every new connection (e.g. to create a per-connection staging table);
    `reset` replaces asyncpg's reset on release (a round trip: RESET ALL, UNLISTEN, ...) for
    users that change no session state (an open transaction is still rolled back).
    `search_path` is every connection's schema search path, sent when it connects (so a reset
    keeps it): a store whose SQL names its tables unqualified reads and writes that schema.
    """

    def __init__(
        self,
        database_url: str,
        *,
        max_size: int = 4,
        init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
        reset: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
        search_path: str | None = None,
    ) -> None:
        self._dsn = libpq_url(database_url)
        self._settings = {"search_path": search_path} if search_path else None
        self._max_size = max_size
        self._init = init
        self._reset = reset
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database pool used before the service started")
        return self._pool

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=0,
            max_size=self._max_size,
            init=self._init,
            reset=self._reset,
            server_settings=self._settings,
        )
        watch_asyncpg_pool(self, lambda db: db.pool)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def ready(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            return bool(await self.pool.fetchval("SELECT 1", timeout=2.0))
        except Exception:
            return False


@asynccontextmanager
async def opened(database_url: str, *, max_size: int = 1) -> AsyncIterator[Database]:
    """A small pool for one command (the CLI, `make run`'s setup), closed when it ends."""
    database = Database(database_url, max_size=max_size)
    await database.open()
    try:
        yield database
    finally:
        await database.close()


def postgres_dependency(database_url: str) -> Dependency:
    """Postgres as a startup dependency: reachable once it accepts a connection and answers."""
    dsn = libpq_url(database_url)

    async def probe() -> None:
        connection = await asyncpg.connect(dsn, timeout=3.0)
        try:
            await connection.fetchval("SELECT 1", timeout=3.0)
        finally:
            await connection.close()

    return Dependency(f"Postgres ({where(database_url)})", probe)


def where(database_url: str) -> str:
    """host:port/database of a database URL (or its socket folder): no user, no password."""
    url = make_url(asyncpg_url(database_url))
    host = url.host or str(url.query.get("host", "localhost"))
    return f"{host}:{url.port or 5432}/{url.database or ''}"


DATABASE_TROUBLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)
"""What an asyncpg call can fail with while the database is away or busy (worth a retry, or a
redelivery), as opposed to a bug in the caller. Wider than UNREACHABLE: a refused statement
(a deadlock, a serialization failure, a constraint) counts too."""


# What a database (or broker) that is down or restarting raises, as opposed to a bug or bad data.
UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, socket file missing, timeouts (TimeoutError is an OSError)
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,  # the server was stopped under the session
    exc.OperationalError,
    exc.InterfaceError,
)


def unreachable(err: BaseException) -> bool:
    """True when `err` (or what caused it) says a dependency could not be reached."""
    seen: BaseException | None = err
    for _ in range(5):  # SQLAlchemy wraps the driver's error, which may wrap the socket's
        if seen is None:
            return False
        if isinstance(seen, UNREACHABLE):
            return True
        if isinstance(seen, exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
