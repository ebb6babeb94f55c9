"""media: one row of metadata per kept file or voice message (bytes in the `media` object store)

A table of its own rather than `images` generalised: GET /content/image/{id} serves whatever
`images` holds, inline, and must never serve an uploaded HTML or SVG file; and files have no
width or height.

Revision ID: media_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "media_0002"
down_revision = "media_0001"
branch_labels = None
depends_on = None

SCHEMA = "media"


def upgrade() -> None:
    # media_id is also the object's name, and the key that makes a repeated request a no-op.
    op.create_table(
        "files",
        sa.Column("media_id", sa.Uuid(), primary_key=True),
        sa.Column("project_key", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("name", sa.Text(), nullable=False, server_default=""),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.CHAR(64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        schema=SCHEMA,
    )
    # A deleted session's files are found (and deleted) by this index.
    op.create_index("files_session_idx", "files", ["project_key", "session_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("files", schema=SCHEMA)
