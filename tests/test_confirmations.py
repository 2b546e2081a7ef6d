"""Confirmation buttons carry a single-use token, never a row id: a stale one acts on
nobody, even after a newcomer got the forgotten person's place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain import confirmations, people, rights
from bot.domain.confirmations import Kind, Refusal
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Cast, Sandbox
from storage.db import Database
from storage.models import Pause, Person

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN).astimezone(UTC)
COORDINATOR, CHAT = 1001, 1001


async def person(db: Database, user_id: int, name: str) -> tuple[int, int]:
    async with db.transaction() as session:
        group = await people.ensure_group(session, -1, NOW)
        who = people.TelegramPerson(user_id, name, name.lower(), "da")
        row = await people.record_member(session, group.id, who, NOW, started_bot=True)
        return group.id, row.id


async def offer(db: Database, group_id: int, person_id: int, at: datetime = NOW) -> str:
    async with db.transaction() as session:
        await confirmations.supersede(session, group_id, (Kind.FORGET,), COORDINATOR, at)
        return await confirmations.offer(
            session,
            group_id,
            Kind.FORGET,
            actor_user_id=COORDINATOR,
            chat_id=CHAT,
            now=at,
            person_id=person_id,
        )


async def take(
    db: Database, group_id: int, token: str, *, at: datetime = NOW, actor: int = COORDINATOR
) -> confirmations.Pending | Refusal:
    async with db.transaction() as session:
        return await confirmations.take(
            session, group_id, token, (Kind.FORGET,), actor_user_id=actor, chat_id=actor, now=at
        )


async def test_a_token_is_used_once_by_the_one_it_was_shown_to(database: Database):
    group_id, bo = await person(database, 2002, "Bo")
    token = await offer(database, group_id, bo)
    assert len(token) >= 22
    assert await take(database, group_id, token, actor=2002) is Refusal.NOT_YOURS
    taken = await take(database, group_id, token)
    assert isinstance(taken, confirmations.Pending) and taken.subject_person_id == bo
    assert await take(database, group_id, token) is Refusal.USED
    assert await take(database, group_id, "A" * 22) is Refusal.UNKNOWN


async def test_expired_after_a_day_and_superseded_by_a_newer_question(database: Database):
    group_id, bo = await person(database, 2002, "Bo")
    old = await offer(database, group_id, bo)
    later = NOW + timedelta(hours=1)
    newer = await offer(database, group_id, bo, at=later)
    assert await take(database, group_id, old, at=later) is Refusal.SUPERSEDED
    day_later = later + timedelta(hours=24)
    assert await take(database, group_id, newer, at=day_later) is Refusal.EXPIRED


async def test_people_ids_are_never_given_out_again(database: Database):
    group_id, bo = await person(database, 2002, "Bo")
    token = await offer(database, group_id, bo)
    async with database.transaction() as session:
        await rights.forget_person(session, group_id, bo, NOW)
    _group, eva = await person(database, 2005, "Eva")
    assert eva != bo
    # The question about Bo went with him: it finds nobody, and never Eva.
    assert await take(database, group_id, token) is Refusal.UNKNOWN


# End to end ------------------------------------------------------------------------------


def data_of(message: Any, text: str) -> str:
    return next(b["callback_data"] for b in message.buttons if b["text"].startswith(text))


async def bo_forgets_himself_and_eva_joins(
    box: Sandbox, bo: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, int, int]:
    """Bo forgets himself, and Eva joins and gets his very id, as SQLite gave it out before
    people's ids were kept from reuse: the old buttons must still find nobody, because
    they carry a token that went with Bo, not his id."""
    async with box.services.db.transaction() as session:
        bo_id = await session.scalar(select(Person.id).where(Person.telegram_user_id == bo.id))
    assert bo_id is not None
    await box.say(bo, "/forgetme")
    question = box.fake.last_message_to(bo.id)
    await box.tap(bo, question, data_of(question, "Ja"))

    async def bos_id(_session: Any) -> int:
        return bo_id

    monkeypatch.setattr(confirmations, "next_person_id", bos_id)
    eva = box.fake.add_user(2005, "Eva", username="eva")
    box.fake.join(GROUP_CHAT_ID, eva)
    await box.settle()
    await box.say(eva, "/start")
    async with box.services.db.transaction() as session:
        eva_id = await session.scalar(select(Person.id).where(Person.telegram_user_id == eva.id))
    assert eva_id == bo_id, "Eva has Bo's old id"
    return eva, bo_id, eva_id


async def test_a_stale_forget_button_deletes_nobody(
    group: tuple[Sandbox, Cast], monkeypatch: pytest.MonkeyPatch
):
    box, cast = group
    mette, bo = cast.coordinator, cast.volunteers[1]
    for user in (mette, bo):
        await box.say(user, "/start")
    await box.say(mette, "/forgetme @bo_frivillig")
    stale = box.fake.last_message_to(mette.id)
    _eva, _bo_id, eva_id = await bo_forgets_himself_and_eva_joins(box, bo, monkeypatch)

    told = len(box.fake.messages_to(mette.id))
    await box.tap(mette, stale, data_of(stale, "Ja"))
    async with box.services.db.transaction() as session:
        assert await session.get(Person, eva_id) is not None
    assert "ikke mere at gøre" in stale.text and not stale.buttons
    assert len(box.fake.messages_to(mette.id)) == told


async def test_a_stale_pause_picker_pauses_nobody(
    group: tuple[Sandbox, Cast], monkeypatch: pytest.MonkeyPatch
):
    box, cast = group
    mette, bo = cast.coordinator, cast.volunteers[1]
    for user in (mette, bo):
        await box.say(user, "/start")
    await box.say(mette, "/pausevolunteer")
    picker = box.fake.last_message_to(mette.id)
    eva, _bo_id, _eva_id = await bo_forgets_himself_and_eva_joins(box, bo, monkeypatch)
    told_eva = len(box.fake.messages_to(eva.id))
    told_mette = len(box.fake.messages_to(mette.id))

    await box.tap(mette, picker, data_of(picker, "Bo"))
    # Not even asked for how long Eva's pause should be: the button says it is spent.
    assert "ikke mere at gøre" in picker.text and not picker.buttons
    assert len(box.fake.messages_to(mette.id)) == told_mette
    async with box.services.db.transaction() as session:
        assert list(await session.scalars(select(Pause))) == []
    assert len(box.fake.messages_to(eva.id)) == told_eva


async def test_the_second_tap_and_an_older_list_do_nothing(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    for user in (mette, anna):
        await box.say(user, "/start")
    await box.say(mette, "/pausevolunteer")
    older = box.fake.last_message_to(mette.id)
    await box.say(mette, "/pausevolunteer")
    newer = box.fake.last_message_to(mette.id)
    await box.tap(mette, older, data_of(older, "Anna"))
    assert "nyeste" in older.text
    await box.tap(mette, newer, data_of(newer, "Anna"))
    lengths = box.fake.last_message_to(mette.id)
    one_month = data_of(lengths, "1 måned")
    await box.tap(mette, lengths, data_of(lengths, "2 uger"))
    assert "Anna holder nu pause" in box.last_text_to(mette.id)
    await box.forge_tap(mette, lengths, one_month)  # the same token, a second time
    async with box.services.db.transaction() as session:
        assert len(list(await session.scalars(select(Pause)))) == 1


async def test_a_coordinator_cannot_be_put_on_a_pause(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette = cast.coordinator
    await box.say(mette, "/start")
    await box.say(mette, "/pausevolunteer @mette_koordinator")
    assert "koordinator" in box.last_text_to(mette.id)
    async with box.services.db.transaction() as session:
        assert list(await session.scalars(select(Pause))) == []


async def test_ending_a_match_takes_its_token_once_and_never_a_row_id(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    for user in (mette, anna):
        await box.say(user, "/start")
    await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
    await box.say(mette, "/endmatch")
    picker = box.fake.last_message_to(mette.id)
    await box.forge_tap(mette, picker, "matches:end:1")  # the old form: a row id
    assert "slut" not in box.last_text_to(anna.id)
    token = data_of(picker, "K.L.")
    await box.tap(mette, picker, token)
    assert "slut" in box.last_text_to(anna.id)
    told = len(box.fake.messages_to(anna.id))
    await box.forge_tap(mette, picker, token)  # a second tap
    assert len(box.fake.messages_to(anna.id)) == told
