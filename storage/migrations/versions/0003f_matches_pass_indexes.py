"""matches: the indexes the scheduling pass needs, and none it has to keep up for nothing

The pass looks for meetings not yet armed (`group_id = ? AND armed = 0`): with one index on
each column SQLite chose the group's and read every meeting of the year (260,000 rows at
5,000 matches) on every pass; one index on both reads only the unarmed ones. Four indexes
are dropped because every insert of a pass kept them up for no query: the single-column
`group_id` and `armed` (the new one serves both), `match_occurrences.match_id` and
`reminder_deliveries.occurrence_id` (the unique constraints start with those columns), and
`reminder_deliveries (state, due_at)` (the claim that used it is gone: the outbox claims).

Revision ID: 0003f
Revises: 0003e
Create Date: 2026-12-04 13:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003f"
down_revision: str | None = "0003e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("match_occurrences", schema=None) as batch_op:
        batch_op.create_index("ix_match_occurrences_unarmed", ["group_id", "armed"], unique=False)
        batch_op.drop_index(batch_op.f("ix_match_occurrences_armed"))
        batch_op.drop_index(batch_op.f("ix_match_occurrences_group_id"))
        batch_op.drop_index(batch_op.f("ix_match_occurrences_match_id"))
    with op.batch_alter_table("reminder_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_deliveries_occurrence_id"))
        batch_op.drop_index("ix_reminder_deliveries_state_due")


def downgrade() -> None:
    with op.batch_alter_table("reminder_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_reminder_deliveries_state_due", ["state", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reminder_deliveries_occurrence_id"), ["occurrence_id"], unique=False
        )
    with op.batch_alter_table("match_occurrences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_occurrences_match_id"), ["match_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_match_occurrences_group_id"), ["group_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_match_occurrences_armed"), ["armed"], unique=False)
        batch_op.drop_index("ix_match_occurrences_unarmed")
