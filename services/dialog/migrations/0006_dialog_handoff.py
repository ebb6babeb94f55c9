"""dialog: conversations and human handoff (filled by the conversations work)

Revision ID: dialog_0006
"""

revision = "dialog_0006"
down_revision = "dialog_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
