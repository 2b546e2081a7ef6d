"""Retention: what is deleted when, as a registry of rules run by a daily job.

Each rule deletes a table's rows whose timestamp is older than a configurable period
(`Settings.<settings_field>`; a field ending in `_days` counts days, otherwise months).
Features' tables get a rule here when they appear; a rule whose table does not exist
(yet) is skipped. tests/test_privacy_retention.py fails when a table that points at a
person has neither a rule nor a place in KEPT_WHILE_IN_GROUP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

import storage.models  # noqa: F401  (registers every feature's tables on the metadata)
from bot.domain.bulk import BULK_ROWS, roomy_cache
from bot.domain.minutes import KIND as MINUTES_COPY
from bot.domain.rights import overwrite_deleted_content, uncovered_without
from storage.base import Base
from storage.models import Person
from storage.models.outbox import DONE, OutboxItem
from storage.models.privacy import RetentionRun

RUN_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class RetentionRule:
    """Delete `table_name` rows whose `timestamp_column` is older than the setting."""

    table_name: str
    timestamp_column: str
    settings_field: str
    extra_condition: Callable[[Table], ColumnElement[bool]] | None = None
    # For a table without a time of its own: the foreign key column whose parent row holds
    # `timestamp_column` (e.g. attendance.meeting_id -> meetings.opened_at).
    via: str | None = None
    # The outbox kind whose items are about these rows (`subject_id`): they go with them.
    outbox_kind: str | None = None

    def period(self, settings: Any) -> int:
        return int(getattr(settings, self.settings_field))

    def cutoff(self, settings: Any, now: datetime) -> datetime:
        if self.settings_field.endswith("_days"):
            return now - timedelta(days=self.period(settings))
        return months_before(now, self.period(settings))


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (clamped to the month's end)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_month - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


RULES: list[RetentionRule] = [
    # People who left the group: everything about them goes with the people row (cascade).
    RetentionRule("people", "left_at", "retention_left_days", lambda t: t.c.is_member.is_(False)),
    # Finished pauses (a running pause has no ended_at and is never touched).
    RetentionRule("pauses", "ended_at", "retention_pauses_months"),
    # Ended matches go with their meetings and reminders; a volunteer's ended place on a
    # match that goes on (e.g. a temporary cover) goes after the same time.
    RetentionRule("matches", "ended_at", "retention_ended_matches_months"),
    RetentionRule("match_volunteers", "ended_at", "retention_ended_matches_months"),
    # The history of a running match's past meetings (who cancelled or moved one, which
    # reminders were sent) goes after the same time as poll answers and attendance.
    RetentionRule("match_occurrences", "starts_at", "retention_answers_months"),
    # Answers to the meeting date poll, and who came to a meeting (by the meeting's date).
    RetentionRule("meeting_answers", "answered_at", "retention_answers_months"),
    RetentionRule("attendance", "opened_at", "retention_answers_months", via="meeting_id"),
    # Minutes, with the record of who was sent a copy (their outbox items, deleted with
    # them here: once a day, not a search of every copy on every pass).
    RetentionRule("minutes", "created_at", "minutes_retention_months", outbox_kind=MINUTES_COPY),
    # The coordinator's broadcasts, with the record of who received them.
    RetentionRule("broadcasts", "created_at", "retention_answers_months"),
    # Promised messages once kept or let go (ids and state only): as long as answers. Only
    # done items have done_at; saying so reads them along the (group, state, due) index
    # instead of every pending reminder too.
    RetentionRule("outbox", "done_at", "retention_answers_months", lambda t: t.c.state == DONE),
    # The coordinator's times away (who stood in; the pauses that waited go with them), by
    # their planned end: as long as answers.
    RetentionRule("coordinator_away", "ends_at", "retention_answers_months"),
]

# Tables that point at a person and are kept exactly as long as the person is in the group
# (deleted with them): their own settings.
KEPT_WHILE_IN_GROUP = {
    "reminder_preferences",  # a volunteer's own reminder lead times
    # A confirmation button's pending action (bot.domain.confirmations): pruned itself a week
    # after it expired, and gone with the person it concerns.
    "pending_actions",
}


def active_rules() -> list[tuple[RetentionRule, Table]]:
    """Rules whose table exists in this version of the schema."""
    tables = Base.metadata.tables
    return [(rule, tables[rule.table_name]) for rule in RULES if rule.table_name in tables]


def covered_tables() -> set[str]:
    """Tables with a rule, plus those whose rows go with a ruled parent (a required foreign
    key with ON DELETE CASCADE), e.g. minutes_deliveries with minutes."""
    covered = {rule.table_name for rule in RULES}
    changed = True
    while changed:
        changed = False
        for table in Base.metadata.sorted_tables:
            if table.name in covered:
                continue
            for column in table.columns:
                for key in column.foreign_keys:
                    parent = key.column.table.name
                    cascades = (key.ondelete or "").upper() == "CASCADE"
                    # Going with the person (or the group) is not a retention period.
                    owned = parent in covered and parent not in ("groups", "people")
                    if cascades and owned and not column.nullable:
                        covered.add(table.name)
                        changed = True
    return covered


async def apply_rules(
    session: AsyncSession, group_id: int, settings: Any, now: datetime
) -> dict[str, int]:
    """Delete everything past its retention period in one group. Returns rows per table."""
    await overwrite_deleted_content(session)
    deleted: dict[str, int] = {}
    async with roomy_cache(session, BULK_ROWS):  # a day's deletions, or months' after a stop
        await _apply(session, group_id, settings, now, deleted)
    return deleted


async def _apply(
    session: AsyncSession, group_id: int, settings: Any, now: datetime, deleted: dict[str, int]
) -> None:
    for rule, table in active_rules():
        if rule.via is None:
            stamp = table.c[rule.timestamp_column]
            condition = stamp.is_not(None) & (stamp < rule.cutoff(settings, now))
        else:
            parent = next(iter(table.c[rule.via].foreign_keys)).column.table
            stamp = parent.c[rule.timestamp_column]
            old_parents = select(parent.c.id).where(
                stamp.is_not(None), stamp < rule.cutoff(settings, now)
            )
            condition = table.c[rule.via].in_(old_parents)
        if "group_id" in table.c:
            condition &= table.c.group_id == group_id
        if rule.extra_condition is not None:
            condition &= rule.extra_condition(table)
        if rule.outbox_kind is not None:
            gone = await session.execute(
                delete(OutboxItem).where(
                    OutboxItem.kind == rule.outbox_kind,
                    OutboxItem.subject_id.in_(select(table.c.id).where(condition)),
                )
            )
            deleted["outbox"] = deleted.get("outbox", 0) + max(gone.rowcount or 0, 0)
        result = await session.execute(delete(table).where(condition))
        count = max(result.rowcount or 0, 0)
        deleted[rule.table_name] = deleted.get(rule.table_name, 0) + count


@dataclass
class RetentionReport:
    """What a daily run deleted (rows per table), and the labels of running matches that
    lost their last volunteer because someone who left the group was deleted."""

    deleted: dict[str, int]
    uncovered_labels: list[str]


async def _labels_losing_people_who_left(
    session: AsyncSession, group_id: int, settings: Any, now: datetime
) -> list[str]:
    people_rule = next(rule for rule in RULES if rule.table_name == "people")
    leaving = await session.scalars(
        select(Person.id).where(
            Person.group_id == group_id,
            Person.is_member.is_(False),
            Person.left_at.is_not(None),
            Person.left_at < people_rule.cutoff(settings, now),
        )
    )
    labels: list[str] = []
    for person_id in leaving:
        labels += await uncovered_without(session, group_id, person_id, now)
    return sorted(set(labels))


async def run_if_due(
    session: AsyncSession, group_id: int, settings: Any, now: datetime
) -> RetentionReport | None:
    """Apply the rules at most once a day (the last run is a row, so restarts don't matter).
    Returns what was done, or None when it already ran within the day."""
    last = await session.scalar(select(RetentionRun).where(RetentionRun.group_id == group_id))
    if last is not None and now - last.last_run_at < RUN_EVERY:
        return None
    uncovered = await _labels_losing_people_who_left(session, group_id, settings, now)
    deleted = await apply_rules(session, group_id, settings, now)
    if last is None:
        last = RetentionRun(group_id=group_id, last_run_at=now, deleted_rows=0)
        session.add(last)
    last.last_run_at, last.deleted_rows = now, sum(deleted.values())
    await session.flush()
    return RetentionReport(deleted, uncovered)
