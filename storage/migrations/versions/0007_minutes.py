"""minutes: attendance, minutes and their deliveries

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-25 23:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0007"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
# The tables point at `meetings` (the meeting branch), so that branch must come first.
depends_on: str | Sequence[str] | None = "0002"

TELEGRAM_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def _indexes(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "attendance_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("claimed_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("saved_at", storage.base.UTCDateTime(), nullable=True),
        _fk("attendance_checks", "group_id", "groups"),
        _fk("attendance_checks", "meeting_id", "meetings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_checks")),
        sa.UniqueConstraint("meeting_id", name=op.f("uq_attendance_checks_meeting_id")),
    )
    _indexes("attendance_checks", "group_id", "meeting_id")

    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        _fk("attendance", "group_id", "groups"),
        _fk("attendance", "meeting_id", "meetings"),
        _fk("attendance", "person_id", "people"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
        sa.UniqueConstraint("meeting_id", "person_id", name=op.f("uq_attendance_meeting_id")),
    )
    _indexes("attendance", "group_id", "meeting_id", "person_id")

    op.create_table(
        "minutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("file_id", sa.String(length=256), nullable=True),
        sa.Column("file_name", sa.String(length=256), nullable=True),
        sa.Column("author_user_id", TELEGRAM_ID, nullable=False),
        sa.Column("created_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", storage.base.UTCDateTime(), nullable=True),
        sa.Column("report_chat_id", TELEGRAM_ID, nullable=True),
        sa.Column("report_message_id", sa.Integer(), nullable=True),
        _fk("minutes", "group_id", "groups"),
        _fk("minutes", "meeting_id", "meetings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minutes")),
    )
    _indexes("minutes", "group_id", "meeting_id")

    op.create_table(
        "minutes_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("minutes_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", storage.base.UTCDateTime(), nullable=True),
        sa.Column("sent_at", storage.base.UTCDateTime(), nullable=True),
        _fk("minutes_deliveries", "group_id", "groups"),
        _fk("minutes_deliveries", "minutes_id", "minutes"),
        _fk("minutes_deliveries", "person_id", "people"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minutes_deliveries")),
        sa.UniqueConstraint(
            "minutes_id", "person_id", name=op.f("uq_minutes_deliveries_minutes_id")
        ),
    )
    _indexes("minutes_deliveries", "group_id", "minutes_id", "person_id", "status")


def downgrade() -> None:
    op.drop_table("minutes_deliveries")
    op.drop_table("minutes")
    op.drop_table("attendance")
    op.drop_table("attendance_checks")
