"""group poll outbox: closing the coordinator's other polls (`/poll`) is an outbox item

Each poll still open gets its closing promised at its `closes_at` (already past when the bot
was stopped across it: closed at the start). A poll the old code had claimed (closed) is
left as it is.

Revision ID: 0009e
Revises: 0009d
Create Date: 2026-12-04 14:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009e"
down_revision: str | None = "0009d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0013"  # the outbox

KIND = "group_poll"


def upgrade() -> None:
    op.execute(
        "INSERT INTO outbox (group_id, kind, subject_id, person_id, due_at, state, attempts) "
        f"SELECT p.group_id, '{KIND}', p.id, NULL, p.closes_at, 'pending', 0 "
        "FROM group_polls p WHERE p.closed_at IS NULL AND NOT EXISTS "
        f"(SELECT 1 FROM outbox o WHERE o.kind = '{KIND}' AND o.subject_id = p.id)"
    )


def downgrade() -> None:
    # The old code closes an open poll by its row; the outbox's items go.
    op.execute(f"DELETE FROM outbox WHERE kind = '{KIND}'")
