"""dialog: FAQ, intents and chain in every content version; the release stage; richer turns

Revision ID: dialog_0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "dialog_0003"
down_revision = "dialog_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("faq", "intents", "chain"):
        op.add_column(
            "bot_content", sa.Column(column, postgresql.JSONB(), nullable=True), schema="dialog"
        )
    for column in ("faq_groups", "intent_count"):
        op.add_column(
            "bot_content",
            sa.Column(column, sa.Integer(), nullable=False, server_default="0"),
            schema="dialog",
        )
    op.add_column(
        "bot_content",
        sa.Column("change", sa.String(64), nullable=False, server_default="aiml"),
        schema="dialog",
    )
    op.create_table(
        "releases",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("project_key", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "published_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.ForeignKeyConstraint(
            ["project_key", "version"],
            ["dialog.bot_content.project_key", "dialog.bot_content.version"],
        ),
        schema="dialog",
    )
    op.create_index("releases_project_idx", "releases", ["project_key", "id"], schema="dialog")
    op.add_column(
        "turns",
        sa.Column("stage", sa.String(16), nullable=False, server_default="test"),
        schema="dialog",
    )
    op.add_column("turns", sa.Column("details", postgresql.JSONB(), nullable=True), schema="dialog")


def downgrade() -> None:
    op.drop_column("turns", "details", schema="dialog")
    op.drop_column("turns", "stage", schema="dialog")
    op.drop_table("releases", schema="dialog")
    for column in ("change", "intent_count", "faq_groups", "chain", "intents", "faq"):
        op.drop_column("bot_content", column, schema="dialog")
