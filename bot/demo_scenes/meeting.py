"""The monthly volunteer meeting: a date poll in the group, the votes, a gentle nudge, the
decision with a calendar invitation, and a reminder."""

from __future__ import annotations

from datetime import time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.domain import meeting_dates
from storage.models.meeting import Meeting

if TYPE_CHECKING:
    from bot.demo import Demo


async def scene(demo: Demo) -> None:
    box, cast = demo.box, demo.cast
    mette = cast.coordinator
    anna, bo, camilla = cast.volunteers[:3]
    for user in (mette, anna, bo, camilla):
        if not user.started:  # the welcome scene normally did this already
            await demo.say(user, "/start", show_reply=False)

    demo.narrate("The coordinator asks for next month's volunteer meeting date poll.")
    await demo.say(mette, "/meetingpoll")
    poll_message = next(
        m for m in reversed(box.fake.messages_to(box.services.group_chat_id)) if m.poll
    )
    poll = poll_message.poll
    options = [o["text"] for o in poll["options"]]

    demo.narrate("The volunteers answer in the group; Bo changes his mind.")
    await demo.vote(anna, poll["id"], [0, 1], f"{options[0]}, {options[1]}")
    await demo.vote(bo, poll["id"], [0], options[0])
    await demo.vote(bo, poll["id"], [1], options[1])

    async with box.services.db.transaction() as session:
        meeting = await session.scalar(select(Meeting).where(Meeting.poll_id == poll["id"]))
        assert meeting is not None and meeting.closes_at is not None
        closes_at = meeting.closes_at

    demo.narrate("A day before the poll closes, those who haven't answered get a gentle nudge.")
    await demo.advance_to(closes_at - timedelta(days=1))
    demo.narrate("Camilla answers that none of the days suit her this time.")
    await demo.vote(camilla, poll["id"], [len(options) - 1], options[-1])
    demo.narrate("The poll closes: the date most can come to wins.")
    await demo.advance_to(closes_at)

    async with box.services.db.transaction() as session:
        meeting = await session.get_one(Meeting, meeting.id)
    assert meeting.starts_at is not None
    day_before = meeting.starts_at.astimezone(box.services.tz).date() - timedelta(days=1)
    demo.narrate(
        "The day before the meeting: a reminder to those coming (not to Camilla, who can't);"
        " the poll for the month after opens on schedule."
    )
    await demo.advance_to(meeting_dates.local_moment(day_before, time(10, 0), box.services.tz))
