"""identity: an admin token's role (admin, or viewer: read-only)

Revision ID: identity_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0005"
down_revision = "identity_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every token made before roles existed could change things: they stay admins.
    op.add_column(
        "admin_tokens",
        sa.Column("role", sa.String(16), nullable=False, server_default="admin"),
        schema="identity",
    )
    op.create_check_constraint(
        "admin_tokens_role", "admin_tokens", "role IN ('admin', 'viewer')", schema="identity"
    )


def downgrade() -> None:
    op.drop_column("admin_tokens", "role", schema="identity")
