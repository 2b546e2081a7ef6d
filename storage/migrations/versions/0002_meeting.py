"""monthly meeting: date polls, answers, reminders, settings, other polls

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TELEGRAM_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _group_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["group_id"], ["groups.id"], name=op.f(f"fk_{table}_group_id_groups"), ondelete="CASCADE"
    )


def _meeting_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["meeting_id"],
        ["meetings.id"],
        name=op.f(f"fk_{table}_meeting_id_meetings"),
        ondelete="CASCADE",
    )


def _indexes(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "meeting_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        _group_fk("meeting_settings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_settings")),
        sa.UniqueConstraint("group_id", "key", name=op.f("uq_meeting_settings_group_id")),
    )
    _indexes("meeting_settings", "group_id")

    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("schedule_key", sa.String(length=7), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("poll_id", sa.String(length=64), nullable=True),
        sa.Column("poll_chat_id", TELEGRAM_ID, nullable=True),
        sa.Column("poll_message_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("closes_at", storage.base.UTCDateTime(), nullable=True),
        sa.Column("nudged_at", storage.base.UTCDateTime(), nullable=True),
        sa.Column("closed_at", storage.base.UTCDateTime(), nullable=True),
        sa.Column("starts_at", storage.base.UTCDateTime(), nullable=True),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        _group_fk("meetings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sa.UniqueConstraint("group_id", "schedule_key", name=op.f("uq_meetings_group_id")),
    )
    _indexes("meetings", "group_id", "poll_id")

    op.create_table(
        "meeting_options",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("starts_at", storage.base.UTCDateTime(), nullable=True),
        _group_fk("meeting_options"),
        _meeting_fk("meeting_options"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_options")),
        sa.UniqueConstraint("meeting_id", "position", name=op.f("uq_meeting_options_meeting_id")),
    )
    _indexes("meeting_options", "group_id", "meeting_id")

    op.create_table(
        "meeting_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("answered_at", storage.base.UTCDateTime(), nullable=False),
        _group_fk("meeting_answers"),
        _meeting_fk("meeting_answers"),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_meeting_answers_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_answers")),
        sa.UniqueConstraint(
            "meeting_id", "person_id", "position", name=op.f("uq_meeting_answers_meeting_id")
        ),
    )
    _indexes("meeting_answers", "group_id", "meeting_id", "person_id")

    op.create_table(
        "meeting_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("lead", sa.String(length=16), nullable=False),
        sa.Column("due_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("done_at", storage.base.UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        _group_fk("meeting_reminders"),
        _meeting_fk("meeting_reminders"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_reminders")),
    )
    _indexes("meeting_reminders", "group_id", "meeting_id")

    op.create_table(
        "group_polls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.String(length=64), nullable=False),
        sa.Column("chat_id", TELEGRAM_ID, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=300), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("opened_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("closes_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("closed_at", storage.base.UTCDateTime(), nullable=True),
        _group_fk("group_polls"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_polls")),
    )
    _indexes("group_polls", "group_id")


def downgrade() -> None:
    for table in (
        "group_polls",
        "meeting_reminders",
        "meeting_answers",
        "meeting_options",
        "meetings",
        "meeting_settings",
    ):
        op.drop_table(table)
