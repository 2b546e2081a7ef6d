"""match reminders: each pending reminder row becomes an outbox item

The reminder rows stay (the volunteer's "I'm coming" and the cancellations point at them);
only their sending moves to the outbox. A row the old sender had claimed ("sending": a stop
cut it off between claim and Telegram's answer) is pending again and promised, as the old
sender would have sent it again (at least once). Whether each is still wanted (meeting
ahead, within the grace, volunteer on the match) is decided when it is sent.

Revision ID: 0003c
Revises: 0003b
Create Date: 2026-12-04 11:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003c"
down_revision: str | None = "0003b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0013"  # the outbox

KIND = "match_reminder"


def upgrade() -> None:
    op.execute("UPDATE reminder_deliveries SET state = 'pending' WHERE state = 'sending'")
    op.execute(
        "INSERT INTO outbox (group_id, kind, subject_id, person_id, due_at, state, attempts) "
        f"SELECT r.group_id, '{KIND}', r.id, r.person_id, r.due_at, 'pending', 0 "
        "FROM reminder_deliveries r WHERE r.state = 'pending' AND NOT EXISTS "
        f"(SELECT 1 FROM outbox o WHERE o.kind = '{KIND}' AND o.subject_id = r.id)"
    )


def downgrade() -> None:
    # The old sender claims pending rows itself; what the outbox had sent is marked there.
    op.execute(f"DELETE FROM outbox WHERE kind = '{KIND}'")
