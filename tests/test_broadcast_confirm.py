"""The broadcast's "Send now" carries a single-use token, never the row id: a second tap,
an older draft's button and a day-old one send nothing and say so kindly. The author is a
reference to her people row: her /mydata shows her broadcasts, /forgetme unnames them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.sandbox import Cast, Sandbox
from storage.models import Person
from storage.models.broadcast import Broadcast
from tests.test_broadcast_e2e import (
    DONE,
    button,
    control_message,
    copies_to,
    eventually,
    finished,
    start_everyone,
)


async def ready_to_send(box: Sandbox, mette: Any, text: str) -> tuple[Any, str]:
    """`/broadcast <text>` to the volunteers, not important: the control message and its
    "Send now" data, not yet tapped."""
    before = len(box.fake.messages_to(mette.id))
    await box.say(mette, f"/broadcast {text}")
    control = await eventually(lambda: control_message(box, mette.id, before))
    await box.tap(mette, control, button(control, "broadcast:aud:", ":volunteers"))
    await box.tap(mette, control, button(control, "broadcast:imp:", ":0"))
    assert "Klar til at sende" in control.text
    return control, button(control, "broadcast:send:")


def last_answer(box: Sandbox) -> str:
    return box.fake.calls_to("answerCallbackQuery")[-1].params.get("text", "")


async def test_send_carries_a_token_and_a_second_tap_sends_nothing_more(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    await start_everyone(box, cast)
    control, send = await ready_to_send(box, mette, "Husk kurset på tirsdag")
    token = send.removeprefix("broadcast:send:")
    assert len(token) >= 16 and not token.isdigit()  # no row id to guess or replay
    await box.tap(mette, control, send)
    report = await finished(box, control)
    await box.forge_tap(mette, control, send)  # a late double tap
    await box.fake.wait_until_idle()
    assert "allerede på vej" in last_answer(box)
    assert control.text == report and report.startswith(DONE)
    assert [len(copies_to(box, v.id)) for v in cast.volunteers] == [1, 1, 1, 1]


async def test_an_older_drafts_button_and_a_day_old_one_send_nothing(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    await start_everyone(box, cast)
    old, old_send = await ready_to_send(box, mette, "Første udkast")
    new, new_send = await ready_to_send(box, mette, "Andet udkast")
    await box.tap(mette, old, old_send)  # the first draft's button, superseded
    assert "nyeste" in last_answer(box)
    assert box.fake.calls_to("copyMessage") == []
    assert "Klar til at sende" in new.text  # the newer question is left as it was

    box.clock.advance(timedelta(hours=25))  # she comes back to it the next day
    await box.tap(mette, new, new_send)
    assert "mere end et døgn gammelt" in new.text and new.buttons == []
    assert box.fake.calls_to("copyMessage") == []


async def test_the_author_sees_her_broadcast_in_mydata_and_forgetme_keeps_it_unnamed(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    await start_everyone(box, cast)
    control, send = await ready_to_send(box, mette, "Julefrokost fredag")
    await box.tap(mette, control, send)
    await finished(box, control)
    async with box.services.db.transaction() as session:
        mette_id = await session.scalar(
            select(Person.id).where(Person.telegram_user_id == mette.id)
        )

    # Her own /mydata lists the broadcast she wrote, pointing at her people row.
    await box.say(mette, "/mydata")
    document = box.fake.messages_to(mette.id)[-1].document
    assert document is not None
    export = json.loads(box.fake.files[document["file_id"]].content)
    [written] = export["tables"]["broadcasts"]
    assert written["author_id"] == mette_id and written["status"] == "done"
    assert "created_by" not in written  # no bare Telegram id any more

    # /forgetme: she is gone; the broadcast stays, naming nobody, not even her chat.
    await box.say(mette, "/forgetme")
    question = box.fake.messages_to(mette.id)[-1]
    await box.tap(
        mette,
        question,
        next(b["callback_data"] for b in question.buttons if "forget" in b["callback_data"]),
    )
    async with box.services.db.transaction() as session:
        assert await session.scalar(select(Person.id).where(Person.id == mette_id)) is None
        broadcast = await session.scalar(select(Broadcast))
        assert broadcast is not None and broadcast.status == "done"
        assert broadcast.author_id is None and broadcast.source_chat_id is None
