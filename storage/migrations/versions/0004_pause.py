"""pause: due times for check-ins and the readiness question

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-25 23:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pauses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_checkin_at", storage.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("ask_at", storage.base.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pauses", schema=None) as batch_op:
        batch_op.drop_column("ask_at")
        batch_op.drop_column("next_checkin_at")
