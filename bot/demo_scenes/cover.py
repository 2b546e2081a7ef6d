"""Cover by suggestion: Anna asks for a pause and a temporary volunteer; the coordinator's
notice suggests who could take over K.L., one tap asks Dennis privately (he hears only that
Anna can't come for a while), and his yes sets the cover."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.demo import Demo


def _button(message, label_start: str) -> str:
    return next(b["callback_data"] for b in message.buttons if b["text"].startswith(label_start))


async def scene(demo: Demo) -> None:
    cast = demo.cast
    mette, anna, dennis = cast.coordinator, cast.volunteers[0], cast.volunteers[3]
    if not dennis.started:
        await demo.say(dennis, "/start", show_reply=False)

    demo.narrate("Anna needs a pause and would like someone to take her meetings with K.L.")
    await demo.say(anna, "/pause")
    await demo.tap(anna, demo.last_message_to(anna.id), "pause:len:1m")
    await demo.tap(anna, demo.last_message_to(anna.id), "pause:cover:yes")
    await demo.tap(anna, demo.last_message_to(anna.id), "pause:note:none")
    await demo.tap(anna, demo.last_message_to(anna.id), "pause:ok")

    demo.narrate("Mette's notice suggests who could take over; one tap asks Dennis privately.")
    notice = demo.last_message_to(mette.id)
    await demo.tap(mette, notice, _button(notice, "Spørg Dennis"))
    question = demo.last_message_to(dennis.id)
    await demo.tap(dennis, question, _button(question, "Ja"))

    demo.narrate("When Anna is ready again she writes /resume; Dennis's cover ends by itself.")
    await demo.say(anna, "/resume")
