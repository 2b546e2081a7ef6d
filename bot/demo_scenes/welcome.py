"""The foundation: people say hello, a stranger is turned away kindly, help in the group."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.demo import Demo


async def scene(demo: Demo) -> None:
    cast = demo.cast
    demo.narrate("The coordinator and the volunteers open a private chat with PeerBot.")
    await demo.say(cast.coordinator, "/start")
    for volunteer in cast.volunteers[:3]:
        await demo.say(volunteer, "/start", show_reply=volunteer is cast.volunteers[0])
    demo.narrate("Dennis is in the group but hasn't started the bot yet.")
    demo.narrate("Someone outside the group tries the bot.")
    await demo.say(cast.stranger, "/start")
    demo.narrate("In the group, a volunteer asks for help.")
    await demo.say(cast.volunteers[1], "/help", in_group=True)
    demo.narrate("The coordinator checks who the bot can reach.")
    await demo.say(cast.coordinator, "/volunteers")
