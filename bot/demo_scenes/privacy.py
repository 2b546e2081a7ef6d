"""A person's rights: a copy of everything the bot stores, and being forgotten; the
coordinator learns only which matches need a new volunteer."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.demo import Demo


async def scene(demo: Demo) -> None:
    cast = demo.cast
    bo, camilla = cast.volunteers[1], cast.volunteers[2]
    demo.narrate("Bo wonders what the bot knows about him and asks for a copy.")
    await demo.say(bo, "/mydata")
    demo.narrate(
        "Camilla is moving away and asks the bot to forget her (her Telegram is in English)."
    )
    await demo.say(camilla, "/forgetme")
    question = demo.last_message_to(camilla.id)
    data = next(
        b["callback_data"]
        for b in question.buttons
        if b["callback_data"].startswith("privacy:forget")
    )
    await demo.tap(camilla, question, data)
