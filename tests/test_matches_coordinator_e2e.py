"""The coordinator's side end to end: the weekly digest, covers ended by a real `/resume`,
an activity made step by step, and logs that never carry a citizen label."""

from __future__ import annotations

import logging
from datetime import time, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.domain import matches
from bot.domain.schedule import WEEKLY
from bot.logging_setup import configure_logging
from bot.sandbox import Cast, Sandbox, sandbox
from storage.models import Pause, Person
from tests.e2e import at, everyone_starts


async def pause(box: Sandbox, telegram_id: int) -> Pause:
    async with box.services.db.transaction() as session:
        person = await session.scalar(select(Person).where(Person.telegram_user_id == telegram_id))
        row = Pause(
            group_id=box.services.group_id,
            person_id=person.id,
            started_at=box.clock.now(),
            wants_cover=True,
        )
        session.add(row)
    return row


async def test_weekly_digest_lists_long_waits_and_cancelled_streaks(tmp_path: Path):
    start = at(30, 9, month=11)  # a Monday: the digest goes out on Mondays at 09:00
    async with sandbox(tmp_path / "db.sqlite3", start, unmatched_weeks=1, cancelled_in_a_row=2) as (
        box,
        cast,
    ):
        mette, anna = cast.coordinator, cast.volunteers[0]
        await everyone_starts(box, cast)
        await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
        for _ in range(2):
            await box.say(anna, "/meetings")
            listing = box.fake.messages_to(anna.id)[-1]
            cancel = next(b for b in listing.buttons if b["text"].startswith("Aflys"))
            await box.tap(anna, listing, cancel["callback_data"])
            await box.tap(
                anna, box.fake.messages_to(anna.id)[-1], cancel["callback_data"].replace("cx", "cy")
            )
        before = len(box.fake.messages_to(mette.id))
        await box.advance_to(at(7, 8, 59))
        assert len(box.fake.messages_to(mette.id)) == before
        await box.advance_to(at(7, 9, 0))
        digest = box.last_text_to(mette.id)
        assert "ugentlige overblik" in digest
        assert "Bo, uden match siden mandag 30. november" in digest
        assert "Dennis" in digest and "Anna," not in digest
        assert "K.L.: 2 gange" in digest
        # Once a week, not on every pass; and not again after a restart.
        await box.advance(timedelta(minutes=30))
        await box.restart_bot()
        await box.run_due()
        assert sum("ugentlige overblik" in t for t in box.texts_to(mette.id)) == 1
        await box.advance_to(at(14, 9, 0))
        assert sum("ugentlige overblik" in t for t in box.texts_to(mette.id)) == 2


async def test_a_real_resume_ends_the_cover(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, anna, dennis = cast.coordinator, cast.volunteers[0], cast.volunteers[3]
    await everyone_starts(box, cast)
    await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
    await pause(box, anna.id)
    await box.say(mette, "/cover")
    picker = box.fake.messages_to(mette.id)[-1]
    await box.tap(mette, picker, picker.buttons[0]["callback_data"])
    people_picker = box.fake.messages_to(mette.id)[-1]
    dennis_button = next(b for b in people_picker.buttons if b["text"] == "Dennis")
    await box.tap(mette, people_picker, dennis_button["callback_data"])
    assert "Tak, fordi du tager møderne med K.L." in box.last_text_to(dennis.id)
    await box.say(anna, "/resume")
    assert "midlertidig frivillig" in box.last_text_to(dennis.id)
    assert any("Dennis tager ikke længere møderne med" in t for t in box.texts_to(mette.id))
    await box.advance_to(at(30, 18, 0, month=11))
    assert "Påmindelse" in box.last_text_to(anna.id)
    assert "Påmindelse" not in box.last_text_to(dennis.id)


async def test_an_activity_made_step_by_step_with_a_season(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    await everyone_starts(box, cast)
    await box.say(mette, "/activity")
    picker = box.fake.messages_to(mette.id)[-1]
    for name in ("Anna", "Bo"):
        choice = next(b for b in picker.buttons if b["text"] == name)
        await box.tap(mette, picker, choice["callback_data"])
    await box.tap(mette, picker, "matches:gnext")
    await box.say(mette, "Café Backstage")
    await box.tap(mette, box.fake.messages_to(mette.id)[-1], "matches:gr:weekly")
    await box.say(mette, "tir 19:00")
    await box.say(mette, "Ungdomshuset")
    await box.tap(mette, box.fake.messages_to(mette.id)[-1], "matches:gs")
    await box.say(mette, "15.12")
    assert "Café Backstage" in box.last_text_to(mette.id)
    assert "til og med 15. december 2026" in box.last_text_to(anna.id)
    await box.advance_to(at(15, 17, 0))
    assert "Påmindelse: Café Backstage er tirsdag 15. december kl. 19.00" in box.last_text_to(bo.id)
    await box.say(mette, "/matches")
    assert "Café Backstage (aktivitet)" in box.last_text_to(mette.id)
    await box.advance_to(at(21, 18, 0))
    assert "22. december" not in box.last_text_to(bo.id)  # the season has ended


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_citizen_labels_never_reach_the_log(tmp_path: Path):
    configure_logging(logging.DEBUG)
    collect = Collect()
    logging.getLogger().addHandler(collect)
    label = "Kanarieborger"
    try:
        async with sandbox(tmp_path / "db.sqlite3", at(30, 9, month=11)) as (box, cast):
            mette, anna = cast.coordinator, cast.volunteers[0]
            await everyone_starts(box, cast)
            await box.say(mette, f'/match @anna "{label}" weekly tue 10:00')
            await box.advance_to(at(30, 18, 0, month=11))
            reminder = box.fake.messages_to(anna.id)[-1]
            await box.tap(anna, reminder, reminder.buttons[1]["callback_data"])
            await box.tap(
                anna,
                box.fake.messages_to(anna.id)[-1],
                reminder.buttons[1]["callback_data"].replace("cx", "cn"),
            )
            await box.say(mette, "/matches")
            assert label in box.last_text_to(mette.id)
    finally:
        logging.getLogger().removeHandler(collect)
    log = "\n".join(collect.lines)
    assert "reminder" in log  # the reminder was logged, by ids
    assert label not in log


async def test_cover_asks_which_one_when_two_matches_share_a_label(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, anna, dennis = cast.coordinator, cast.volunteers[0], cast.volunteers[3]
    await everyone_starts(box, cast)
    await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
    await box.say(mette, '/match @bo_frivillig "K.L." weekly fri 12:00')
    await pause(box, anna.id)
    await box.say(mette, "/cover K.L. @dennis")
    choice = box.fake.messages_to(mette.id)[-1]
    assert [b["text"] for b in choice.buttons] == [
        "K.L.: hver tirsdag kl. 10.00",
        "K.L.: hver fredag kl. 12.00",
    ]
    await box.tap(mette, choice, choice.buttons[1]["callback_data"])
    assert "Ingen af de frivillige i det match holder pause" in box.last_text_to(mette.id)
    await box.tap(mette, choice, choice.buttons[0]["callback_data"])
    assert "hver tirsdag kl. 10.00" in box.last_text_to(dennis.id)


async def person_id(box: Sandbox, telegram_id: int) -> int:
    async with box.services.db.transaction() as session:
        return await session.scalar(select(Person.id).where(Person.telegram_user_id == telegram_id))


async def make_matches(
    box: Sandbox,
    labels: list[str],
    volunteer_ids: list[int],
    first: int = 0,
    place: str | None = None,
) -> None:
    """Matches made straight through the domain (fast), weekly at different times; every
    tenth (counting from `first`) is an activity."""
    async with box.services.db.transaction() as session:
        for n, label in enumerate(labels, first):
            await matches.create_match(
                session,
                box.services.group_id,
                kind="match" if n % 10 else "activity",
                label=label,
                volunteer_ids=volunteer_ids,
                plan=matches.Plan(WEEKLY, weekday=n % 7, at=time(9 + n % 10, 0)),
                place=place,
                now=box.clock.now(),
                tz=box.services.tz,
            )


async def test_a_long_overview_is_a_summary_and_one_document(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    await everyone_starts(box, cast)
    labels = [f"B{n:02d}" for n in range(100)]  # about four messages
    await make_matches(box, labels, [await person_id(box, bo.id)])
    await make_matches(box, ["K.L."], [await person_id(box, anna.id)], first=1)
    await pause(box, anna.id)
    before = len(box.fake.messages_to(mette.id))
    await box.say(mette, "/matches")
    sent = box.fake.messages_to(mette.id)[before:]
    assert len(sent) == 2
    summary, document = sent
    assert summary.document is None
    assert "Match og aktiviteter (101):" in summary.text
    assert "• Match: 91" in summary.text and "• Aktiviteter: 10" in summary.text
    assert "• Har brug for en midlertidig frivillig: 1" in summary.text
    assert "• Frivillige, der holder pause: 1" in summary.text
    assert "• K.L. – Anna" in summary.text  # the one that needs action is named
    assert "B07" not in summary.text  # the rest is only in the document
    assert document.document is not None and document.document["file_name"] == "match-overblik.txt"
    assert "101" in document.text
    content = box.fake.files[document.document["file_id"]].content.decode("utf-8")
    for label in labels:
        assert f"• {label} – Bo" in content or f"• {label} (aktivitet) – Bo" in content
    assert "• K.L. – Anna (holder pause)" in content
    assert content.count("Næste: ") == 101  # every match with its next meetings
    assert "Ingen kan tage møderne lige nu, så der er brug for en midlertidig frivillig" in content


async def test_a_usual_group_still_gets_the_overview_inline(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, bo = cast.coordinator, cast.volunteers[1]
    await everyone_starts(box, cast)
    labels = [f"B{n:02d}" for n in range(15)]
    await make_matches(box, labels, [await person_id(box, bo.id)])
    before = len(box.fake.messages_to(mette.id))
    await box.say(mette, "/matches")
    sent = box.fake.messages_to(mette.id)[before:]
    assert sent and all(m.document is None for m in sent)
    assert len(sent) <= 3
    text = "\n".join(m.text for m in sent)
    assert text.startswith("Match og aktiviteter (15):")
    for label in labels:
        assert f"• {label}" in text
    # Each shows its next three meetings, the soonest first.
    first = next(line for line in text.split("\n") if line.startswith("  Næste: "))
    assert first.count(";") == 2


async def test_fewer_matches_with_long_texts_also_come_as_a_document(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, bo = cast.coordinator, cast.volunteers[1]
    await everyone_starts(box, cast)
    labels = [f"B{n:02d}" for n in range(60)]
    place = "Frivilligcentret, mødelokale 2, Nørregade 12, 2. sal, indgang fra gården"
    await make_matches(box, labels, [await person_id(box, bo.id)], place=place)
    before = len(box.fake.messages_to(mette.id))
    await box.say(mette, "/matches")
    summary, document = box.fake.messages_to(mette.id)[before:]
    assert "Match og aktiviteter (60):" in summary.text and summary.document is None
    assert "• Har brug for en midlertidig frivillig: 0" in summary.text
    content = box.fake.files[document.document["file_id"]].content.decode("utf-8")
    assert content.count("Næste: ") == 60 and content.count(place) == 60


async def test_a_document_that_cannot_be_sent_is_not_left_promised(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, bo = cast.coordinator, cast.volunteers[1]
    await everyone_starts(box, cast)
    await make_matches(box, [f"B{n:02d}" for n in range(80)], [await person_id(box, bo.id)])
    box.fake.fail_next("sendDocument", error_code=400, description="Bad Request: refused")
    before = len(box.fake.messages_to(mette.id))
    await box.say(mette, "/matches")
    sent = box.fake.messages_to(mette.id)[before:]
    assert [m.document for m in sent] == [None, None]
    assert "Match og aktiviteter (80):" in sent[0].text
    assert sent[1].text == "Jeg kunne ikke sende dokumentet lige nu. Prøv /matches igen."
