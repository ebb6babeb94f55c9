"""identity: robot credentials (XPARO's ROBOT_CREDENTIAL)

Revision ID: identity_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0003"
down_revision = "identity_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "robot_credentials",
        sa.Column("secret_hash", sa.String(64), primary_key=True),
        sa.Column(
            "project_key",
            sa.Uuid(),
            sa.ForeignKey("identity.projects.key", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("robot_id", sa.String(64), nullable=False),
        sa.Column("secret_prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        schema="identity",
    )
    op.create_index(
        "robot_credentials_robot",
        "robot_credentials",
        ["project_key", "robot_id"],
        unique=True,
        schema="identity",
    )


def downgrade() -> None:
    op.drop_table("robot_credentials", schema="identity")
