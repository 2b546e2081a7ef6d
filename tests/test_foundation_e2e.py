"""End to end: the real Application over HTTP against the fake Bot API server."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox, sandbox
from storage.models import Group, Person


async def people_rows(box: Sandbox) -> list[Person]:
    async with box.services.db.transaction() as session:
        return list(await session.scalars(select(Person)))


async def test_start_registers_a_group_member_and_welcomes_in_danish(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna = cast.volunteers[0]
    await box.say(anna, "/start")
    welcome = box.last_text_to(anna.id)
    assert "Velkommen, Anna" in welcome
    assert "/pause" in welcome or "/help" in welcome
    rows = await people_rows(box)
    registered = [(p.telegram_user_id, p.started_bot, p.language) for p in rows]
    assert registered == [(anna.id, True, "da")]


async def test_english_telegram_user_is_answered_in_english(group: tuple[Sandbox, Cast]):
    box, cast = group
    camilla = cast.volunteers[2]
    await box.say(camilla, "/start")
    assert "Welcome, Camilla" in box.last_text_to(camilla.id)


async def test_in_the_group_an_english_speaker_is_answered_in_the_groups_language(
    group: tuple[Sandbox, Cast],
):
    """An answer in another language would single her out in front of the group."""
    box, cast = group
    camilla = cast.volunteers[2]  # her Telegram is in English
    await box.say(camilla, "/start")
    assert "Welcome, Camilla" in box.last_text_to(camilla.id)
    await box.say(camilla, "/pause", in_group=True)
    answer = box.fake.messages_to(GROUP_CHAT_ID)[-1]
    assert answer["text"] == "Lad os tale privat. Tryk på knappen for at åbne vores private chat."
    assert answer["reply_markup"]["inline_keyboard"][0][0]["text"] == "Åbn en privat chat"


async def test_stranger_is_refused_kindly_and_nothing_is_stored(group: tuple[Sandbox, Cast]):
    box, cast = group
    await box.say(cast.stranger, "/start")
    assert "only help its members" in box.last_text_to(cast.stranger.id)  # English Telegram
    assert await people_rows(box) == []
    # Even a stranger's other messages store nothing and get a kind answer.
    await box.say(cast.stranger, "/help")
    assert await people_rows(box) == []


async def test_help_in_group_points_to_the_private_chat(group: tuple[Sandbox, Cast]):
    box, cast = group
    await box.say(cast.volunteers[1], "/help", in_group=True)
    message = box.fake.messages_to(GROUP_CHAT_ID)[-1]
    assert "privat" in message["text"]
    button = message["reply_markup"]["inline_keyboard"][0][0]
    assert button["url"] == f"https://t.me/{box.fake.bot['username']}?start=help"


async def test_coordinator_sees_coordinator_commands_and_volunteer_does_not(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    await box.say(cast.coordinator, "/start")
    await box.say(cast.volunteers[0], "/start")
    assert "/volunteers" in box.last_text_to(cast.coordinator.id)
    assert "/volunteers" not in box.last_text_to(cast.volunteers[0].id)


async def test_coordinator_only_command_refuses_a_volunteer(group: tuple[Sandbox, Cast]):
    box, cast = group
    anna = cast.volunteers[0]
    await box.say(anna, "/start")
    await box.say(anna, "/volunteers")
    assert "kun koordinatoren" in box.last_text_to(anna.id)


async def test_volunteer_list_for_the_coordinator(group: tuple[Sandbox, Cast]):
    box, cast = group
    await box.say(cast.volunteers[0], "/start")
    box.fake.join(GROUP_CHAT_ID, box.fake.add_user(2005, "Eva", username="eva"))
    await box.settle()
    await box.say(cast.coordinator, "/volunteers")
    text = box.last_text_to(cast.coordinator.id)
    assert "Anna" in text and "Eva" in text
    assert "ikke startet" in text  # Eva joined but never opened the private chat


async def test_joining_and_leaving_keep_the_member_list_current(group: tuple[Sandbox, Cast]):
    box, cast = group
    bo = cast.volunteers[1]
    await box.say(bo, "/start")
    box.fake.leave(GROUP_CHAT_ID, bo)
    await box.settle()
    [row] = await people_rows(box)
    assert row.is_member is False and row.left_at is not None
    # Someone who left is no longer a volunteer and is told so kindly.
    await box.say(bo, "/start")
    assert "kun hjælpe dens medlemmer" in box.last_text_to(bo.id)


async def test_bot_added_to_another_group_says_so_once_and_leaves(group: tuple[Sandbox, Cast]):
    box, cast = group
    other = -555
    box.fake.add_group(other, "Another group")
    box.fake.add_bot_to_group(other, cast.stranger)
    await box.settle()
    assert len(box.fake.messages_to(other)) == 1
    assert box.fake.calls_to("leaveChat")[-1].params["chat_id"] == other


async def test_message_in_another_group_makes_the_bot_leave(group: tuple[Sandbox, Cast]):
    box, cast = group
    other = -777
    box.fake.add_group(other, "Somewhere else")
    box.fake.set_bot_status(other, "member")
    box.fake.set_member(other, cast.stranger.id, "member")
    await box.say(cast.stranger, "hej", in_group=False)  # warms up nothing in the group
    box.fake.send_text(cast.stranger, other, "/help")
    await box.settle()
    assert [c.params["chat_id"] for c in box.fake.calls_to("leaveChat")] == [other]


async def test_group_upgraded_to_supergroup_keeps_working(tmp_path):
    async with sandbox(tmp_path / "db.sqlite3", supergroup=False) as (box, cast):
        await check_upgrade(box, cast)


async def check_upgrade(box: Sandbox, cast: Cast) -> None:
    new_id = -100_999_888
    box.fake.migrate_group_to_supergroup(GROUP_CHAT_ID, new_id)
    await box.settle()
    assert box.services.group_chat_id == new_id
    async with box.services.db.transaction() as session:
        [row] = list(await session.scalars(select(Group)))
    assert (row.chat_id, row.previous_chat_id) == (new_id, GROUP_CHAT_ID)
    # Membership checks now go to the new id and still let members in.
    await box.say(cast.volunteers[0], "/start")
    assert "Velkommen" in box.last_text_to(cast.volunteers[0].id)
    # And the bot does not leave its own (new) group, and writes to it under its new id.
    assert box.fake.calls_to("leaveChat") == []
    box.fake.send_text(cast.volunteers[0], new_id, "/help")
    await box.settle()
    assert "privat" in box.last_text_to(new_id)


async def test_state_survives_a_restart(group: tuple[Sandbox, Cast]):
    box, cast = group
    await box.say(cast.volunteers[0], "/start")
    await box.restart_bot()
    assert [p.telegram_user_id for p in await people_rows(box)] == [cast.volunteers[0].id]


async def test_command_menus_are_published_in_danish_and_english(group: tuple[Sandbox, Cast]):
    box, _ = group
    calls = box.fake.calls_to("setMyCommands")
    languages = {c.params.get("language_code") for c in calls}
    assert languages == {None, "en"}
    scopes = {c.params["scope"]["type"] for c in calls}
    assert {"all_private_chats", "all_group_chats", "chat"} <= scopes


async def test_no_test_can_reach_api_telegram_org():
    with pytest.raises(OSError, match="only loopback"):
        await asyncio.get_running_loop().getaddrinfo("api.telegram.org", 443)


async def test_unknown_private_messages_get_a_kind_pointer(group: tuple[Sandbox, Cast]):
    box, cast = group
    anna = cast.volunteers[0]
    await box.say(anna, "/start")
    await box.say(anna, "hvad kan du?")
    assert "/help" in box.last_text_to(anna.id)
    await box.say(cast.volunteers[3], "hej")  # a member who never sent /start
    assert "/start" in box.last_text_to(cast.volunteers[3].id)
    await box.say(cast.stranger, "hello?")
    assert "only help its members" in box.last_text_to(cast.stranger.id)
    assert cast.stranger.id not in [p.telegram_user_id for p in await people_rows(box)]
