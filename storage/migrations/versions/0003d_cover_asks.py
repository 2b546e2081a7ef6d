"""matches: asking a volunteer privately to cover a match during someone's pause

The coordinator's notice about a pause suggests who could take over; one tap asks that
volunteer. The ask is a row (which match, which pause, whom, who asked, until when), so
its answer and its expiry after two days (a scheduler pass) survive a restart.

Revision ID: 0003d
Revises: 0003c
Create Date: 2026-12-04 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision: str = "0003d"
down_revision: str | None = "0003c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("0004", "0013")  # pauses; its messages are outbox items


def upgrade() -> None:
    op.create_table(
        "cover_asks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "group_id", sa.Integer(), sa.ForeignKey("groups.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "match_id",
            sa.Integer(),
            sa.ForeignKey("matches.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "pause_id", sa.Integer(), sa.ForeignKey("pauses.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey("people.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "asked_by", sa.Integer(), sa.ForeignKey("people.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
    )
    for column in ("group_id", "match_id", "pause_id", "person_id", "asked_by"):
        op.create_index(f"ix_cover_asks_{column}", "cover_asks", [column])
    op.create_index("ix_cover_asks_state_expires", "cover_asks", ["state", "expires_at"])


def downgrade() -> None:
    op.drop_table("cover_asks")
