"""dialog: bot content versions, sessions, turns

Revision ID: dialog_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "dialog_0001"
down_revision = None
branch_labels = ("dialog",)
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS dialog")
    op.create_table(
        "bot_content",
        sa.Column("project_key", sa.Uuid(), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("aiml", sa.Text(), nullable=False),
        sa.Column("maps", sa.Text(), nullable=False),
        sa.Column("sets", sa.Text(), nullable=False),
        sa.Column("properties", sa.Text(), nullable=False),
        sa.Column("categories", sa.Integer(), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        schema="dialog",
    )
    op.create_table(
        "sessions",
        sa.Column("project_key", sa.Uuid(), primary_key=True),
        sa.Column("session_id", sa.String(128), primary_key=True),
        sa.Column("state", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("channel", sa.String(128), nullable=False, server_default=""),
        sa.Column("seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        schema="dialog",
    )
    op.create_table(
        "turns",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("turn_event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("reply_event_id", sa.Uuid(), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=False),
        sa.Column("project_key", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("protocol", sa.String(32), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("engine", sa.String(32), nullable=False),
        sa.Column("content_version", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("engine_ms", sa.Float(), nullable=False),
        schema="dialog",
    )
    op.create_index(
        "turns_session_idx", "turns", ["project_key", "session_id", "id"], schema="dialog"
    )


def downgrade() -> None:
    op.drop_table("turns", schema="dialog")
    op.drop_table("sessions", schema="dialog")
    op.drop_table("bot_content", schema="dialog")
    op.execute("DROP SCHEMA IF EXISTS dialog")
