"""minutes: copies go through the outbox; minutes_deliveries is moved into it and dropped

Every copy keeps where it stood: pending (or cut off mid-send) -> pending; waiting for a
pause -> held; waiting for /start -> done "not_started" (sent again on /start); failed ->
done "failed"; sent -> done "sent" (so the coordinator's report still counts it).

Revision ID: 0007b
Revises: 0007
Create Date: 2026-12-04 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0007b"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0013"

KIND = "minutes_copy"


def upgrade() -> None:
    # First the copies (altering `minutes` may rebuild it on SQLite, and its deletion would
    # cascade to minutes_deliveries).
    op.execute(
        sa.text(
            """
            INSERT INTO outbox (group_id, kind, subject_id, person_id, due_at, state,
                                claim_token, claimed_at, attempts, outcome, done_at)
            SELECT d.group_id, :kind, d.minutes_id, d.person_id,
                   COALESCE(m.confirmed_at, m.created_at),
                   CASE d.status
                       WHEN 'pending' THEN 'pending'
                       WHEN 'sending' THEN 'pending'
                       WHEN 'waiting_paused' THEN 'held'
                       ELSE 'done' END,
                   NULL, NULL, d.attempts,
                   CASE d.status
                       WHEN 'sent' THEN 'sent'
                       WHEN 'waiting_unreachable' THEN 'not_started'
                       WHEN 'failed' THEN 'failed'
                       ELSE NULL END,
                   CASE d.status
                       WHEN 'sent' THEN COALESCE(d.sent_at, m.confirmed_at, m.created_at)
                       WHEN 'waiting_unreachable' THEN COALESCE(m.confirmed_at, m.created_at)
                       WHEN 'failed' THEN COALESCE(m.confirmed_at, m.created_at)
                       ELSE NULL END
            FROM minutes_deliveries d JOIN minutes m ON m.id = d.minutes_id
            """
        ).bindparams(kind=KIND)
    )
    op.drop_table("minutes_deliveries")
    with op.batch_alter_table("minutes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("paused_too", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("minutes", schema=None) as batch_op:
        batch_op.drop_column("paused_too")
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
        *(
            sa.ForeignKeyConstraint(
                [column],
                [f"{target}.id"],
                name=op.f(f"fk_minutes_deliveries_{column}_{target}"),
                ondelete="CASCADE",
            )
            for column, target in (
                ("group_id", "groups"),
                ("minutes_id", "minutes"),
                ("person_id", "people"),
            )
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minutes_deliveries")),
        sa.UniqueConstraint(
            "minutes_id", "person_id", name=op.f("uq_minutes_deliveries_minutes_id")
        ),
    )
    with op.batch_alter_table("minutes_deliveries", schema=None) as batch_op:
        for column in ("group_id", "minutes_id", "person_id", "status"):
            batch_op.create_index(
                batch_op.f(f"ix_minutes_deliveries_{column}"), [column], unique=False
            )
    op.execute(
        sa.text(
            """
            INSERT INTO minutes_deliveries (group_id, minutes_id, person_id, status, attempts,
                                            claim_token, claimed_at, sent_at)
            SELECT o.group_id, o.subject_id, o.person_id,
                   CASE
                       WHEN o.state = 'held' THEN 'waiting_paused'
                       WHEN o.state IN ('pending', 'claimed') THEN 'pending'
                       WHEN o.outcome = 'sent' THEN 'sent'
                       WHEN o.outcome IN ('not_started', 'blocked') THEN 'waiting_unreachable'
                       ELSE 'failed' END,
                   o.attempts, NULL, NULL,
                   CASE WHEN o.outcome = 'sent' THEN o.done_at ELSE NULL END
            FROM outbox o JOIN minutes m ON m.id = o.subject_id
            WHERE o.kind = :kind AND (o.outcome IS NULL OR o.outcome != 'not_wanted')
            """
        ).bindparams(kind=KIND)
    )
    op.execute(sa.text("DELETE FROM outbox WHERE kind = :kind").bindparams(kind=KIND))
