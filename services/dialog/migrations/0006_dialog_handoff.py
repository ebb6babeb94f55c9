"""dialog: conversations and human handoff

Sessions learn when they were last active (conversation lists sort by it, newest first) and
which operator holds them; the transcript keeps what was said first (an operator's message) as
rows of kind "said" beside the user's turns. The indexes serve those lists and the export,
which walks a project's turns in id order.

Revision ID: dialog_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "dialog_0006"
down_revision = "dialog_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sessions",
        sa.Column("last_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        schema="dialog",
    )
    op.add_column("sessions", sa.Column("handoff", sa.Text(), nullable=True), schema="dialog")
    op.execute(
        """
        UPDATE dialog.sessions s SET last_at = coalesce(
            (SELECT max(t.answered_at) FROM dialog.turns t
             WHERE t.project_key = s.project_key AND t.session_id = s.session_id),
            s.created_at, now())
        """
    )
    op.alter_column("sessions", "last_at", nullable=False, schema="dialog")
    op.add_column(
        "turns",
        sa.Column("kind", sa.String(16), nullable=False, server_default="turn"),
        schema="dialog",
    )
    op.create_index(
        "sessions_activity_idx",
        "sessions",
        ["project_key", sa.text("last_at DESC"), sa.text("session_id DESC")],
        schema="dialog",
    )
    op.create_index("turns_project_idx", "turns", ["project_key", "id"], schema="dialog")


def downgrade() -> None:
    op.drop_index("turns_project_idx", table_name="turns", schema="dialog")
    op.drop_index("sessions_activity_idx", table_name="sessions", schema="dialog")
    op.drop_column("turns", "kind", schema="dialog")
    op.drop_column("sessions", "handoff", schema="dialog")
    op.drop_column("sessions", "last_at", schema="dialog")
