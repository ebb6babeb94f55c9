"""dialog: turn order per connection of a session

A session remembered only the last connection it answered, so a user with two connections on
one session (two tabs, a phone and a laptop) had a turn of the first held back as "early" after
the second spoke, until the early wait forced it through. Sessions now keep the last answered
turn number of each of their latest connections.

Revision ID: dialog_0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "dialog_0007"
down_revision = "dialog_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sessions",
        sa.Column("channels", JSONB(), nullable=False, server_default="[]"),
        schema="dialog",
    )
    op.execute(
        "UPDATE dialog.sessions SET channels = jsonb_build_array(jsonb_build_array(channel, seq))"
        " WHERE channel <> ''"
    )


def downgrade() -> None:
    op.drop_column("sessions", "channels", schema="dialog")
