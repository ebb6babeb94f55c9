"""The dialog's one asyncpg pool, shared by the turn path and the request stores (sessions,
content, conversations).

Every connection has json and jsonb as Python values (the turn path's codecs) and the dialog's
schema as its search path: the request stores' SQL (each room's `sql.py`) names its tables
unqualified, so a replay points the very same statements at its own schema by opening this
pool with `schema=` that schema.
"""

from shared.db import Database

from .models import SCHEMA
from .turns.store import keep_connection, prepare_connection


def dialog_database(database_url: str, *, max_size: int, schema: str = SCHEMA) -> Database:
    """The dialog's pool on `schema` (its tables unqualified there), opened by the caller."""
    return Database(
        database_url,
        max_size=max_size,
        init=prepare_connection,
        reset=keep_connection,
        search_path=schema,
    )
