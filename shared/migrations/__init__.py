"""Alembic migrations: one branch per owner (identity, each service), applied together."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

_ROOT = Path(__file__).resolve().parent.parent.parent


def version_locations() -> list[Path]:
    """Every folder holding migrations: the identity schema's and each service's."""
    found = [_ROOT / "shared" / "identity" / "migrations"]
    found += sorted(p for p in (_ROOT / "services").glob("*/migrations") if p.is_dir())
    return found


def alembic_config(database_url: str) -> Config:
    """An Alembic config built in code (no alembic.ini to keep in sync)."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.set_main_option("version_locations", " ".join(str(p) for p in version_locations()))
    config.set_main_option("path_separator", "space")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    """Apply every pending migration of every owner (blocking; safe to call repeatedly)."""
    command.upgrade(alembic_config(database_url), "heads")


async def upgrade_async(database_url: str) -> None:
    """`upgrade` from async code (Alembic drives its own event loop in a thread)."""
    await asyncio.to_thread(upgrade, database_url)
