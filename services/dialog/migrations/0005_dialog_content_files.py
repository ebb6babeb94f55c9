"""dialog: content files (AIML files and behaviour trees) kept once per project, by digest

Each version lists its files in `bot_content.files` (name, digest, size, categories); the texts
live in `content_blobs`, so a new version that keeps 12 MB of AIML copies only the list. The
single `aiml` text of older versions becomes their file `bot.aiml`.

Revision ID: dialog_0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "dialog_0005"
down_revision = "dialog_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_blobs",
        sa.Column("project_key", sa.Uuid(), primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
        schema="dialog",
    )
    op.add_column(
        "bot_content",
        sa.Column("files", postgresql.JSONB(), nullable=False, server_default="{}"),
        schema="dialog",
    )
    op.execute(
        """
        INSERT INTO dialog.content_blobs (project_key, sha256, text)
        SELECT DISTINCT project_key, encode(sha256(convert_to(aiml, 'UTF8')), 'hex'), aiml
        FROM dialog.bot_content WHERE aiml <> ''
        ON CONFLICT DO NOTHING
        """
    )
    op.execute(
        """
        UPDATE dialog.bot_content SET files = jsonb_build_object('aiml', jsonb_build_array(
            jsonb_build_object(
                'name', 'bot.aiml',
                'sha256', encode(sha256(convert_to(aiml, 'UTF8')), 'hex'),
                'size', octet_length(convert_to(aiml, 'UTF8')),
                'categories', categories)))
        WHERE aiml <> ''
        """
    )
    op.drop_column("bot_content", "aiml", schema="dialog")


def downgrade() -> None:
    """Back to one AIML text per version: a version of several files keeps its first one."""
    op.add_column(
        "bot_content",
        sa.Column("aiml", sa.Text(), nullable=False, server_default=""),
        schema="dialog",
    )
    op.execute(
        """
        UPDATE dialog.bot_content c SET aiml = b.text FROM dialog.content_blobs b
        WHERE b.project_key = c.project_key AND b.sha256 = c.files #>> '{aiml,0,sha256}'
        """
    )
    op.drop_column("bot_content", "files", schema="dialog")
    op.drop_table("content_blobs", schema="dialog")
