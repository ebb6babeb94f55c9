"""telemetry: commands keep what they asked of the robot, so operators see more than the type

Revision ID: telemetry_0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "telemetry_0004"
down_revision = "telemetry_0003"
branch_labels = None
depends_on = None

SCHEMA = "telemetry"


def upgrade() -> None:
    # The command's fields as the robot got them (a behaviour tree's XML left out): the
    # console's "Recent commands" shows e.g. start_navigation {"goal": "ward-3"}.
    op.add_column("commands", sa.Column("data", postgresql.JSONB(), nullable=True), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("commands", "data", schema=SCHEMA)
