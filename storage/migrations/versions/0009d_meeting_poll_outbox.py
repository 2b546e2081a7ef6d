"""meeting poll outbox: the date poll's post in the group is an outbox item (at most once)

The old code claimed the post by writing the meeting "opening" and sending at once; a
meeting still "opening" was cut off by a stop mid-send, so its poll may or may not be in
the group. It becomes a claimed outbox item of a process that is gone: at the start the
outbox records it "unknown" (never posted again: never two polls) and the coordinator is
told to look, as when Telegram's answer is lost.

Revision ID: 0009d
Revises: 0009c
Create Date: 2026-12-04 13:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009d"
down_revision: str | None = "0009c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0013"  # the outbox

KIND = "meeting_poll"


def upgrade() -> None:
    op.execute(
        "INSERT INTO outbox "
        "(group_id, kind, subject_id, person_id, due_at, state, claim_token, claimed_at, "
        "attempts) "
        f"SELECT m.group_id, '{KIND}', m.id, NULL, m.opened_at, 'claimed', 'before-0009d', "
        "m.opened_at, 1 FROM meetings m WHERE m.status = 'opening' AND NOT EXISTS "
        f"(SELECT 1 FROM outbox o WHERE o.kind = '{KIND}' AND o.subject_id = m.id)"
    )


def downgrade() -> None:
    # The old code leaves a meeting "opening" as it is; the outbox's items go.
    op.execute(f"DELETE FROM outbox WHERE kind = '{KIND}'")
