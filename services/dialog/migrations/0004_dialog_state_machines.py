"""dialog: a state machine in every content version

Revision ID: dialog_0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "dialog_0004"
down_revision = "dialog_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "bot_content", sa.Column("machine", postgresql.JSONB(), nullable=True), schema="dialog"
    )
    op.add_column(
        "bot_content",
        sa.Column("machine_states", sa.Integer(), nullable=False, server_default="0"),
        schema="dialog",
    )


def downgrade() -> None:
    op.drop_column("bot_content", "machine_states", schema="dialog")
    op.drop_column("bot_content", "machine", schema="dialog")
