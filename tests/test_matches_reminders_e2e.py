"""Meeting reminders end to end: exactly once across restarts, the grace, DST, activities
and pauses (with covers)."""

from __future__ import annotations

from sqlalchemy import select

from bot.sandbox import Cast, Sandbox
from storage.models import Pause, Person, ReminderDelivery
from tests.e2e import at, button, everyone_starts, reminders_to


async def test_restart_before_a_reminder_sends_it_once_late_within_the_grace(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    await everyone_starts(box, cast)
    await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
    await box.stop_bot()
    box.clock.set(at(30, 19, 30, month=11))  # down across 18:00; back 90 minutes late
    await box.start_bot()
    await box.run_due()
    assert len(reminders_to(box, anna.id)) == 1
    await box.restart_bot()
    await box.restart_bot()
    await box.run_due()
    assert len(reminders_to(box, anna.id)) == 1  # two restarts never repeat it
    # Down across the 2-hours-before moment and until the meeting began: skipped.
    await box.stop_bot()
    box.clock.set(at(1, 10, 15))
    await box.start_bot()
    await box.run_due()
    assert len(reminders_to(box, anna.id)) == 1
    async with box.services.db.transaction() as session:
        outcomes = sorted(
            (r.lead, r.state, r.outcome)
            for r in await session.scalars(
                select(ReminderDelivery).where(ReminderDelivery.state != "pending")
            )
        )
    assert outcomes == [("day_before", "sent", "sent"), ("hours_before", "skipped", "passed")]


async def test_a_reminder_later_than_the_grace_is_skipped(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    await everyone_starts(box, cast)
    await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
    await box.stop_bot()
    box.clock.set(at(30, 20, 30, month=11))  # 150 minutes late, grace is 120
    await box.start_bot()
    await box.run_due()
    assert reminders_to(box, anna.id) == []
    await box.advance_to(at(1, 8, 0))
    assert len(reminders_to(box, anna.id)) == 1


async def test_weekly_1800_is_reminded_at_1600_local_on_both_sides_of_dst(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    await everyone_starts(box, cast)
    box.clock.set(at(20, 12, month=3, year=2027))
    await box.say(mette, '/match @anna "K.L." weekly thu 18:00')
    # Thursday 25 March (winter time) and 1 April (summer time, after Sunday 28 March).
    for day, month in ((25, 3), (1, 4)):
        await box.advance_to(at(day, 15, 59, month=month, year=2027))
        before = len(reminders_to(box, anna.id))
        await box.advance_to(at(day, 16, 0, month=month, year=2027))
        assert len(reminders_to(box, anna.id)) == before + 1
        assert "kl. 18.00" in reminders_to(box, anna.id)[-1].text
    # And across the last Sunday of October (31 October 2027).
    box.clock.set(at(20, 12, month=10, year=2027))
    await box.run_due()
    for day, month in ((28, 10), (4, 11)):
        await box.advance_to(at(day, 15, 59, month=month, year=2027))
        before = len(reminders_to(box, anna.id))
        await box.advance_to(at(day, 16, 0, month=month, year=2027))
        assert len(reminders_to(box, anna.id)) == before + 1
        assert "kl. 18.00" in reminders_to(box, anna.id)[-1].text


async def test_activity_volunteers_are_reminded(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette = cast.coordinator
    anna, bo, camilla = cast.volunteers[:3]
    await everyone_starts(box, cast)
    await box.say(
        mette,
        '/activity "Recovery-café" biweekly thu 14:00 until 2027-03-31 '
        "@anna @bo_frivillig @camilla",
    )
    assert "Recovery-café" in box.last_text_to(camilla.id)  # in English
    await box.advance_to(at(3, 12, 0))
    for person in (anna, bo, camilla):
        assert "Recovery-café" in box.last_text_to(person.id)
    assert "Reminder: Recovery-café is Thursday 3 December at 14:00" in box.last_text_to(camilla.id)
    # One volunteer can't come: the others are told; the café goes on.
    reminder = box.fake.messages_to(bo.id)[-1]
    await box.tap(bo, reminder, button(reminder, "Aflys denne gang"))
    assert "Bo kan ikke komme til Recovery-café" in box.last_text_to(anna.id)
    await box.advance_to(at(16, 18, 0))
    assert "torsdag 17. december" in box.last_text_to(anna.id)
    # In /meetings an activity's volunteer can say they can't come, not move it for all.
    await box.say(anna, "/meetings")
    labels = [b["text"] for b in box.fake.messages_to(anna.id)[-1].buttons]
    assert labels[0] == "Kan ikke komme 17/12 14.00"
    assert not any(t.startswith(("Flyt", "Skift rytme")) for t in labels)


async def test_paused_volunteer_gets_no_reminder_and_the_match_needs_cover(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna, dennis = cast.coordinator, cast.volunteers[0], cast.volunteers[3]
    await everyone_starts(box, cast)
    await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
    async with box.services.db.transaction() as session:
        anna_row = await session.scalar(select(Person).where(Person.telegram_user_id == anna.id))
        pause = Pause(
            group_id=box.services.group_id,
            person_id=anna_row.id,
            started_at=box.clock.now(),
            wants_cover=True,
        )
        session.add(pause)
    await box.advance_to(at(30, 18, 0, month=11))
    assert reminders_to(box, anna.id) == []
    await box.say(mette, "/matches")
    overview = box.last_text_to(mette.id)
    assert (
        "Anna (holder pause)" in overview and "ingen kan tage møderne lige nu" in overview.lower()
    )

    await box.say(mette, "/cover K.L. @dennis")
    assert "K.L." in box.last_text_to(dennis.id)
    assert "Dennis" in box.last_text_to(mette.id)
    await box.advance_to(at(1, 8, 0))
    assert len(reminders_to(box, dennis.id)) == 1 and reminders_to(box, anna.id) == []
    await box.say(mette, "/matches")
    assert "Brug /cover" not in box.last_text_to(mette.id)

    # The pause ends: Dennis steps back and both he and the coordinator are told.
    async with box.services.db.transaction() as session:
        row = await session.get(Pause, pause.id)
        row.ended_at = box.clock.now()
    context = box.app.context_types.context(application=box.app)
    await box.services.emit("pause_ended", context, person=anna_row, pause=pause)
    await box.fake.wait_until_idle()
    assert "tak" in box.last_text_to(dennis.id).lower()
    assert "Dennis" in box.last_text_to(mette.id)
    await box.advance_to(at(7, 18, 0))
    assert len(reminders_to(box, dennis.id)) == 1
    assert "tirsdag 8. december" in reminders_to(box, anna.id)[-1].text
