"""minutes: no attendance checklist any more; a week after a meeting without minutes the
coordinator is asked once (a row of attendance_checks is that claim)

A checklist sent and never saved says nothing about who came: its row goes, so the
meeting's attendance is ticked from the poll in the preview, and, if the meeting was within
the last days, the week's question may still come once. A saved checklist keeps its
attendance (outcome "saved"). Old checklist buttons are answered "no longer valid".

Revision ID: 0007d
Revises: 0007c
Create Date: 2026-12-04 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007d"
down_revision: str | None = "0007c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM attendance_checks WHERE saved_at IS NULL"))
    op.execute(sa.text("UPDATE attendance_checks SET outcome = 'saved'"))


def downgrade() -> None:
    # The older code reads only saved_at; its checklist is never sent again for these.
    op.execute(sa.text("UPDATE attendance_checks SET outcome = 'sent'"))
