"""The minutes and attendance rules on a real SQLite file with a fixed `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.domain import attendance, outbox, people, retention
from bot.domain import meeting as meetings
from bot.domain import minutes as domain
from bot.domain import pause as pauses
from storage.db import Database
from storage.models import Person
from storage.models.meeting import Meeting
from storage.models.minutes import AttendanceCheck, Minutes
from storage.models.outbox import OutboxItem

CPH = ZoneInfo("Europe/Copenhagen")
STARTS = datetime(2026, 12, 9, 17, 0, tzinfo=CPH).astimezone(UTC)
OTHER_DAY = datetime(2026, 12, 10, 16, 30, tzinfo=CPH).astimezone(UTC)
BEFORE = datetime(2026, 12, 1, 9, 0, tzinfo=CPH).astimezone(UTC)
AFTER = STARTS + timedelta(hours=3)
# Only the copies of the minutes (the meeting's poll post is an outbox item too).
COPIES = frozenset({domain.KIND})
RHYTHM = pauses.Rhythm(checkin_every=timedelta(weeks=3), open_ended_ask_after=timedelta(weeks=6))


async def world(db: Database) -> tuple[int, int, dict[str, int]]:
    """A group with a coordinator and four volunteers; a meeting on 9 December decided
    from a poll where Anna and Bo said yes to it, Camilla only to the 10th, Dennis nothing."""
    async with db.transaction() as session:
        group = await people.ensure_group(session, -1, BEFORE)
        ids = {}
        for user_id, name in ((1001, "Mette"), (2001, "Anna"), (2002, "Bo"), (2003, "Camilla")):
            who = people.TelegramPerson(user_id, name, None, "da", is_coordinator=user_id == 1001)
            person = await people.record_member(session, group.id, who, BEFORE, started_bot=True)
            ids[name] = person.id
        dennis = people.TelegramPerson(2004, "Dennis", None, "da")
        ids["Dennis"] = (await people.record_member(session, group.id, dennis, BEFORE)).id
        meeting = await meetings.open_meeting(
            session, group.id, [STARTS, OTHER_DAY], STARTS - timedelta(days=1), "", BEFORE
        )
        for name, positions in (("Anna", [0]), ("Bo", [0, 1]), ("Camilla", [1])):
            await meetings.record_answer(session, meeting, ids[name], positions, BEFORE)
        await meetings.decide(session, meeting, STARTS, BEFORE)
        return group.id, meeting.id, ids


async def names_of(db: Database, meeting_id: int, now: datetime) -> tuple[list[str], list[str]]:
    async with db.transaction() as session:
        meeting = await session.get_one(Meeting, meeting_id)
        found = await domain.recipients(session, meeting, now)
    return [p.first_name for p in found.active], [p.first_name for p in found.paused]


async def test_without_attendance_those_who_did_not_say_yes_couldnt_come(database: Database):
    _group, meeting_id, _ids = await world(database)
    assert await names_of(database, meeting_id, AFTER) == (["Camilla", "Dennis"], [])


async def test_ticks_from_the_poll_one_tap_corrects_and_paused_volunteers_wait(
    database: Database,
):
    group_id, meeting_id, ids = await world(database)
    async with database.transaction() as session:
        meeting = await session.get_one(Meeting, meeting_id)
        ticks = await attendance.ticks(session, meeting)
        assert [(t.first_name, t.present) for t in ticks] == [
            ("Anna", True),
            ("Bo", True),
            ("Camilla", False),
            ("Dennis", False),
        ]  # the coordinator is not on the list
        assert await attendance.recorded_attendance(session, meeting_id) is None
        assert await attendance.toggle(session, meeting, ids["Bo"], AFTER)
        assert await attendance.toggle(session, meeting, ids["Camilla"], AFTER)
        assert not await attendance.toggle(session, meeting, ids["Mette"], AFTER)
        await pauses.start_pause(
            session,
            group_id,
            ids["Bo"],
            AFTER,
            until_day=None,
            wants_cover=False,
            rhythm=RHYTHM,
            tz=CPH,
        )
    assert await names_of(database, meeting_id, AFTER) == (["Dennis"], ["Bo"])
    async with database.transaction() as session:
        meeting = await session.get_one(Meeting, meeting_id)
        ticks = await attendance.ticks(session, meeting)
    assert [(t.first_name, t.present) for t in ticks] == [
        ("Anna", True),
        ("Bo", False),
        ("Camilla", True),
        ("Dennis", False),
    ]


async def test_a_week_after_a_meeting_without_minutes_the_coordinator_is_asked_once(
    database: Database,
):
    group_id, meeting_id, ids = await world(database)
    week = STARTS + attendance.QUESTION_AFTER
    async with database.transaction() as session:
        meeting = await session.get_one(Meeting, meeting_id)
        # A tap on a name (attendance saved) does not count as asked.
        await attendance.toggle(session, meeting, ids["Dennis"], AFTER)
        early = week - timedelta(minutes=1)
        assert await attendance.meeting_for_question(session, group_id, early) is None
        found = await attendance.meeting_for_question(session, group_id, week + timedelta(hours=1))
        assert found is not None and found.id == meeting_id
        assert await attendance.claim_question(session, found, week + timedelta(hours=1))
    async with database.transaction() as session:
        assert (
            await attendance.meeting_for_question(session, group_id, week + timedelta(days=1))
            is None
        )
        meeting = await session.get_one(Meeting, meeting_id)
        assert not await attendance.claim_question(session, meeting, week + timedelta(days=1))
        # The attendance stands as ticked.
        assert await attendance.recorded_attendance(session, meeting_id) == {
            ids["Anna"]: True,
            ids["Bo"]: True,
            ids["Camilla"]: False,
            ids["Dennis"]: True,
        }


async def test_no_question_once_minutes_came_and_none_found_days_late(database: Database):
    group_id, meeting_id, _ids = await world(database)
    late = STARTS + attendance.QUESTION_AFTER + timedelta(days=4)
    async with database.transaction() as session:
        meeting = await session.get_one(Meeting, meeting_id)
        assert not await attendance.claim_question(session, meeting, late)  # skipped
        assert await attendance.meeting_for_question(session, group_id, late) is None
    group_id, meeting_id = await second_group_with_minutes(database)
    async with database.transaction() as session:
        week = STARTS + attendance.QUESTION_AFTER + timedelta(hours=1)
        early = week - timedelta(minutes=1)
        assert await attendance.meeting_for_question(session, group_id, early) is None
        assert await attendance.awaiting_minutes(session, group_id, week) == []


async def second_group_with_minutes(database: Database) -> tuple[int, int]:
    async with database.transaction() as session:
        group = await people.ensure_group(session, -2, BEFORE)
        who = people.TelegramPerson(3001, "Mia", None, "da", is_coordinator=True)
        mia = await people.record_member(session, group.id, who, BEFORE, started_bot=True)
        meeting = await meetings.open_meeting(
            session, group.id, [STARTS], STARTS - timedelta(days=1), "", BEFORE
        )
        await meetings.decide(session, meeting, STARTS, BEFORE)
        draft = await domain.start_draft(session, meeting, mia.id, AFTER, text="Referat")
        assert await domain.confirm(session, draft.id, AFTER)
        return group.id, meeting.id


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("Tak!", "other"),
        ("Hvornår er næste frivilligmøde?", "other"),
        (
            "Kan du sende en besked til Anna om, at vi flytter mødet med K.L. til torsdag i "
            "næste uge, fordi hun er syg?",
            "unsure",
        ),
        ("Referat fra frivilligmødet: vi talte om julefrokosten og supervision.", "minutes"),
        ("Hvordan sender jeg referatet fra frivilligmødet til dem, der ikke kom?", "other"),
        (
            "Til stede: Anna, Bo\nAfbud: Camilla\n1. Velkommen\n2. Runde\n3. Supervision\n4. Evt.",
            "minutes",
        ),
        ("x " * 250, "minutes"),
    ],
)
def test_what_looks_like_minutes(text: str, verdict: str):
    assert domain.looks_like_minutes(text) == verdict


def test_documents_that_look_like_minutes():
    assert domain.document_looks_like_minutes("application/pdf", "x.pdf") == "minutes"
    assert domain.document_looks_like_minutes("image/jpeg", "referat.jpg") == "minutes"
    assert domain.document_looks_like_minutes("application/zip", "billeder.zip") == "unsure"


async def coordinator_id(session) -> int:
    """Mette's people row: the minutes' author."""
    return (await session.scalars(select(Person.id).where(Person.telegram_user_id == 1001))).one()


async def confirmed_minutes(db: Database, meeting_id: int) -> int:
    async with db.transaction() as session:
        meeting = await session.get_one(Meeting, meeting_id)
        author = await coordinator_id(session)
        draft = await domain.start_draft(session, meeting, author, AFTER, text="Referat")
        assert await domain.confirm(session, draft.id, AFTER)
        assert not await domain.confirm(session, draft.id, AFTER)  # a second tap does nothing
        return draft.id


async def copy_states(db: Database) -> list[tuple[int, str]]:
    """(person id, state) of each copy: its outbox state, or Telegram's answer once done."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(OutboxItem.person_id, OutboxItem.state, OutboxItem.outcome)
            .where(OutboxItem.kind == domain.KIND)
            .order_by(OutboxItem.person_id)
        )
        return [(pid, outcome if state == "done" else state) for pid, state, outcome in rows]


async def test_confirming_promises_one_copy_per_person_and_each_is_claimed_once(
    database: Database,
):
    group_id, meeting_id, ids = await world(database)
    minutes_id = await confirmed_minutes(database, meeting_id)
    assert await copy_states(database) == [(ids["Camilla"], "pending"), (ids["Dennis"], "pending")]
    async with database.transaction() as session:
        first = await outbox.claim_next(session, group_id, AFTER, "process-a", COPIES)
        second = await outbox.claim_next(session, group_id, AFTER, "process-a", COPIES)
        assert first and second and first.subject_id == second.subject_id == minutes_id
        assert await outbox.claim_next(session, group_id, AFTER, "process-a", COPIES) is None
        await outbox.record(session, first.item_id, "sent", AFTER)
    # process-a stopped while sending `second`: a new process sends it again, never `first`.
    async with database.transaction() as session:
        again = await outbox.claim_next(session, group_id, AFTER, "process-b", COPIES)
        assert again is not None and again.item_id == second.item_id and again.retried


async def test_a_failing_copy_is_tried_again_a_few_times_then_reported(database: Database):
    group_id, meeting_id, ids = await world(database)
    minutes_id = await confirmed_minutes(database, meeting_id)
    now = AFTER
    for attempt in range(1, domain.MAX_ATTEMPTS + 1):
        async with database.transaction() as session:
            claim = await outbox.claim_next(session, group_id, now, "p", frozenset({domain.KIND}))
            assert claim is not None and claim.person_id == ids["Camilla"]
            await outbox.record(session, claim.item_id, "failed", now)
            retried = await domain.try_again_later(session, claim.item_id, now)
            assert retried == (attempt < domain.MAX_ATTEMPTS)
            if attempt == 1:
                dennis = await outbox.claim_next(session, group_id, now, "p", COPIES)
                assert dennis is not None and dennis.person_id == ids["Dennis"]
                await outbox.record(session, dennis.item_id, "sent", now)
            # Not again in the same pass: after a while.
            assert await outbox.claim_next(session, group_id, now, "p", COPIES) is None
        now += domain.RETRY_AFTER
    async with database.transaction() as session:
        seen = await domain.report(session, minutes_id)
    assert seen.failed == ["Camilla"] and seen.sent == ["Dennis"] and seen.in_progress == 0
    # When Camilla next starts the bot, her copy is tried again.
    async with database.transaction() as session:
        assert await domain.retry_for(session, ids["Camilla"], now) == 1
    assert (ids["Camilla"], "pending") in await copy_states(database)


async def test_waiting_copies_wake_only_for_confirmed_minutes(database: Database):
    group_id, meeting_id, ids = await world(database)
    minutes_id = await confirmed_minutes(database, meeting_id)
    async with database.transaction() as session:
        while claim := await outbox.claim_next(session, group_id, AFTER, "p", COPIES):
            await outbox.record(session, claim.item_id, "not_started", AFTER)
        seen = await domain.report(session, minutes_id)
        assert seen.unreachable == ["Camilla", "Dennis"] and seen.sent == []
        assert await domain.retry_for(session, ids["Anna"], AFTER) == 0
        assert await domain.retry_for(session, ids["Dennis"], AFTER) == 1
        # Camilla starts the bot while on a pause: her copy waits for the pause to end.
        await pauses.start_pause(
            session,
            group_id,
            ids["Camilla"],
            AFTER,
            until_day=None,
            wants_cover=False,
            rhythm=RHYTHM,
            tz=CPH,
        )
        assert await domain.retry_for(session, ids["Camilla"], AFTER) == 1
        seen = await domain.report(session, minutes_id)
        assert seen.paused == ["Camilla"] and seen.unreachable == [] and seen.in_progress == 1
        # Her pause ends: the copy is due.
        assert await domain.wake_after_pause(session, ids["Camilla"], AFTER) == 1
    assert await copy_states(database) == [(ids["Camilla"], "pending"), (ids["Dennis"], "pending")]


async def test_stale_drafts_go_and_retention_deletes_minutes_with_their_copies(
    database: Database,
):
    group_id, meeting_id, _ids = await world(database)
    await confirmed_minutes(database, meeting_id)
    async with database.transaction() as session:
        meeting = await session.get_one(Meeting, meeting_id)
        author = await coordinator_id(session)
        await domain.start_draft(session, meeting, author, AFTER, file_id="F", file_name="r.pdf")
        assert await domain.drop_stale_drafts(session, group_id, AFTER + timedelta(hours=1)) == 0
        assert await domain.drop_stale_drafts(session, group_id, AFTER + timedelta(days=3)) == 1
        # Send saved the attendance as ticked: it goes with the meeting's retention.
        assert await session.scalar(select(func.count()).select_from(AttendanceCheck)) == 1
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.minutes_retention_months == 12
    async with database.transaction() as session:
        kept = await retention.apply_rules(session, group_id, settings, AFTER + timedelta(days=300))
        assert kept.get("minutes", 0) == 0
        gone = await retention.apply_rules(session, group_id, settings, AFTER + timedelta(days=370))
        assert gone["minutes"] == 1
        assert await session.scalar(select(func.count()).select_from(Minutes)) == 0
        # The copies' outbox rows go in the same step.
        assert gone["outbox"] == 2
        copies = select(func.count()).where(OutboxItem.kind == domain.KIND)
        assert await session.scalar(copies) == 0


def test_long_minutes_are_split_where_telegram_allows_at_line_ends():
    from handlers.delivery import MAX_MESSAGE, split_text

    text = "\n".join(f"Punkt {n}: " + "x" * 90 for n in range(100))
    parts = split_text(text)
    assert len(parts) == 3 and all(len(p) <= MAX_MESSAGE for p in parts)
    assert "\n".join(parts) == text  # nothing lost, each cut at a line end
    assert split_text("kort") == ["kort"]
    # One endless line is cut at a space; nothing is lost but the space.
    words = " ".join(["ord"] * 3000)
    assert " ".join(split_text(words)) == words


async def test_a_copy_for_someone_who_left_the_group_is_no_longer_wanted(database: Database):
    group_id, meeting_id, ids = await world(database)
    minutes_id = await confirmed_minutes(database, meeting_id)
    async with database.transaction() as session:
        assert await domain.copy_details(session, minutes_id, ids["Dennis"]) is not None
        await people.record_left(session, group_id, 2004, AFTER)
        assert await domain.copy_details(session, minutes_id, ids["Dennis"]) is None


async def test_a_held_copy_whose_pause_ended_without_the_event_is_due_at_the_next_pass(
    database: Database,
):
    """The safety net of the scheduler pass: held copies of someone no longer on a pause."""
    group_id, meeting_id, ids = await world(database)
    async with database.transaction() as session:
        await pauses.start_pause(
            session,
            group_id,
            ids["Camilla"],
            BEFORE,
            until_day=None,
            wants_cover=False,
            rhythm=RHYTHM,
            tz=CPH,
        )
    minutes_id = await confirmed_minutes(database, meeting_id)
    assert await copy_states(database) == [(ids["Camilla"], "held"), (ids["Dennis"], "pending")]
    later = AFTER + timedelta(days=9)
    async with database.transaction() as session:
        assert await domain.wake_ended_pauses(session, group_id, later) == 0  # still away
        assert await domain.waits_for_pause(session, minutes_id, ids["Camilla"], later)
        await pauses.end_pause(session, ids["Camilla"], later)
        assert await domain.wake_ended_pauses(session, group_id, later) == 1
        assert not await domain.waits_for_pause(session, minutes_id, ids["Camilla"], later)
    assert await copy_states(database) == [(ids["Camilla"], "pending"), (ids["Dennis"], "pending")]
