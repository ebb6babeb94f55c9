"""identity: the audit log of every admin change

Revision ID: identity_0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "identity_0004"
down_revision = "identity_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor", sa.String(220), nullable=False),
        sa.Column("project_key", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("target", sa.String(2000), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("details", postgresql.JSONB(), nullable=False, server_default="{}"),
        schema="identity",
    )
    # Pages are read newest first, for one project or for all.
    op.create_index("audit_log_project", "audit_log", ["project_key", "id"], schema="identity")


def downgrade() -> None:
    op.drop_table("audit_log", schema="identity")
