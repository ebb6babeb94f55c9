"""media: one row of metadata per kept image (its bytes are in the `media` object store)

Revision ID: media_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "media_0001"
down_revision = None
branch_labels = ("media",)
depends_on = None

SCHEMA = "media"


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    # media_id is also the object's name, and the key that makes a repeated request a no-op.
    op.create_table(
        "images",
        sa.Column("media_id", sa.Uuid(), primary_key=True),
        sa.Column("project_key", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.CHAR(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False, server_default=""),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        schema=SCHEMA,
    )
    # A deleted session's images are found (and deleted) by this index.
    op.create_index("images_session_idx", "images", ["project_key", "session_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("images", schema=SCHEMA)
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}")
