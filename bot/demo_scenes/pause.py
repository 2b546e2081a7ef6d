"""A pause: asked for in the group by mistake (deleted, pointed to the private chat), the
kind private flow, and the coordinator's one notification. Nothing about it in the group."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.demo import Demo


async def scene(demo: Demo) -> None:
    cast = demo.cast
    dennis, mette = cast.volunteers[3], cast.coordinator
    if not mette.started:
        await demo.say(mette, "/start", show_reply=False)

    demo.narrate("Dennis writes /pause in the group. The bot removes it and answers neutrally.")
    await demo.say(dennis, "/pause", in_group=True)
    demo.narrate("Dennis taps the button; the private chat opens with the pause flow.")
    await demo.say(dennis, "/start pause")
    await demo.tap(dennis, demo.last_message_to(dennis.id), "pause:len:1m")
    question = demo.last_message_to(dennis.id)
    if any(b.get("callback_data") == "pause:cover:yes" for b in question.buttons):
        await demo.tap(dennis, question, "pause:cover:yes")
    await demo.say(dennis, "Tak fordi du forstår. Jeg ringer, når jeg er klar.")
    await demo.tap(dennis, demo.last_message_to(dennis.id), "pause:ok")

    demo.narrate("Some weeks later Dennis feels ready again.")
    await demo.say(dennis, "/resume")
