"""A broadcast: the coordinator offers a first-aid course to everyone, in the group and in
private, and watches the delivery report."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.demo import Demo


def _data(message: Any, prefix: str, suffix: str = "") -> str:
    return next(
        b["callback_data"]
        for b in message.buttons
        if b["callback_data"].startswith(prefix) and b["callback_data"].endswith(suffix)
    )


async def scene(demo: Demo) -> None:
    mette = demo.cast.coordinator
    if not mette.started:
        await demo.say(mette, "/start", show_reply=False)
    demo.narrate("Mette offers a first-aid course. /broadcast with the text shows a preview first.")
    await demo.say(
        mette,
        "/broadcast Førstehjælpskursus for frivillige: tirsdag 12. januar kl. 17-20 i "
        "Frivilligcentret. Skriv til mig, hvis du vil være med.",
    )
    control = demo.last_message_to(mette.id)
    await demo.tap(mette, control, _data(control, "broadcast:aud:", ":both"))
    await demo.tap(mette, control, _data(control, "broadcast:imp:", ":0"))
    demo.narrate("A summary of who will get it, then Send: the report is updated in place.")
    await demo.tap(mette, control, _data(control, "broadcast:send:"))
    for _ in range(100):  # the copies go out in the background
        if (control.text or "").startswith("Din besked er sendt."):
            break
        await asyncio.sleep(0.05)
    await demo.box.fake.wait_until_idle()
    demo.flush()
