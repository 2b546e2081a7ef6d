"""Each Telegram update is handled once: not lost when the bot dies mid-update (it is
confirmed to Telegram only after handling), and not handled twice when it comes again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select
from telegram import Update

from bot.sandbox import Cast, Sandbox
from storage.models import Person
from storage.models.updates import HandledUpdate


async def test_an_update_delivered_again_is_handled_once(group: tuple[Sandbox, Cast]):
    box, cast = group
    anna = cast.volunteers[0]
    await box.say(anna, "/start")
    assert len(box.fake.messages_to(anna.id)) == 1
    # Telegram delivers the same update again (the confirmation never reached it).
    again = Update.de_json(box.fake.updates[-1], box.app.bot)
    await box.app.process_update(again)
    await box.settle()
    assert len(box.fake.messages_to(anna.id)) == 1, "the welcome was sent twice"


async def test_an_update_is_confirmed_only_after_it_was_handled(group: tuple[Sandbox, Cast]):
    box, cast = group
    anna = cast.volunteers[0]
    # Telegram is slow to take the welcome: the bot is in the middle of the update.
    box.fake.timeout_next("sendMessage", delay=1.0)
    box.fake.send_text(anna, anna.id, "/start")
    await box.fake.wait_for(lambda call: call.method == "sendMessage", timeout=5)
    await asyncio.sleep(0.2)  # the Updater would have confirmed by now, were it allowed to
    assert [u["update_id"] for u in box.fake.pending_updates] == [box.fake.updates[-1]["update_id"]]
    await box.settle()
    assert box.fake.pending_updates == []


async def test_the_record_of_handled_updates_is_kept_two_days(group: tuple[Sandbox, Cast]):
    box, cast = group
    await box.say(cast.volunteers[0], "/start")
    await box.say(cast.volunteers[1], "/start")

    async def recorded() -> int:
        async with box.services.db.transaction() as session:
            return await session.scalar(select(func.count()).select_from(HandledUpdate)) or 0

    assert await recorded() == 2
    await box.advance(timedelta(days=2, minutes=1))
    assert await recorded() == 0
    async with box.services.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 2
