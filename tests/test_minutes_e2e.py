"""End to end: the minutes to those who couldn't come, with who came ticked in the preview."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.domain import minutes as minutes_domain
from bot.domain import people
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Cast, Sandbox
from storage.models import Person
from storage.models.minutes import Attendance, Minutes
from storage.models.outbox import OutboxItem

AFTER_THE_MEETING = datetime(2026, 12, 9, 19, 30, tzinfo=COPENHAGEN)
MISSED_YOU = (
    "Her er referatet fra frivilligmødet onsdag 9. december, så du også ved, hvad vi talte om."
)
MISSED_YOU_EN = "Here are the minutes of the volunteer meeting Wednesday 9 December"
MINUTES_TEXT = "Referat: vi talte om julefrokosten og om supervision i januar."


async def hold_meeting(box: Sandbox, cast: Cast, *, paused_before: Any = None) -> None:
    """Through the meeting feature's real flow: Anna and Bo say yes to 9 December, Camilla
    and Dennis can only come on the 10th; the coordinator fixes the 9th (and puts
    `paused_before` on a pause); time passes to the evening after it. Dennis never starts
    the bot (he is known from his vote)."""
    mette = cast.coordinator
    anna, bo, camilla, dennis = cast.volunteers
    for person in (mette, anna, bo, camilla):
        await box.say(person, "/start")
    await box.say(mette, "/meetingpoll 2026-12-09 17:00, 2026-12-10 16:30")
    poll = next(m for m in reversed(box.fake.messages_to(GROUP_CHAT_ID)) if m.poll)
    for person, option in ((anna, 0), (bo, 0), (camilla, 1), (dennis, 1)):
        await box.vote(person, poll.poll["id"], [option])
    await box.say(mette, "/setmeeting 2026-12-09 17:00")
    if paused_before is not None:
        await box.say(mette, f"/pausevolunteer @{paused_before.username}")
    await box.advance_to(AFTER_THE_MEETING)


def copies_to(box: Sandbox, chat_id: int) -> list:
    """The minutes a person received (messages or documents with the kind line)."""
    return [
        m
        for m in box.fake.messages_to(chat_id)
        if "hvad vi talte om" in (m.text or "") or "what we talked about" in (m.text or "")
    ]


async def statuses(box: Sandbox) -> dict[str, str]:
    """Each copy's outbox state, or Telegram's answer once it is done."""
    async with box.services.db.transaction() as session:
        rows = await session.execute(
            select(Person.first_name, OutboxItem.state, OutboxItem.outcome)
            .join(Person, Person.id == OutboxItem.person_id)
            .where(OutboxItem.kind == minutes_domain.KIND)
        )
        return {name: outcome if state == "done" else state for name, state, outcome in rows}


def labels(message) -> list[str]:
    return [b["text"] for b in message.buttons]


def button(message, label: str) -> str:
    return next(b["callback_data"] for b in message.buttons if b["text"] == label)


async def send_minutes(box: Sandbox, cast: Cast, text: str = MINUTES_TEXT) -> None:
    mette = cast.coordinator
    await box.say(mette, "/minutes")
    await box.say(mette, text)
    preview = box.fake.last_message_to(mette.id)
    await box.tap(mette, preview, button(preview, "Send"))


async def untick(box: Sandbox, who, name: str) -> None:
    """One tap on a name in the newest preview."""
    preview = next(m for m in reversed(box.fake.messages_to(who.id)) if m.buttons)
    [label] = [b for b in labels(preview) if b.endswith(f" {name}")]
    await box.tap(who, preview, button(preview, label))


async def test_attendance_is_ticked_from_the_poll_corrected_and_decides_who_gets_the_minutes(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    anna, bo, camilla, dennis = cast.volunteers
    await hold_meeting(box, cast)
    group_messages = len(box.fake.messages_to(GROUP_CHAT_ID))

    # No checklist after the meeting: the coordinator just sends the minutes, no command.
    await box.run_due()
    assert not any("Hvem kom" in t for t in box.texts_to(mette.id))
    await box.say(mette, MINUTES_TEXT)
    preview = box.fake.last_message_to(mette.id)
    assert preview.text.startswith(
        "Referatet fra frivilligmødet onsdag 9. december. Jeg har sat flueben ved dem, der "
        "sagde ja i afstemningen"
    )
    assert labels(preview) == ["✅ Anna", "✅ Bo", "⬜ Camilla", "⬜ Dennis", "Send", "Annullér"]
    assert "Dem, der ikke kunne komme, får det privat: Camilla, Dennis" in preview.text

    # Bo couldn't come after all; Camilla came anyway: one tap each, the same message.
    await box.tap(mette, preview, button(preview, "✅ Bo"))
    await box.tap(mette, preview, button(preview, "⬜ Camilla"))
    preview = box.fake.last_message_to(mette.id)
    assert labels(preview) == ["✅ Anna", "⬜ Bo", "✅ Camilla", "⬜ Dennis", "Send", "Annullér"]
    assert "Dem, der ikke kunne komme, får det privat: Bo, Dennis" in preview.text
    assert "Dennis har ikke startet en chat med mig endnu" in preview.text
    async with box.services.db.transaction() as session:
        rows = await session.execute(
            select(Person.first_name, Attendance.present).join(
                Person, Person.id == Attendance.person_id
            )
        )
        assert dict(rows.all()) == {"Anna": True, "Bo": False, "Camilla": True, "Dennis": False}

    # The minutes go to Bo (and wait for Dennis, who never started the bot).
    tick_anna = button(preview, "✅ Anna")
    await box.tap(mette, preview, button(preview, "Send"))
    [copy] = copies_to(box, bo.id)
    assert copy.text == f"{MISSED_YOU}\n\n{MINUTES_TEXT}" and copy.protect_content
    assert copies_to(box, anna.id) == copies_to(box, camilla.id) == []
    report = box.fake.last_message_to(mette.id)
    assert "Sendt: 1" in report.text
    assert (
        "Har ikke startet en chat med mig endnu eller har blokeret mig "
        "(får referatet, når de skriver /start til mig): Dennis" in report.text
    )
    # A tap on a name after Send (as if the buttons' removal was lost) does nothing.
    await box.forge_tap(mette, preview, tick_anna)
    assert await statuses(box) == {"Bo": "sent", "Dennis": "not_started"}

    # Dennis starts the bot for the first time: his copy arrives, the report follows.
    await box.say(dennis, "/start")
    [copy] = copies_to(box, dennis.id)
    assert copy.text.startswith(MISSED_YOU) and copy.protect_content
    report = next(m for m in box.fake.messages_to(mette.id) if m.message_id == report.message_id)
    assert "Sendt: 2" in report.text and "Venter" not in report.text
    assert await statuses(box) == {"Bo": "sent", "Dennis": "sent"}
    await box.say(dennis, "/start")  # again: nothing is repeated
    assert len(copies_to(box, dennis.id)) == 1

    assert len(box.fake.messages_to(GROUP_CHAT_ID)) == group_messages


async def test_minutes_as_a_document_wait_for_the_unreachable_and_reach_exactly_those(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    anna, bo, camilla, dennis = cast.volunteers
    await hold_meeting(box, cast)
    group_messages = len(box.fake.messages_to(GROUP_CHAT_ID))

    # /minutes, then a document; the coordinator changes her mind.
    await box.say(mette, "/minutes")
    box.fake.send_document(mette, mette.id, b"%PDF-1.4 draft", "referat-udkast.pdf")
    await box.settle()
    preview = box.fake.last_message_to(mette.id)
    # Nothing recorded: those who didn't say yes to the date couldn't come.
    assert "Camilla, Dennis" in preview.text
    await box.tap(mette, preview, button(preview, "Annullér"))
    assert "ikke sendt" in box.last_text_to(mette.id)
    assert copies_to(box, camilla.id) == []

    # Camilla has blocked the bot for now. A document with /minutes as its caption.
    box.fake.block(camilla)
    await box.settle()
    posted = box.fake.send_document(
        mette, mette.id, b"%PDF-1.4 final", "referat.pdf", caption="/minutes"
    )
    await box.settle()
    preview = box.fake.last_message_to(mette.id)
    await box.tap(mette, preview, button(preview, "Send"))
    assert copies_to(box, camilla.id) == copies_to(box, dennis.id) == []
    report = box.fake.last_message_to(mette.id)
    assert (
        "Har ikke startet en chat med mig endnu eller har blokeret mig "
        "(får referatet, når de skriver /start til mig): Camilla, Dennis" in report.text
    )

    # She unblocks and starts the bot again: the document comes, by its Telegram file id.
    box.fake.unblock(camilla)
    await box.say(camilla, "/start")
    [copy] = copies_to(box, camilla.id)  # in English, her Telegram language
    assert copy.text.startswith(MISSED_YOU_EN)
    assert copy.document["file_name"] == "referat.pdf" and copy.protect_content
    sent = [c for c in box.fake.calls_to("sendDocument") if c.chat_id == camilla.id and c.ok]
    assert sent[0].params["document"] == posted["document"]["file_id"]  # never the bytes
    assert copies_to(box, anna.id) == copies_to(box, bo.id) == []
    async with box.services.db.transaction() as session:
        [stored] = list(await session.scalars(select(Minutes)))
    assert stored.text is None and stored.file_name == "referat.pdf" and stored.file_id

    # Dennis gets the document on his first /start.
    await box.say(dennis, "/start")
    [copy] = copies_to(box, dennis.id)
    assert copy.document["file_name"] == "referat.pdf" and copy.protect_content
    report = next(m for m in box.fake.messages_to(mette.id) if m.message_id == report.message_id)
    assert "Sendt: 2" in report.text and "Venter" not in report.text
    assert len(box.fake.messages_to(GROUP_CHAT_ID)) == group_messages


async def test_paused_volunteers_get_the_minutes_when_back_or_when_the_coordinator_says(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    anna, bo, camilla, _dennis = cast.volunteers
    await hold_meeting(box, cast)
    group_messages = len(box.fake.messages_to(GROUP_CHAT_ID))
    await box.say(mette, "/pausevolunteer @bo_frivillig")
    await box.say(mette, "/pausevolunteer @camilla")

    await box.say(mette, "/minutes")
    await box.say(mette, MINUTES_TEXT)
    await untick(box, mette, "Bo")  # Bo couldn't come after all
    preview = box.fake.last_message_to(mette.id)
    assert "Bo, Camilla holder pause og får referatet, når pausen er slut." in preview.text
    await box.tap(mette, preview, button(preview, "Send"))
    assert copies_to(box, bo.id) == copies_to(box, camilla.id) == []
    report = box.fake.last_message_to(mette.id)
    assert "Holder pause (får referatet, når pausen er slut): Bo, Camilla" in report.text

    # Camilla is back: her copy comes with it.
    await box.say(camilla, "/resume")
    [copy] = copies_to(box, camilla.id)
    assert copy.text.startswith(MISSED_YOU_EN) and copy.protect_content
    report = next(m for m in box.fake.messages_to(mette.id) if m.message_id == report.message_id)
    assert (
        "Holder pause (får referatet, når pausen er slut): Bo" in report.text
        and "Camilla" not in report.text
    )

    # The coordinator sends Bo his copy now anyway.
    await box.tap(mette, report, button(report, "Send nu alligevel"))
    [copy] = copies_to(box, bo.id)
    assert copy.text.startswith(MISSED_YOU) and copy.protect_content
    report = next(m for m in box.fake.messages_to(mette.id) if m.message_id == report.message_id)
    assert "pause" not in report.text and report.buttons == []
    await box.say(bo, "/resume")  # nothing is repeated when he comes back
    assert len(copies_to(box, bo.id)) == 1
    assert copies_to(box, anna.id) == []
    assert len(box.fake.messages_to(GROUP_CHAT_ID)) == group_messages


async def test_a_volunteers_minutes_is_refused_and_referat_gives_the_latest_again(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna = cast.volunteers[0]
    await hold_meeting(box, cast)
    await box.say(anna, "/referat")
    assert "ikke noget referat endnu" in box.last_text_to(anna.id)
    await box.say(anna, "/minutes")
    assert "kun koordinatoren" in box.last_text_to(anna.id)

    await send_minutes(box, cast)
    assert copies_to(box, anna.id) == []  # she came
    await box.say(anna, "/referat")
    copy = box.fake.last_message_to(anna.id)
    assert copy.text == f"Her er referatet fra frivilligmødet onsdag 9. december.\n\n{MINUTES_TEXT}"
    assert copy.protect_content
    await box.say(cast.stranger, "/referat")
    assert copies_to(box, cast.stranger.id) == []


async def test_stopped_in_the_middle_of_sending_neither_loses_nor_repeats_a_copy(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    anna, bo, camilla, dennis = cast.volunteers
    await hold_meeting(box, cast)
    await box.say(dennis, "/start")
    await box.say(mette, "/minutes")
    await box.say(mette, MINUTES_TEXT)
    await untick(box, mette, "Bo")
    # The coordinator tapped Send and the confirmation was committed, then the bot stopped.
    async with box.services.db.transaction() as session:
        draft = await session.scalar(select(Minutes))
        assert await minutes_domain.confirm(session, draft.id, box.clock.now())
    assert await statuses(box) == {"Bo": "pending", "Camilla": "pending", "Dennis": "pending"}

    # A pass starts sending; Bo's copy goes out, Camilla's hangs, and the process dies.
    box.fake.timeout_next("sendMessage", chat_id=camilla.id, delay=1.0, perform=False)
    passing = asyncio.create_task(box.services.scheduler.run_due(box.app))
    for _ in range(500):
        if (await statuses(box)).get("Camilla") == "claimed":
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    passing.cancel()
    await asyncio.gather(passing, return_exceptions=True)
    assert await statuses(box) == {"Bo": "sent", "Camilla": "claimed", "Dennis": "pending"}

    # Started again; Dennis's first try fails, a pass a while later gets it through.
    box.fake.fail_next(
        "sendMessage", chat_id=dennis.id, error_code=400, description="Bad Request: x"
    )
    await box.restart_bot()
    assert await statuses(box) == {"Bo": "sent", "Camilla": "sent", "Dennis": "pending"}
    await box.advance(minutes_domain.RETRY_AFTER)
    assert await statuses(box) == {"Bo": "sent", "Camilla": "sent", "Dennis": "sent"}
    for person in (bo, camilla, dennis):
        assert len(copies_to(box, person.id)) == 1, person.first_name
    assert copies_to(box, anna.id) == []


def current(box: Sandbox, chat_id: int, message_id: int):
    return next(m for m in box.fake.messages_to(chat_id) if m.message_id == message_id)


async def test_send_is_a_single_use_question_used_superseded_or_expired_says_so(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    _anna, bo, camilla, _dennis = cast.volunteers
    await hold_meeting(box, cast)

    # The buttons carry a random token, not the draft's row id.
    await box.say(mette, "/minutes")
    await box.say(mette, "Første udkast")
    first = box.fake.last_message_to(mette.id)
    async with box.services.db.transaction() as session:
        draft_id = await session.scalar(select(Minutes.id))
    first_send = button(first, "Send")
    for data in (first_send, button(first, "Annullér")):
        assert data.split(":")[-1] != str(draft_id) and len(data.split(":")[-1]) >= 16

    # A newer draft replaces the question: the older Send does nothing, and says why.
    await box.say(mette, "/minutes")
    await box.say(mette, MINUTES_TEXT)
    second = box.fake.last_message_to(mette.id)
    taps = {label: button(second, label) for label in ("Send", "Annullér")}
    await box.tap(mette, first, first_send)
    assert "spurgt igen senere" in current(box, mette.id, first.message_id).text
    assert copies_to(box, camilla.id) == []

    # Send once; a second tap on Send (or Cancel) is used up and sends nothing again.
    await box.tap(mette, second, taps["Send"])
    assert len(copies_to(box, camilla.id)) == 1
    for label in ("Send", "Annullér"):
        # As if the buttons' removal had been lost on the way (or a client kept them).
        await box.forge_tap(mette, second, taps[label])
        assert "knappen er brugt" in current(box, mette.id, second.message_id).text
    assert len(copies_to(box, camilla.id)) == 1

    # A question left for more than a day does nothing.
    await box.say(mette, "/minutes")
    await box.say(mette, "Et sent udkast")
    late = box.fake.last_message_to(mette.id)
    box.clock.advance(timedelta(hours=25))
    await box.tap(mette, late, button(late, "Send"))
    assert "mere end et døgn gammelt" in current(box, mette.id, late.message_id).text
    assert len(copies_to(box, camilla.id)) == 1 and copies_to(box, bo.id) == []


async def test_sending_to_150_answers_the_coordinator_at_once_and_each_gets_one_copy(
    group: tuple[Sandbox, Cast],
):
    """Send only promises the copies; the outbox sends them after the answer."""
    box, cast = group
    mette = cast.coordinator
    await hold_meeting(box, cast)
    services = box.services
    many = [box.fake.add_user(5000 + n, f"Frivillig{n:03}") for n in range(150)]
    async with services.db.transaction() as session:
        for user in many:
            box.fake.set_member(GROUP_CHAT_ID, user.id, "member")
            user.started = True
            who = people.TelegramPerson(user.id, user.first_name, None, "da")
            await people.record_member(
                session, services.group_id, who, box.clock.now(), started_bot=True
            )
    await box.say(mette, "/minutes")
    await box.say(mette, MINUTES_TEXT)
    preview = box.fake.last_message_to(mette.id)
    # Telegram takes at most 100 buttons: for 154 volunteers, no name buttons.
    assert labels(preview) == ["Send", "Annullér"]
    box.fake.tap_button(mette, preview, button(preview, "Send"))
    await box.settle(timeout=60)

    sends = [c for c in box.fake.calls_to("sendMessage") if c.ok]
    report = next(
        n for n, c in enumerate(sends) if c.params.get("text", "").startswith("Referatet fra")
    )
    copies = [n for n, c in enumerate(sends) if "hvad vi talte om" in c.params.get("text", "")]
    assert len(copies) == 150  # in Danish (Camilla's is in English; Dennis never started)
    assert report < copies[0]  # the answer came first: the copies went afterwards
    for user in many:
        assert len(copies_to(box, user.id)) == 1


async def test_the_author_of_the_minutes_sees_them_in_mydata_and_forgetme_keeps_them_unnamed(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    camilla = cast.volunteers[2]
    await hold_meeting(box, cast)
    await send_minutes(box, cast)
    async with box.services.db.transaction() as session:
        mette_id = await session.scalar(
            select(Person.id).where(Person.telegram_user_id == mette.id)
        )

    # Her own /mydata lists the minutes she wrote, pointing at her people row.
    await box.say(mette, "/mydata")
    document = box.fake.messages_to(mette.id)[-1].document
    assert document is not None
    export = json.loads(box.fake.files[document["file_id"]].content)
    [written] = export["tables"]["minutes"]
    assert written["author_id"] == mette_id and written["text"] == MINUTES_TEXT
    assert "author_user_id" not in written  # no bare Telegram id any more

    # /forgetme: she is gone, the minutes stay for the group, naming nobody.
    await box.say(mette, "/forgetme")
    question = box.fake.messages_to(mette.id)[-1]
    await box.tap(
        mette,
        question,
        next(b["callback_data"] for b in question.buttons if "forget" in b["callback_data"]),
    )
    async with box.services.db.transaction() as session:
        assert await session.scalar(select(Person.id).where(Person.id == mette_id)) is None
        minutes = await session.scalar(select(Minutes))
        assert minutes.author_id is None and minutes.report_chat_id is None
        assert minutes.text == MINUTES_TEXT
    await box.say(camilla, "/referat")
    assert MINUTES_TEXT in box.last_text_to(camilla.id)
