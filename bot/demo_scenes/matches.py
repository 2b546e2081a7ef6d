"""A match made in one line; the evening before, both volunteers get a reminder with its
buttons, and Anna taps "Jeg kommer"."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from bot.domain import matches, people
from bot.sandbox import COPENHAGEN

if TYPE_CHECKING:
    from bot.demo import Demo


async def scene(demo: Demo) -> None:
    cast = demo.cast
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    for person in (mette, anna, bo):
        if not person.started:
            await demo.say(person, "/start", show_reply=False)

    demo.narrate("The coordinator matches a citizen with Anna and Bo, in one line.")
    await demo.say(mette, '/match @anna @bo_frivillig "K.L." ugentlig tir 10:00 sted "Biblioteket"')

    box = demo.box
    services = box.services
    async with services.db.transaction() as session:
        person = await people.find_person(session, services.group_id, anna.id)
        assert person is not None
        [match] = [
            m
            for m in await matches.matches_for_person(
                session, services.group_id, person.id, box.clock.now()
            )
            if m.label == "K.L."
        ]
    first = match.next_starts[0].astimezone(COPENHAGEN)
    evening_before = datetime.combine(
        first.date() - timedelta(days=1), time(18, 0), tzinfo=COPENHAGEN
    )
    demo.narrate("The evening before the first meeting, both volunteers get a reminder.")
    await demo.advance_to(evening_before)
    demo.narrate("Anna taps »Jeg kommer«; Bo could cancel just this once, or ask for a talk.")
    reminder = demo.last_message_to(anna.id)
    await demo.tap(anna, reminder, reminder.buttons[0]["callback_data"])
