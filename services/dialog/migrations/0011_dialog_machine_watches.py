"""dialog: find the sessions a state machine's clock watches without reading them all

A session whose state machine waits on conditions (variables, time of day) carries
`_machine.watch` in its state; the clock reads those sessions every second. This partial index
holds only them.

Revision ID: dialog_0011
"""

from alembic import op

revision = "dialog_0011"
down_revision = "dialog_0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX sessions_machine_watch ON dialog.sessions (project_key)"
        " WHERE (state -> '_machine') ? 'watch'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX dialog.sessions_machine_watch")
