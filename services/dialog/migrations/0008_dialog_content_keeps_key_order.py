"""dialog: bot content and turn details keep their authors' key order (json, not jsonb)

JSONB stores an object's keys sorted (shorter first, then bytewise), so a state machine's
`dataframe: {line, destination, at}` came back as `at, line, destination` and BESSER's UIs
showed the table's columns in that order; plotly figures and the transcript's reply parts
(history replays) were reordered the same way. `json` keeps the text as written. Values
already stored as JSONB have lost their order: save the content again to get it back.

Revision ID: dialog_0008
"""

from alembic import op
from sqlalchemy.dialects import postgresql

revision = "dialog_0008"
down_revision = "dialog_0007"
branch_labels = None
depends_on = None

COLUMNS = (
    ("bot_content", "faq"),
    ("bot_content", "intents"),
    ("bot_content", "chain"),
    ("bot_content", "machine"),
    ("turns", "details"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        op.alter_column(
            table,
            column,
            type_=postgresql.JSON(),
            existing_type=postgresql.JSONB(),
            postgresql_using=f"{column}::json",
            schema="dialog",
        )


def downgrade() -> None:
    for table, column in COLUMNS:
        op.alter_column(
            table,
            column,
            type_=postgresql.JSONB(),
            existing_type=postgresql.JSON(),
            postgresql_using=f"{column}::jsonb",
            schema="dialog",
        )
