"""The turn path's plain TurnRecord (services/dialog/turns/store.py) writes the transcript rows
the ORM's TurnRow describes: the two field lists must not drift apart."""

import dataclasses

from services.dialog.models import TurnRow
from services.dialog.turns.store import TurnRecord


def test_a_turn_record_has_every_column_of_a_transcript_row_but_its_id() -> None:
    """A column added to TurnRow (and its migration) and forgotten in TurnRecord would be left
    empty by every turn the fast path writes; one TurnRecord has that TurnRow lacks would fail
    the COPY at run time."""
    record = [field.name for field in dataclasses.fields(TurnRecord)]
    columns = [name for name in TurnRow.model_fields if name != "id"]
    assert sorted(record) == sorted(columns)
