"""End to end: the coordinator just sends the minutes (text, forwarded message, document)
with no command; the bot asks when unsure, never takes a normal message, and asks once a
week after a meeting whose minutes never came."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.domain import attendance
from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox
from storage.models import Person
from storage.models.minutes import Attendance, Minutes
from tests.e2e import at, button, guided_match_waiting_for_the_label
from tests.test_minutes_e2e import MISSED_YOU, copies_to, hold_meeting, labels

# What a coordinator writes after a meeting: no command, the word "referat" nowhere.
NOTES = (
    "Frivilligmøde 9/12\n"
    "1. Nyt fra koordinatoren: to nye frivillige starter i januar.\n"
    "2. Supervision: at sige fra, når man selv har brug for en pause.\n"
    "3. Julefrokost fredag 18. december.\n"
    "4. Næste frivilligmøde: afstemning i gruppen.\n"
    "5. Eventuelt."
)
PREVIEW_START = "Referatet fra frivilligmødet onsdag 9. december."


def forward(box: Sandbox, user, text: str) -> None:
    """`user` forwards someone's message (`text`) to the bot."""
    sender = box.fake._user(user)
    chat = box.fake._chat_for_person(sender, sender.id)
    origin = {"type": "hidden_user", "date": 1765000000, "sender_user_name": "Bo"}
    box.fake._person_message(sender, chat, {"text": text, "forward_origin": origin})


async def drafts(box: Sandbox) -> int:
    async with box.services.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Minutes)) or 0)


async def test_pasted_text_one_preview_one_correction_send_reaches_exactly_those_who_couldnt_come(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    anna, bo, camilla, dennis = cast.volunteers
    await hold_meeting(box, cast)
    await box.say(dennis, "/start")
    await box.say(mette, "/pausevolunteer @camilla")
    group_messages = len(box.fake.messages_to(GROUP_CHAT_ID))
    before = len(box.fake.messages_to(mette.id))

    await box.say(mette, NOTES)
    [preview] = box.fake.messages_to(mette.id)[before:]  # ONE answer: the preview
    assert preview.text.startswith(PREVIEW_START)
    assert labels(preview) == ["✅ Anna", "✅ Bo", "⬜ Camilla", "⬜ Dennis", "Send", "Annullér"]
    assert "Dem, der ikke kunne komme, får det privat: Camilla, Dennis" in preview.text
    assert "Camilla holder pause og får referatet, når pausen er slut." in preview.text

    # Bo couldn't come after all: one tap.
    await box.tap(mette, preview, button(preview, "✅ Bo"))
    assert "får det privat: Bo, Camilla, Dennis" in preview.text
    await box.tap(mette, preview, button(preview, "Send"))
    for person in (bo, dennis):
        [copy] = copies_to(box, person.id)
        assert copy.text == f"{MISSED_YOU}\n\n{NOTES}" and copy.protect_content
    assert copies_to(box, anna.id) == copies_to(box, camilla.id) == []
    assert "Holder pause (får referatet, når pausen er slut): Camilla" in box.last_text_to(mette.id)

    # Camilla's pause ends: her copy comes then.
    await box.say(camilla, "/resume")
    assert len(copies_to(box, camilla.id)) == 1
    await box.run_due()
    for person in (bo, camilla, dennis):
        assert len(copies_to(box, person.id)) == 1
    assert copies_to(box, anna.id) == []
    assert len(box.fake.messages_to(GROUP_CHAT_ID)) == group_messages

    # The minutes are sent: the coordinator's next long message is not taken as minutes again.
    before = len(box.fake.messages_to(mette.id))
    await box.say(mette, NOTES)
    assert "forstod jeg ikke helt" in box.last_text_to(mette.id)
    assert await drafts(box) == 1  # only the sent minutes


async def test_a_yes_given_before_a_pause_is_not_ticked_as_came(group: tuple[Sandbox, Cast]):
    """Anna said yes, then went on a pause before the meeting: she is not ticked, so her copy
    of the minutes waits for the end of her pause instead of being lost to a wrong tick."""
    box, cast = group
    mette = cast.coordinator
    anna, bo = cast.volunteers[:2]
    await hold_meeting(box, cast, paused_before=anna)
    before = len(box.fake.messages_to(mette.id))

    await box.say(mette, NOTES)
    [preview] = box.fake.messages_to(mette.id)[before:]
    assert labels(preview) == ["⬜ Anna", "✅ Bo", "⬜ Camilla", "⬜ Dennis", "Send", "Annullér"]
    assert "Anna holder pause og får referatet, når pausen er slut." in preview.text
    await box.tap(mette, preview, button(preview, "Send"))
    assert copies_to(box, anna.id) == []
    await box.say(anna, "/resume")
    await box.run_due()
    assert len(copies_to(box, anna.id)) == 1
    assert copies_to(box, bo.id) == []


async def test_a_forwarded_message_and_a_document_are_taken_as_minutes(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    _anna, bo, camilla, _dennis = cast.volunteers
    await hold_meeting(box, cast)

    forward(box, mette, "Referat fra frivilligmødet: vi talte om julefrokosten og supervision.")
    await box.settle()
    preview = box.fake.last_message_to(mette.id)
    assert preview.text.startswith(PREVIEW_START)
    await box.tap(mette, preview, button(preview, "Annullér"))
    assert "ikke sendt" in box.last_text_to(mette.id)

    # A document with no caption: the preview; Send sends it by its file id.
    box.fake.send_document(mette, mette.id, b"%PDF-1.4 final", "frivilligmoede-dec.pdf")
    await box.settle()
    preview = box.fake.last_message_to(mette.id)
    assert preview.text.startswith(PREVIEW_START)
    await box.tap(mette, preview, button(preview, "Send"))
    [copy] = copies_to(box, camilla.id)
    assert copy.document["file_name"] == "frivilligmoede-dec.pdf" and copy.protect_content
    assert copies_to(box, bo.id) == []


async def test_when_unsure_the_bot_asks_once_and_no_keeps_nothing(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette = cast.coordinator
    camilla = cast.volunteers[2]
    await hold_meeting(box, cast)

    # A text that may be something else: one question, with buttons.
    unsure = (
        "Kan du huske at sige til Anna, at mødet med K.L. flytter til torsdag i næste uge, "
        "fordi hun er syg?"
    )
    await box.say(mette, unsure)
    question = box.fake.last_message_to(mette.id)
    assert question.text == "Er det referatet fra frivilligmødet onsdag 9. december?"
    assert labels(question) == ["Ja, det er referatet", "Nej, det er ikke et referat"]
    await box.tap(mette, question, button(question, "Nej, det er ikke et referat"))
    assert "ikke gemt" in box.last_text_to(mette.id)
    assert await drafts(box) == 0  # nothing of it is kept

    # Asked again with other notes: "yes" turns the same message into the preview.
    await box.say(
        mette, "Vi talte om julen og om supervision, og om hvem der bager til januar. Tak til alle!"
    )
    question = box.fake.last_message_to(mette.id)
    await box.tap(mette, question, button(question, "Ja, det er referatet"))
    preview = box.fake.last_message_to(mette.id)
    assert preview.message_id == question.message_id and preview.text.startswith(PREVIEW_START)
    await box.tap(mette, preview, button(preview, "Send"))
    assert len(copies_to(box, camilla.id)) == 1


async def test_two_meetings_without_minutes_the_bot_asks_which(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette = cast.coordinator
    anna, bo, camilla, dennis = cast.volunteers
    await hold_meeting(box, cast)
    await box.say(mette, "/setmeeting 2027-01-06 17:00")
    await box.advance_to(at(6, 20, month=1, year=2027))

    await box.say(mette, NOTES)
    question = box.fake.last_message_to(mette.id)
    assert question.text == "Hvilket frivilligmøde er referatet fra?"
    assert labels(question)[-1] == "Nej, det er ikke et referat"
    [december] = [b for b in labels(question) if "9. december" in b]
    await box.tap(mette, question, button(question, december))
    preview = box.fake.last_message_to(mette.id)
    assert preview.text.startswith("Referatet fra frivilligmødet onsdag 9. december 2026.")
    await box.tap(mette, preview, button(preview, "Send"))
    # December's poll decides: Camilla and Dennis couldn't come (Dennis never started).
    assert len(copies_to(box, camilla.id)) == 1
    assert copies_to(box, anna.id) == copies_to(box, bo.id) == copies_to(box, dennis.id) == []

    # January's minutes now need no question.
    await box.say(mette, NOTES)
    assert "januar" in box.fake.last_message_to(mette.id).text.split("\n")[0]


async def test_a_normal_message_or_a_live_conversation_is_never_taken_as_minutes(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    await hold_meeting(box, cast)

    await box.say(mette, "Tak for i aftes!")
    assert "forstod jeg ikke helt" in box.last_text_to(mette.id)
    await box.say(mette, "Hvornår sender jeg referatet?")
    assert "forstod jeg ikke helt" in box.last_text_to(mette.id)

    # In the middle of /match, the label is the answer to the question, even if long.
    await guided_match_waiting_for_the_label(box, cast)
    await box.say(mette, "K.L. (referat fra første samtale følger)")
    assert not box.last_text_to(mette.id).startswith("Referatet fra")
    assert await drafts(box) == 0

    # A volunteer's long message is never minutes.
    anna = cast.volunteers[0]
    await box.say(anna, NOTES)
    assert "forstod jeg ikke helt" in box.last_text_to(anna.id)
    assert await drafts(box) == 0


async def test_a_week_later_without_minutes_the_coordinator_is_asked_once_kindly(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    await hold_meeting(box, cast)
    await box.advance_to(at(16, 16, 30))
    assert not any("Jeg har ikke fået referatet" in t for t in box.texts_to(mette.id))
    await box.advance_to(at(16, 17, 30))
    await box.advance_to(at(18, 12))
    asked = [t for t in box.texts_to(mette.id) if "Jeg har ikke fået referatet" in t]
    assert asked == [
        "Hej! Jeg har ikke fået referatet fra frivilligmødet onsdag 9. december endnu. Når det "
        "er klar, så send det bare her til mig, så giver jeg det videre til dem, der ikke "
        "kunne komme. Hvem der kom, har jeg sat ud fra svarene i afstemningen."
    ]
    # The attendance stands as ticked.
    async with box.services.db.transaction() as session:
        rows = await session.execute(
            select(Person.first_name, Attendance.present).join(
                Person, Person.id == Attendance.person_id
            )
        )
        assert dict(rows.all()) == {"Anna": True, "Bo": True, "Camilla": False, "Dennis": False}
    await box.restart_bot()
    await box.advance_to(at(20, 12))
    assert len([t for t in box.texts_to(mette.id) if "Jeg har ikke fået referatet" in t]) == 1
    assert attendance.QUESTION_AFTER.days == 7
