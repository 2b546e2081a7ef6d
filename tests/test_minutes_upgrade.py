"""A database from the version before the outbox, with copies of the minutes still to send,
upgrades to the outbox and each copy arrives exactly once (none lost, none repeated)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.clock import FakeClock
from bot.domain import attendance, people
from bot.domain import meeting as meetings
from bot.domain import pause as pauses
from bot.fake_telegram import FakeTelegram
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Sandbox, populate, sandbox_settings
from storage.base import UTCDateTime
from storage.db import Database
from tests.upgrades import to_old_heads

MEETING = datetime(2026, 12, 9, 17, 0, tzinfo=COPENHAGEN)
BEFORE = datetime(2026, 12, 1, 9, 0, tzinfo=COPENHAGEN)
CONFIRMED = datetime(2026, 12, 10, 9, 0, tzinfo=COPENHAGEN)
UPGRADED = datetime(2026, 12, 10, 11, 0, tzinfo=COPENHAGEN)
# The last revision before the minutes moved to the outbox.
OLD_MINUTES = "0007"

MINUTES = sa.table(
    "minutes",
    sa.column("id", sa.Integer),
    sa.column("group_id", sa.Integer),
    sa.column("meeting_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("text", sa.Text),
    sa.column("author_user_id", sa.BigInteger),
    sa.column("created_at", UTCDateTime()),
    sa.column("confirmed_at", UTCDateTime()),
)
# As the version before wrote them (storage/models/minutes.py: MinutesDelivery).
DELIVERIES = sa.table(
    "minutes_deliveries",
    sa.column("group_id", sa.Integer),
    sa.column("minutes_id", sa.Integer),
    sa.column("person_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("attempts", sa.Integer),
    sa.column("claim_token", sa.String),
    sa.column("claimed_at", UTCDateTime()),
    sa.column("sent_at", UTCDateTime()),
)


async def old_database(url: str) -> dict[str, int]:
    """Two sets of minutes, with copies in every state the old code left them in."""
    db = Database(url)
    async with db.engine.begin() as connection:
        await connection.run_sync(to_old_heads, url, OLD_MINUTES)
    async with db.transaction() as session:
        assert "minutes_deliveries" in await session.run_sync(
            lambda s: sa.inspect(s.connection()).get_table_names()
        )
        group = await people.ensure_group(session, GROUP_CHAT_ID, BEFORE)
        mette = people.TelegramPerson(1001, "Mette", None, "da", is_coordinator=True)
        ids = {"Mette": (await people.record_member(session, group.id, mette, BEFORE)).id}
        for user_id, name in ((2001, "Anna"), (2002, "Bo"), (2003, "Camilla"), (2004, "Dennis")):
            who = people.TelegramPerson(user_id, name, None, "da")
            person = await people.record_member(session, group.id, who, BEFORE, started_bot=True)
            ids[name] = person.id
        meeting = await meetings.open_meeting(
            session, group.id, [MEETING], MEETING - timedelta(days=2), "", BEFORE
        )
        await meetings.decide(session, meeting, MEETING, BEFORE)
        await pauses.start_pause(
            session,
            group.id,
            ids["Bo"],
            BEFORE,
            until_day=None,
            wants_cover=False,
            rhythm=pauses.Rhythm(timedelta(weeks=3), timedelta(weeks=6)),
            tz=COPENHAGEN,
        )
        for minutes_id, text in ((1, "Referat A"), (2, "Referat B")):
            await session.execute(
                MINUTES.insert().values(
                    id=minutes_id,
                    group_id=group.id,
                    meeting_id=meeting.id,
                    status="confirmed",
                    text=text,
                    author_user_id=1001,
                    created_at=CONFIRMED,
                    confirmed_at=CONFIRMED,
                )
            )
        rows = [
            (1, "Anna", "sent", None),  # sent before the upgrade: never again
            (1, "Bo", "waiting_paused", None),  # on a pause: when it ends
            (1, "Camilla", "pending", None),  # not yet sent: at once
            (1, "Dennis", "sending", "dead-process"),  # cut off mid-send: sent again
            (2, "Camilla", "failed", None),  # on her next /start
            (2, "Dennis", "waiting_unreachable", None),  # on his next /start
        ]
        for minutes_id, name, status, token in rows:
            await session.execute(
                DELIVERIES.insert().values(
                    group_id=group.id,
                    minutes_id=minutes_id,
                    person_id=ids[name],
                    status=status,
                    attempts=3 if status == "failed" else 0,
                    claim_token=token,
                    claimed_at=CONFIRMED if token else None,
                    sent_at=CONFIRMED if status == "sent" else None,
                )
            )
    await db.dispose()
    return ids


def copies(box: Sandbox, chat_id: int) -> list[str]:
    """Which minutes a person received: "A" or "B", once per copy."""
    return sorted(
        text.rsplit(" ", 1)[-1]
        for text in box.texts_to(chat_id)
        if ("hvad vi talte om" in text or "what we talked about" in text) and "Referat " in text
    )


async def test_an_upgrade_sends_each_waiting_copy_of_the_old_table_exactly_once(
    database_url: str, tmp_path
):
    ids = await old_database(database_url)
    clock = FakeClock(UPGRADED)
    async with FakeTelegram() as fake:
        cast = populate(fake)
        anna, bo, camilla, dennis = cast.volunteers
        for volunteer in cast.volunteers:
            volunteer.started = True
        settings = sandbox_settings(tmp_path / "unused.sqlite3", fake, database_url=database_url)
        box = Sandbox(fake, settings, clock)
        await box.start_bot()  # upgrades to heads; its first pass sends what was due
        try:
            async with box.services.db.transaction() as session:
                authors = await session.scalars(sa.text("SELECT author_id FROM minutes"))
                assert list(authors) == [ids["Mette"], ids["Mette"]]  # her row, not her id
            assert copies(box, camilla.id) == ["A"] and copies(box, dennis.id) == ["A"]
            assert copies(box, anna.id) == copies(box, bo.id) == []

            await box.run_due()
            await box.restart_bot()
            await box.advance(timedelta(hours=1))
            assert copies(box, camilla.id) == copies(box, dennis.id) == ["A"]

            # The copies that waited for /start, and the one that waited for the pause.
            for person in (camilla, dennis):
                await box.say(person, "/start")
            await box.say(bo, "/resume")
            assert copies(box, camilla.id) == copies(box, dennis.id) == ["A", "B"]
            assert copies(box, bo.id) == ["A"]

            for person in (camilla, dennis):
                await box.say(person, "/start")
            await box.restart_bot()
            await box.advance(timedelta(days=1))
            assert copies(box, camilla.id) == copies(box, dennis.id) == ["A", "B"]
            assert copies(box, bo.id) == ["A"] and copies(box, anna.id) == []
            assert fake.spec_violations == []
        finally:
            await box.stop_bot()


# The attendance checklist goes (0007d) -----------------------------------------------------------

CHECKS = sa.table(
    "attendance_checks",
    sa.column("group_id", sa.Integer),
    sa.column("meeting_id", sa.Integer),
    sa.column("claimed_at", UTCDateTime()),
    sa.column("outcome", sa.String),
    sa.column("saved_at", UTCDateTime()),
)
# Long enough before December that its minutes are not asked for with December's.
OCTOBER = datetime(2026, 10, 28, 17, 0, tzinfo=COPENHAGEN)


async def database_with_a_pending_checklist(url: str) -> dict[str, int]:
    """The 9 December meeting's checklist was sent and never saved; October's was saved."""
    db = Database(url)
    async with db.engine.begin() as connection:
        await connection.run_sync(to_old_heads, url, "0007c")
    async with db.transaction() as session:
        group = await people.ensure_group(session, GROUP_CHAT_ID, BEFORE)
        mette = people.TelegramPerson(1001, "Mette", None, "da", is_coordinator=True)
        ids = {"Mette": (await people.record_member(session, group.id, mette, BEFORE)).id}
        for user_id, name in ((2001, "Anna"), (2002, "Bo"), (2003, "Camilla"), (2004, "Dennis")):
            who = people.TelegramPerson(user_id, name, None, "da")
            person = await people.record_member(session, group.id, who, BEFORE, started_bot=True)
            ids[name] = person.id
        for day, yes in ((OCTOBER, ()), (MEETING, ("Anna", "Bo"))):
            meeting = await meetings.open_meeting(
                session, group.id, [day], day - timedelta(days=2), "", day - timedelta(days=9)
            )
            for name in yes:
                await meetings.record_answer(session, meeting, ids[name], [0], BEFORE)
            await meetings.decide(session, meeting, day, day - timedelta(days=9))
            ids[f"meeting {day.month}"] = meeting.id
            await session.execute(
                CHECKS.insert().values(
                    group_id=group.id,
                    meeting_id=meeting.id,
                    claimed_at=day + timedelta(hours=2),
                    outcome="sent",
                    saved_at=day + timedelta(hours=3) if day == OCTOBER else None,
                )
            )
        await session.execute(
            sa.text(
                "INSERT INTO attendance (group_id, meeting_id, person_id, present) "
                "VALUES (:g, :m, :p, :present)"
            ),
            [
                {"g": group.id, "m": ids["meeting 10"], "p": ids[n], "present": n == "Dennis"}
                for n in ("Anna", "Bo", "Camilla", "Dennis")
            ],
        )
    await db.dispose()
    return ids


async def test_a_pending_checklist_upgrades_to_the_preview_and_the_weeks_question(
    database_url: str, tmp_path
):
    ids = await database_with_a_pending_checklist(database_url)
    clock = FakeClock(datetime(2026, 12, 10, 9, 0, tzinfo=COPENHAGEN))
    async with FakeTelegram() as fake:
        cast = populate(fake)
        mette = cast.coordinator
        for person in (mette, *cast.volunteers):
            person.started = True
        settings = sandbox_settings(tmp_path / "unused.sqlite3", fake, database_url=database_url)
        box = Sandbox(fake, settings, clock)
        await box.start_bot()
        try:
            await box.run_due()
            assert box.texts_to(mette.id) == []  # no checklist, no question yet
            async with box.services.db.transaction() as session:
                # The saved checklist's attendance stands; the unsaved one said nothing.
                assert await attendance.recorded_attendance(session, ids["meeting 10"]) == {
                    ids["Anna"]: False,
                    ids["Bo"]: False,
                    ids["Camilla"]: False,
                    ids["Dennis"]: True,
                }
                assert await attendance.recorded_attendance(session, ids["meeting 12"]) is None

            # An old checklist button is no longer valid; nothing changes.
            await box.say(mette, "/help")
            old = fake.last_message_to(mette.id)  # a message of the chat to tap on
            await box.forge_tap(mette, old, f"minutes:t:{ids['meeting 12']}:{ids['Bo']}:1")
            await box.forge_tap(mette, old, f"minutes:done:{ids['meeting 12']}")
            assert [c.params.get("text") for c in fake.calls_to("answerCallbackQuery")][-2:] == [
                "Den knap virker ikke længere. Start gerne forfra med kommandoen."
            ] * 2

            # The minutes, pasted: the preview is ticked from the poll.
            await box.say(mette, "Referat: vi talte om julefrokosten og om supervision.")
            preview = fake.last_message_to(mette.id)
            assert [b["text"] for b in preview.buttons][:4] == [
                "✅ Anna",
                "✅ Bo",
                "⬜ Camilla",
                "⬜ Dennis",
            ]
            cancel = next(b for b in preview.buttons if b["text"] == "Annullér")
            await box.tap(mette, preview, cancel["callback_data"])
            # (Cancelled: the week's question still comes, once.)
            await box.advance_to(datetime(2026, 12, 17, 12, 0, tzinfo=COPENHAGEN))
            await box.restart_bot()
            await box.advance(timedelta(days=1))
            asked = [t for t in box.texts_to(mette.id) if "Jeg har ikke fået referatet" in t]
            assert len(asked) == 1 and "9. december" in asked[0]
            assert fake.spec_violations == []
        finally:
            await box.stop_bot()
