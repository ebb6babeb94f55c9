"""telemetry: reports (what robots sent that is kept as it came)

Revision ID: telemetry_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "telemetry_0002"
down_revision = "telemetry_0001"
branch_labels = None
depends_on = None

SCHEMA = "telemetry"


def upgrade() -> None:
    # event_id is the key, so a redelivered report is a no-op.
    op.create_table(
        "reports",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("project_key", sa.Uuid(), nullable=False),
        sa.Column("robot_id", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("record_id", sa.Text()),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    # "The newest task results of this robot": one index range, already in order.
    op.create_index(
        "reports_robot_key_idx",
        "reports",
        ["project_key", "robot_id", "key", sa.text("occurred_at DESC")],
        schema=SCHEMA,
    )
    # Everything about one log session (or other record), whichever robot sent it.
    op.create_index("reports_record_idx", "reports", ["project_key", "record_id"], schema=SCHEMA)
    # As for samples: rows arrive roughly in time order, so a tiny BRIN index serves retention.
    op.create_index(
        "reports_occurred_brin", "reports", ["occurred_at"], postgresql_using="brin", schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_table("reports", schema=SCHEMA)
