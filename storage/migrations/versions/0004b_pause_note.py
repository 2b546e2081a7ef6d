"""pause: the volunteer's message to the coordinator, kept only until it is delivered

The notice about a new pause goes through the outbox, which holds ids only; its text is
rendered when it is sent, so the volunteer's few words wait on the pause row, sealed (never
readable in the database), until every coordinator's notice is done, and are then emptied.

Revision ID: 0004b
Revises: 0004
Create Date: 2026-12-04 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004b"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0013"  # the notices are outbox items


def upgrade() -> None:
    with op.batch_alter_table("pauses") as batch:
        batch.add_column(sa.Column("note_for_coordinator", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pauses") as batch:
        batch.drop_column("note_for_coordinator")
