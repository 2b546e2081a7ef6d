"""After the meeting: the coordinator marks who came (ticked in advance from the poll) and
sends the minutes; only those who couldn't come get them, privately. Nothing in the group."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.domain import meeting as meetings
from storage.models.meeting import Meeting

if TYPE_CHECKING:
    from bot.demo import Demo

MINUTES = (
    "Referat fra frivilligmødet\n"
    "1. Nyt fra koordinatoren: to nye frivillige starter i januar.\n"
    "2. Supervision: vi talte om at sige fra, når man selv har brug for en pause.\n"
    "3. Ønsker til kurser: førstehjælp og konflikthåndtering."
)


async def decided_meeting(demo: Demo) -> Meeting | None:
    async with demo.box.services.db.transaction() as session:
        return await session.scalar(
            select(Meeting)
            .where(Meeting.status == meetings.DECIDED)
            .order_by(Meeting.starts_at.desc())
        )


async def scene(demo: Demo) -> None:
    box, cast = demo.box, demo.cast
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    for user in (mette, anna, bo):
        if not user.started:  # the welcome scene normally did this already
            await demo.say(user, "/start", show_reply=False)
    meeting = await decided_meeting(demo)
    if meeting is None:  # played without the meeting scene
        moment = (box.clock.now() + timedelta(days=7)).astimezone(box.services.tz)
        await demo.say(mette, f"/setmeeting {moment:%Y-%m-%d} 17:00", show_reply=False)
        meeting = await decided_meeting(demo)
    assert meeting is not None and meeting.starts_at is not None

    demo.narrate(
        "The volunteer meeting is held. Afterwards the coordinator just sends the minutes "
        "to the bot, with no command; the bot shows who came (ticked for those who said yes "
        "in the poll) and who will get a copy."
    )
    await demo.advance_to(meeting.starts_at + timedelta(hours=2, minutes=30))
    await demo.say(mette, MINUTES)
    preview = demo.last_message_to(mette.id)
    ticked_bo = next((b for b in preview.buttons if b["text"] == "✅ Bo"), None)
    if ticked_bo is not None:
        demo.narrate("Bo had said yes, but couldn't come after all: one tap corrects it.")
        await demo.tap(mette, preview, ticked_bo["callback_data"])
    preview = demo.last_message_to(mette.id)
    send = next(b for b in preview.buttons if b["text"] == "Send")
    demo.narrate(
        "Only those who couldn't come get them, privately and protected; those who came "
        "get nothing, and nothing appears in the group. The coordinator gets a report."
    )
    await demo.tap(mette, preview, send["callback_data"])

    demo.narrate("Anna was there, but wants to read them again later.")
    await demo.say(anna, "/referat")
