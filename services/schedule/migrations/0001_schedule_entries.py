"""schedule: one row per entry of a robot's schedule

Revision ID: schedule_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "schedule_0001"
down_revision = None
branch_labels = ("schedule",)
depends_on = None

SCHEMA = "schedule"


def _ts(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    # The id (not the name) seeds the fire ids: a deleted and re-created entry fires anew.
    op.create_table(
        "entries",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("project_key", sa.Uuid(), nullable=False),
        sa.Column("robot_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", postgresql.JSONB(), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("cron", sa.Text()),
        _ts("next_due_at"),
        _ts("last_fired_at"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.UniqueConstraint("project_key", "robot_id", "name", name="entries_robot_name_key"),
        schema=SCHEMA,
    )
    # Every replica asks for the earliest due entries each tick; finished one-shots (NULL)
    # are not in the index.
    op.create_index(
        "entries_due_idx",
        "entries",
        ["next_due_at"],
        postgresql_where=sa.text("next_due_at IS NOT NULL"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("entries", schema=SCHEMA)
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}")
