"""privacy: the single-instance lease and the retention job's last run

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-25 23:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "instance_lease",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", storage.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_lease")),
    )
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("last_run_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("deleted_rows", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_retention_runs_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
        sa.UniqueConstraint("group_id", name=op.f("uq_retention_runs_group_id")),
    )


def downgrade() -> None:
    op.drop_table("retention_runs")
    op.drop_table("instance_lease")
