"""The coordinator's month in three taps (issue 18), end to end on the fake Bot API.

A five-volunteer group with two weekly matches (K.L. with Anna and Camilla on Tuesdays at
10, P.J. with Bo on Thursdays at 15), from 30 November to mid-January: the January poll
opens and closes by itself, the volunteers vote, the decision with its .ics is posted,
reminders go out, the meeting is held; Anna asks for a pause with a temporary volunteer.
Counted from the first day of the month, the coordinator's inputs (messages and taps) are
at most three: "Spørg Dennis", the minutes pasted, Send. One attendance correction costs one
tap more; Dennis saying no costs one more (the next suggestion).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.domain import meeting as meetings
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Cast, Sandbox
from tests.e2e import at, button, everyone_starts, reminders_to

MINUTES = (
    "Frivilligmøde i januar\n"
    "1. Nyt fra koordinatoren: to nye frivillige starter i februar.\n"
    "2. Supervision: at sige fra, når man selv har brug for en pause.\n"
    "3. Ønsker til kurser: førstehjælp og konflikthåndtering.\n"
    "4. Næste frivilligmøde: afstemning i gruppen i februar.\n"
    "5. Eventuelt."
)
MISSED_YOU = "Her er referatet fra frivilligmødet"
MEETING_REMINDER = ("En lille påmindelse: frivilligmødet", "A little reminder: the volunteer")


def coordinator_inputs(box: Sandbox, user_id: int) -> set[int]:
    """Every update the coordinator caused (a message or a tap), by update id."""
    found = set()
    for call in box.fake.calls_to("getUpdates"):
        for update in call.result or [] if call.ok else []:
            source = update.get("message") or update.get("callback_query") or {}
            if source.get("from", {}).get("id") == user_id:
                found.add(update["update_id"])
    return found


def last(box: Sandbox, user: Any) -> Any:
    return box.fake.messages_to(user.id)[-1]


def copies_to(box: Sandbox, user: Any) -> list[str]:
    return [t for t in box.texts_to(user.id) if t.startswith(MISSED_YOU)]


async def time_passes(box: Sandbox, until: datetime, step: timedelta = timedelta(hours=3)) -> None:
    """The scheduler's passes, every `step`, as the running bot would make them."""
    while box.clock.now() + step < until:
        await box.advance(step)
    await box.advance_to(until)


async def a_group_with_two_matches(box: Sandbox, cast: Cast) -> Any:
    """Set up before the month (not counted): everyone, Erik the fifth volunteer, the two
    matches. Returns Erik."""
    mette = cast.coordinator
    await everyone_starts(box, cast)
    await box.advance(timedelta(minutes=30))
    erik = box.fake.add_user(2005, "Erik", username="erik")
    box.fake.set_member(GROUP_CHAT_ID, erik.id, "member")
    await box.say(erik, "/start")
    await box.say(mette, '/match @anna @camilla "K.L." weekly tue 10:00')
    await box.say(mette, '/match @bo_frivillig "P.J." weekly thu 15:00')
    return erik


async def play_the_month(
    box: Sandbox, cast: Cast, *, correction: bool = False, dennis_says_no: bool = False
) -> dict[str, Any]:
    mette = cast.coordinator
    anna, bo, camilla, dennis = cast.volunteers
    erik = await a_group_with_two_matches(box, cast)
    await box.advance_to(at(1, 0))
    before = coordinator_inputs(box, mette.id)
    taps = 0

    # December passes; the January poll opens by itself on the 15th; volunteers vote.
    await time_passes(box, at(15, 10, 30), step=timedelta(hours=8))
    [poll] = [m for m in box.fake.messages_to(GROUP_CHAT_ID) if m.poll]
    assert "januar" in poll.poll["question"]
    # Anna does not vote (she is unsure); Dennis can only on another date.
    for person, options in ((bo, [0]), (camilla, [0, 1]), (erik, [0]), (dennis, [1])):
        await box.vote(person, poll.poll["id"], options)
    # It closes by itself: the decision with its .ics in the group.
    await time_passes(box, at(21, 12), step=timedelta(hours=8))
    [decision] = [m for m in box.fake.messages_to(GROUP_CHAT_ID) if m.document]
    assert decision.document["file_name"] == "frivilligmoede.ics"
    async with box.services.db.transaction() as session:
        meeting = await meetings.latest_meeting(session, box.services.group_id)
        assert meeting is not None and meeting.starts_at is not None
        starts = meeting.starts_at.astimezone(COPENHAGEN)

    # Anna asks for a pause with a temporary volunteer (28 December, a month).
    await time_passes(box, at(28, 12), step=timedelta(hours=8))
    await box.say(anna, "/pause")
    for data in ("pause:len:1m", "pause:cover:yes", "pause:note:none", "pause:ok"):
        await box.tap(anna, last(box, anna), data)
    anna_before = len(box.texts_to(anna.id))  # her pause has begun
    notice = last(box, mette)
    assert "har bedt om en pause" in notice.text
    await box.tap(mette, notice, button(notice, "Spørg Dennis"))
    taps += 1
    question = last(box, dennis)
    cover = dennis
    if dennis_says_no:
        await box.tap(dennis, question, button(question, "Nej, tak"))
        told = last(box, mette)
        await box.tap(mette, told, button(told, "Spørg Erik"))
        taps += 1
        question, cover = last(box, erik), erik
    await box.tap(cover, question, button(question, "Ja"))
    assert "har sagt ja" in box.last_text_to(mette.id)

    # The meeting is held; the volunteers got their reminders.
    await time_passes(box, starts + timedelta(hours=3))
    # (Not to Dennis: he said he can only come on another date.)
    for person in (bo, camilla, erik):
        assert any(t.startswith(MEETING_REMINDER) for t in box.texts_to(person.id)), person

    # The coordinator pastes the minutes: ONE preview, ticked from the poll.
    mine = len(box.fake.messages_to(mette.id))
    await box.say(mette, MINUTES)
    taps += 1
    [preview] = box.fake.messages_to(mette.id)[mine:]
    if correction:  # Erik said yes, but couldn't come after all
        await box.tap(mette, preview, button(preview, "✅ Erik"))
        taps += 1
    await box.tap(mette, preview, button(preview, "Send"))
    taps += 1

    # On to mid-January.
    await time_passes(box, at(15, 12, month=1, year=2027), step=timedelta(hours=8))
    inputs = coordinator_inputs(box, mette.id) - before
    return {
        "inputs": len(inputs),
        "taps": taps,
        "cover": cover,
        "anna_during_pause": box.texts_to(anna.id)[anna_before:],
        "erik": erik,
        "starts": starts,
    }


@pytest.mark.parametrize(
    ("correction", "dennis_says_no", "expected"),
    [(False, False, 3), (True, False, 4), (False, True, 4)],
    ids=["three-taps", "one-correction", "dennis-says-no"],
)
async def test_the_coordinators_month_costs_three_inputs(
    request: pytest.FixtureRequest,
    group: tuple[Sandbox, Cast],
    correction: bool,
    dennis_says_no: bool,
    expected: int,
):
    if (correction or dennis_says_no) and request.node.callspec.params["group"] != "sqlite":
        pytest.skip("the variants differ in taps, not in storage: SQLite is enough")
    box, cast = group
    mette = cast.coordinator
    anna, bo, camilla, dennis = cast.volunteers
    month = await play_the_month(box, cast, correction=correction, dennis_says_no=dennis_says_no)
    erik, cover = month["erik"], month["cover"]
    assert month["inputs"] == month["taps"] == expected

    # The minutes reached exactly those who couldn't come: Dennis (he voted for another
    # date), Erik after the correction; Anna's copy waits for the end of her pause.
    couldnt_come = [dennis, erik] if correction else [dennis]
    for person in (anna, bo, camilla, dennis, erik):
        assert len(copies_to(box, person)) == (1 if person in couldnt_come else 0), person
    assert "Holder pause (får referatet, når pausen er slut): Anna" in "\n".join(
        box.texts_to(mette.id)
    )

    # The cover: K.L.'s reminders go to the temporary volunteer, never to Anna on her pause.
    assert any("K.L." in m.text for m in reminders_to(box, cover.id))
    assert not any("K.L." in t for t in month["anna_during_pause"])
    assert not any("pause" in t.lower() for t in box.texts_to(cover.id) if "Anna" in t)

    # When Anna's pause ends, her copy comes.
    await time_passes(box, at(5, 12, month=2, year=2027), step=timedelta(hours=12))
    if not copies_to(box, anna):
        await box.say(anna, "/resume")
    assert len(copies_to(box, anna)) == 1
    assert len(copies_to(box, bo)) == len(copies_to(box, camilla)) == 0
    assert not any("Hvem kom" in t for t in box.texts_to(mette.id))  # no checklist
    assert not any(MISSED_YOU in t for t in box.texts_to(GROUP_CHAT_ID))
