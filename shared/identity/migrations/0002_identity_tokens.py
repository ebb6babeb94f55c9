"""identity: admin tokens and robot REST tokens

Revision ID: identity_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "identity_0002"
down_revision = "identity_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_tokens",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("token_prefix", sa.String(16), nullable=False),
        sa.Column("projects", postgresql.JSONB(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        schema="identity",
    )
    op.create_table(
        "robot_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "project_key",
            sa.Uuid(),
            sa.ForeignKey("identity.projects.key", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("robot_id", sa.String(64), nullable=False),
        sa.Column("token_prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        schema="identity",
    )
    op.create_index(
        "robot_tokens_robot", "robot_tokens", ["project_key", "robot_id"], schema="identity"
    )


def downgrade() -> None:
    op.drop_table("robot_tokens", schema="identity")
    op.drop_table("admin_tokens", schema="identity")
