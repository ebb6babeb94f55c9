"""telemetry: samples, newest sample per robot, robots, commands

Revision ID: telemetry_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "telemetry_0001"
down_revision = None
branch_labels = ("telemetry",)
depends_on = None

SCHEMA = "telemetry"


def _ts(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    _samples()
    _fleet()


def _samples() -> None:
    # One row per metric; (event_id, metric) makes a redelivered sample a no-op.
    op.create_table(
        "samples",
        sa.Column("project_key", sa.Uuid(), nullable=False),
        sa.Column("robot_id", sa.Text(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        _ts("received_at", nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "metric"),
        schema=SCHEMA,
    )
    # Range queries read only this index (value is included).
    op.create_index(
        "samples_series_idx",
        "samples",
        ["project_key", "robot_id", "metric", "received_at"],
        postgresql_include=["value"],
        schema=SCHEMA,
    )
    # Rows arrive roughly in time order, so a tiny BRIN index lets retention find old ones.
    op.create_index(
        "samples_received_brin", "samples", ["received_at"], postgresql_using="brin", schema=SCHEMA
    )
    # The newest sample per robot, upserted with each batch: a latest query reads one row per
    # robot instead of searching samples, and retention cannot make it expensive.
    op.create_table(
        "latest",
        sa.Column("project_key", sa.Uuid(), primary_key=True),
        sa.Column("robot_id", sa.Text(), primary_key=True),
        _ts("received_at", nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("metrics", postgresql.JSONB(), nullable=False),
        schema=SCHEMA,
    )


def _fleet() -> None:
    op.create_table(
        "robots",
        sa.Column("project_key", sa.Uuid(), primary_key=True),
        sa.Column("robot_id", sa.Text(), primary_key=True),
        sa.Column("connected", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("connection", sa.Text()),
        sa.Column("protocol", sa.Text()),
        _ts("connected_at"),
        _ts("last_seen"),
        schema=SCHEMA,
    )
    op.create_table(
        "commands",
        sa.Column("command_id", sa.Uuid(), primary_key=True),
        sa.Column("project_key", sa.Uuid(), nullable=False),
        sa.Column("robot_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text()),
        _ts("issued_at"),
        _ts("expires_at"),
        sa.Column("issued_by", sa.Text()),
        _ts("delivered_at"),
        _ts("acknowledged_at"),
        _ts("expired_at"),
        schema=SCHEMA,
    )
    op.create_index("commands_project_idx", "commands", ["project_key", "robot_id"], schema=SCHEMA)


def downgrade() -> None:
    for table in ("commands", "robots", "latest", "samples"):
        op.drop_table(table, schema=SCHEMA)
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}")
