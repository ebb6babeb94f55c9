"""What the dialog's asyncpg stores share: where a statement runs, and its rows as the models
the rooms use."""

from collections.abc import Mapping
from typing import Any

import asyncpg

from .models import SessionRow, TurnRow

Executor = asyncpg.Connection | asyncpg.Pool
"""Where a statement runs: the pool (one statement, its own transaction) or a connection."""


def session_row(record: Mapping[str, Any]) -> SessionRow:
    """A `sessions` row (every column) as the model the rooms use."""
    return SessionRow(**dict(record))


def turn_row(record: Mapping[str, Any]) -> TurnRow:
    """A `turns` row (every column) as the model the rooms use."""
    return TurnRow(**dict(record))


def values(row: Any, columns: tuple[str, ...]) -> list[Any]:
    """`row`'s attributes named by `columns`, in order (a statement's parameters)."""
    return [getattr(row, column) for column in columns]
