"""The database engine: one async engine per process, over asyncpg."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from .settings import asyncpg_url


def make_engine(database_url: str, *, pool_size: int = 5) -> AsyncEngine:
    """Create the process's engine; `pool_pre_ping` survives a database restart."""
    return create_async_engine(
        asyncpg_url(database_url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def database_ready(engine: AsyncEngine) -> bool:
    """True when the database answers a trivial query."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction: committed on success, rolled back on error."""
    async with sessions() as session, session.begin():
        yield session


def libpq_url(database_url: str) -> str:
    """`database_url` as asyncpg itself wants it (postgresql://, no SQLAlchemy driver)."""
    return "postgresql://" + asyncpg_url(database_url).partition("://")[2]


class Database:
    """A plain asyncpg pool for hot paths (binary COPY, row locks), opened in the lifespan.

    `init` runs on every new connection (e.g. to create a per-connection staging table).
    """

    def __init__(
        self,
        database_url: str,
        *,
        max_size: int = 4,
        init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
    ) -> None:
        self._dsn = libpq_url(database_url)
        self._max_size = max_size
        self._init = init
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database pool used before the service started")
        return self._pool

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._dsn, min_size=0, max_size=self._max_size, init=self._init
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def ready(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            return bool(await self.pool.fetchval("SELECT 1", timeout=2.0))
        except Exception:
            return False
