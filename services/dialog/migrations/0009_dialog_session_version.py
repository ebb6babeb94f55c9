"""dialog: a version per session, the fence of batched turn writes

Turns are answered in batches without row locks: a batch reads its sessions, answers them and
writes each session back only if its version is still the one it read (and bumps it). Whatever
else changes a session row (merged data, a handoff) bumps it too, so a batch that read the row
before is refused for that session and answers its turns again from the new row.

Revision ID: dialog_0009
"""

import sqlalchemy as sa
from alembic import op

revision = "dialog_0009"
down_revision = "dialog_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sessions",
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
        schema="dialog",
    )


def downgrade() -> None:
    op.drop_column("sessions", "version", schema="dialog")
