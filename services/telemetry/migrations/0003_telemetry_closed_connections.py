"""telemetry: robots remember the sockets they closed, so presence is right in any event order

Revision ID: telemetry_0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "telemetry_0003"
down_revision = "telemetry_0002"
branch_labels = None
depends_on = None

SCHEMA = "telemetry"


def upgrade() -> None:
    # The fleet consumer applies the events of one fetch concurrently (and replicas share it),
    # so a socket's close can be stored before its open. The 16 newest closed connection ids
    # (sql.PRESENCE_DISCONNECTED) let a late open see that its socket is already gone.
    op.add_column(
        "robots",
        sa.Column(
            "closed",
            postgresql.ARRAY(sa.Text()),
            nullable=False,
            server_default=sa.text("'{}'::text[]"),
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("robots", "closed", schema=SCHEMA)
