"""dialog: the owner generation of each turn partition

Each turn partition is answered by one dialog replica at a time (a lease in a KV bucket). A
replica that takes a partition over writes its generation here first; every batch write holds
the row with a share lock and checks it is still its own, so a replica that lost its lease
without noticing (paused, partitioned away) has its writes refused.

Revision ID: dialog_0010
"""

import sqlalchemy as sa
from alembic import op

revision = "dialog_0010"
down_revision = "dialog_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partition_owners",
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        schema="dialog",
    )


def downgrade() -> None:
    op.drop_table("partition_owners", schema="dialog")
