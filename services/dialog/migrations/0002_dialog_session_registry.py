"""dialog: sessions the dialog owns (protocol, data), tombstones of deleted sessions

Revision ID: dialog_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "dialog_0002"
down_revision = "dialog_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sessions",
        sa.Column("protocol", sa.Text(), nullable=False, server_default=""),
        schema="dialog",
    )
    op.add_column(
        "sessions",
        sa.Column("data", postgresql.JSONB(), nullable=False, server_default="{}"),
        schema="dialog",
    )
    op.add_column(
        "sessions",
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        schema="dialog",
    )
    # A deleted session's id stays here for good: it is never answered or recreated again.
    op.create_table(
        "deleted_sessions",
        sa.Column("project_key", sa.Uuid(), primary_key=True),
        sa.Column("session_id", sa.String(128), primary_key=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        schema="dialog",
    )


def downgrade() -> None:
    op.drop_table("deleted_sessions", schema="dialog")
    op.drop_column("sessions", "created_at", schema="dialog")
    op.drop_column("sessions", "data", schema="dialog")
    op.drop_column("sessions", "protocol", schema="dialog")
