"""Each Telegram update is handled once: not lost when the bot dies mid-update (it is
confirmed to Telegram only after handling), and not handled twice when it comes again."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from telegram import Update

from bot.domain import people
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


async def test_a_start_whose_registration_fails_once_welcomes_once_and_registers(
    group: tuple[Sandbox, Cast], monkeypatch: pytest.MonkeyPatch
):
    """The welcome goes before the writes; the database failing after it (the update is
    tried again) must not welcome the person a second time, nor lose them."""
    box, cast = group
    anna = cast.volunteers[0]
    record_member = people.record_member
    failures = []

    async def fails_once(*args: Any, **kwargs: Any) -> Person:
        if not failures:
            failures.append(1)
            raise OperationalError("INSERT INTO people", {}, Exception("disk I/O error"))
        return await record_member(*args, **kwargs)

    monkeypatch.setattr(people, "record_member", fails_once)
    await box.say(anna, "/start")
    assert failures == [1], "the database never failed: the test proves nothing"
    welcomes = [m for m in box.fake.messages_to(anna.id) if anna.first_name in m.text]
    assert len(welcomes) == 1, "welcomed once per try instead of once"
    async with box.services.db.transaction() as session:
        registered = await session.scalar(
            select(func.count()).select_from(Person).where(Person.telegram_user_id == anna.id)
        )
    assert registered == 1
