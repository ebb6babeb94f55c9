"""dialog: content files and behaviour trees (filled by the content work)

Revision ID: dialog_0005
"""

revision = "dialog_0005"
down_revision = "dialog_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
