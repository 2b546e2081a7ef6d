"""The fake Bot API server, driven by the real python-telegram-bot client over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    ApplicationBuilder,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    PollAnswerHandler,
)
from telegram.request import HTTPXRequest

from bot.fake_telegram import FakeTelegram, FakeUser

pytestmark = [
    pytest.mark.asyncio,
    # PTB's own notices (RetryAfter.retry_after type change, do_api_request for known methods)
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBUserWarning"),
]

GROUP = -4001
SPEC_FILE = Path(__file__).resolve().parents[1] / "bot" / "fake_telegram" / "api.min.json"
# Where the fakes of a run of this module write the types they answered with (set by
# `test_every_type_the_bot_needs_was_answered`, which runs the module in a process of its own).
SEEN_TYPES_FILE = "PEERBOT_FAKE_SEEN_TYPES"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server
        assert server.spec_violations == [], "a request broke the Bot API spec"
        problems, seen = _check_answers(server)
        assert problems == [], "an answer lacks a field the Bot API requires"
        _note_seen(seen)


def _note_seen(seen: set[str]) -> None:
    if os.environ.get(SEEN_TYPES_FILE):
        with open(os.environ[SEEN_TYPES_FILE], "a", encoding="utf-8") as out:
            out.writelines(f"{name}\n" for name in sorted(seen))


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    request = HTTPXRequest(read_timeout=2.0, connect_timeout=1.0)
    async with Bot(
        fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        request=request,
        get_updates_request=HTTPXRequest(read_timeout=2.0),
    ) as client:
        yield client


@pytest.fixture
def anna(fake: FakeTelegram) -> FakeUser:
    return fake.add_user(1001, "Anna", username="anna")


@pytest.fixture
def group(fake: FakeTelegram, anna: FakeUser) -> int:
    fake.add_group(GROUP, "Frivillige")
    fake.set_member(GROUP, anna.id, "creator")
    fake.set_bot_status(GROUP, "administrator")
    return GROUP


def kinds(updates: tuple[Update, ...]) -> list[str]:
    return [next(k for k in u.to_dict() if k != "update_id") for u in updates]


async def test_get_me_and_deep_link(fake: FakeTelegram, bot: Bot):
    me = await bot.get_me()
    assert (me.id, me.username, me.first_name, me.is_bot) == (
        123456,
        "peerbot_demo_bot",
        "PeerBot",
        True,
    )
    assert me.can_read_all_group_messages is False  # privacy mode, like a fresh bot
    assert fake.bot["username"] == "peerbot_demo_bot"
    assert fake.deep_link("abc") == "https://t.me/peerbot_demo_bot?start=abc"
    assert fake.calls_to("getMe")[-1].ok


async def test_private_chat_needs_start_and_respects_block(
    fake: FakeTelegram, bot: Bot, anna: FakeUser
):
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(anna.id, "Hej")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(424242, "Hej")
    fake.start_bot(anna, "invite")
    message = await bot.send_message(anna.id, "Hej <b>Anna</b>", parse_mode="HTML")
    assert message.text == "Hej Anna" and message.entities[0].type == "bold"
    sent = fake.last_message_to(anna.id)
    assert sent is not None and sent["text"] == "Hej Anna" and sent.text == "Hej Anna"
    fake.block(anna)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(anna.id, "Hej igen")
    assert [m.text for m in fake.messages_to(anna.id)] == ["Hej Anna"]
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        fake.unblock(anna)
        await bot.send_message(anna.id, "1 < 2 <b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)reserved"):
        await bot.send_message(anna.id, "Slut.", parse_mode="MarkdownV2")


async def test_allowed_updates_are_sticky(fake: FakeTelegram, bot: Bot, anna: FakeUser, group: int):
    bo = fake.add_user(1002, "Bo")
    fake.set_member(group, bo.id)
    poll_message = await bot.send_poll(group, "Møde?", ["Ja", "Nej"], is_anonymous=False)

    # Default: chat_member is not delivered (it is dropped when created, as on Telegram).
    fake.join(group, fake.add_user(1003, "Carl"))
    assert kinds(await bot.get_updates(timeout=0)) == ["message"]  # the join service message

    # Narrowed to messages; later calls without allowed_updates keep that list.
    updates = await bot.get_updates(allowed_updates=["message"], timeout=0)
    offset = updates[-1].update_id + 1
    fake.answer_poll(bo, poll_message.poll.id, [0])
    fake.send_text(anna, group, "/status")
    updates = await bot.get_updates(offset=offset, timeout=0)
    assert kinds(updates) == ["message"]
    assert fake.allowed_updates == ["message"]

    offset = updates[-1].update_id + 1
    await bot.get_updates(offset=offset, allowed_updates=["message", "chat_member", "poll_answer"])
    fake.answer_poll(anna, poll_message.poll.id, [1])
    fake.leave(group, bo)
    updates = await bot.get_updates(offset=offset, timeout=0)
    assert kinds(updates) == ["poll_answer", "chat_member", "message"]
    answer = updates[0].poll_answer
    assert (answer.user.id, answer.option_ids) == (anna.id, (1,))
    member = updates[1].chat_member
    assert (member.old_chat_member.status, member.new_chat_member.status) == ("member", "left")
    assert [kind for kind, _ in fake.dropped_updates].count("chat_member") == 1


async def test_chat_member_updates_need_an_admin_bot(fake: FakeTelegram, bot: Bot, group: int):
    await bot.get_updates(allowed_updates=["chat_member", "message"], timeout=0)
    fake.set_bot_status(group, "member")
    fake.join(group, fake.add_user(1004, "Dina"))
    assert kinds(await bot.get_updates(timeout=0)) == ["message"]


async def test_privacy_mode_decides_what_group_messages_reach_the_bot(
    fake: FakeTelegram, bot: Bot, anna: FakeUser, group: int
):
    fake.set_bot_status(group, "member")  # not an admin: privacy mode applies
    mine = await bot.send_message(group, "Spørgsmål?")
    fake.send_text(anna, group, "bare snak")
    fake.send_text(anna, group, "/status@other_bot")
    fake.send_text(anna, group, "/status@peerbot_demo_bot")
    fake.send_text(anna, group, "svar", reply_to=mine.message_id)
    texts = [u.message.text for u in await bot.get_updates(timeout=0)]  # type: ignore[union-attr]
    assert texts == ["/status@peerbot_demo_bot", "svar"]


async def test_text_is_trimmed_and_formatted_like_telegram(
    fake: FakeTelegram, bot: Bot, anna: FakeUser
):
    fake.start_bot(anna)
    message = await bot.send_message(anna.id, "  <b>Hej</b> med dig\n\n", parse_mode="HTML")
    assert message.text == "Hej med dig" and message.entities[0].length == 3
    quote = await bot.send_message(anna.id, ">citat\nefter", parse_mode="MarkdownV2")
    assert quote.text == "citat\nefter" and quote.entities[0].length == 5
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(anna.id, "<b> </b>", parse_mode="HTML")


async def test_long_poll_returns_an_update_queued_during_the_wait(
    fake: FakeTelegram, bot: Bot, anna: FakeUser
):
    started = time.monotonic()
    polling = asyncio.create_task(bot.get_updates(timeout=1))
    await asyncio.sleep(0.1)  # the request is now waiting inside the server
    fake.send_text(anna, anna.id, "hej")
    updates = await polling
    assert [u.message.text for u in updates] == ["hej"]
    assert time.monotonic() - started < 0.8
    # Not confirmed yet: a poll without offset gets it again; the offset confirms it.
    assert len(fake.pending_updates) == 1
    await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert fake.pending_updates == []


async def test_a_newer_long_poll_terminates_the_older_one(fake: FakeTelegram, bot: Bot):
    other = Bot(fake.token, base_url=fake.base_url, get_updates_request=HTTPXRequest())
    async with other:
        first = asyncio.create_task(other.get_updates(timeout=2))
        await asyncio.sleep(0.1)
        assert await bot.get_updates(timeout=0) == ()
        with pytest.raises(Exception, match="terminated by other getUpdates"):
            await first


async def test_application_polling_with_handlers(fake: FakeTelegram, anna: FakeUser, group: int):
    seen: list[str] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"Velkommen {context.args}")

    async def member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.chat_member is not None
        seen.append(str(update.chat_member.new_chat_member.status))

    async def voted(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(f"vote {list(update.poll_answer.option_ids)}")  # type: ignore[union-attr]

    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(ChatMemberHandler(member, ChatMemberHandler.CHAT_MEMBER))
    app.add_handler(PollAnswerHandler(voted))
    async with app:
        await app.start()
        await app.updater.start_polling(allowed_updates=Update.ALL_TYPES, timeout=1)  # type: ignore[union-attr]
        # Telegram drops a chat_member update until a getUpdates has asked for that kind:
        # wait for the first fetch, not for a quiet moment (which can come before it).
        await fake.wait_for(lambda call: call.method == "getUpdates")
        fake.start_bot(anna, "abc")
        fake.join(group, fake.add_user(1005, "Eva"))
        await fake.wait_until_idle(quiet=0.05)
        poll = await app.bot.send_poll(group, "Q", ["a", "b"], is_anonymous=False)
        fake.answer_poll(anna, poll.poll.id, [1])
        await fake.wait_until_idle(quiet=0.05)
        await app.updater.stop()  # type: ignore[union-attr]
        await app.stop()
    assert fake.last_message_to(anna.id).text == "Velkommen ['abc']"  # type: ignore[union-attr]
    assert seen == ["member", "vote [1]"]
    assert "chat_member" in fake.calls_to("getUpdates")[-1].params["allowed_updates"]
    assert fake.pending_updates == []


async def test_documents_round_trip_through_get_file(fake: FakeTelegram, bot: Bot, anna: FakeUser):
    fake.send_document(anna, anna.id, b"%PDF-1.4 referat", "referat.pdf", caption="Referat")
    [update] = await bot.get_updates(timeout=0)
    document = update.message.document  # type: ignore[union-attr]
    assert (document.file_name, document.mime_type) == ("referat.pdf", "application/pdf")
    file = await bot.get_file(document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4 referat"

    # Uploads from the bot (multipart/form-data) are stored and downloadable too.
    sent = await bot.send_document(
        anna.id,
        b"a,b\n1,2\n",
        filename="liste.csv",
        caption="<i>Liste</i>",
        parse_mode="HTML",
        protect_content=True,
    )
    assert sent.caption == "Liste" and sent.has_protected_content
    record = fake.last_message_to(anna.id)
    assert record is not None and record.protect_content and record.document is not None
    assert fake.files[record.document["file_id"]].content == b"a,b\n1,2\n"
    again = await bot.send_document(anna.id, sent.document.file_id)  # re-send by file_id
    assert again.document.file_unique_id == sent.document.file_unique_id
    photo = await bot.send_photo(anna.id, b"\x89PNG fake", caption="Billede")
    assert photo.photo[-1].width == 800
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("nope")


async def test_polls_count_votes_and_stop(fake: FakeTelegram, bot: Bot, anna: FakeUser, group: int):
    message = await bot.send_poll(group, "Hvornår?", ["Tirsdag", "Torsdag"])
    assert message.poll.is_anonymous is True  # Telegram's default
    fake.answer_poll(anna, message.poll.id, [1])
    poll = await bot.stop_poll(group, message.message_id)
    assert poll.is_closed and poll.total_voter_count == 1
    assert [o.voter_count for o in poll.options] == [0, 1]
    assert fake.last_message_to(group).poll["is_closed"] is True  # type: ignore[index,union-attr]
    with pytest.raises(BadRequest, match=r"(?i)already been closed"):
        await bot.stop_poll(group, message.message_id)
    with pytest.raises(ValueError, match="closed"):
        fake.answer_poll(anna, message.poll.id, [0])
    updates = await bot.get_updates(timeout=0)
    # Anonymous: no poll_answer, but `poll` updates with the counts, then the stop.
    assert kinds(updates) == ["poll", "poll"]
    assert updates[-1].poll.is_closed  # type: ignore[union-attr]


async def test_buttons_edits_and_deletes(fake: FakeTelegram, bot: Bot, anna: FakeUser, group: int):
    fake.start_bot(anna)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="yes")]])
    message = await bot.send_message(anna.id, "Kommer du?", reply_markup=keyboard)
    sent = fake.last_message_to(anna.id)
    assert sent is not None and sent.buttons == [{"text": "Ja", "callback_data": "yes"}]
    query = fake.tap_button(anna, sent, "yes")
    assert await bot.answer_callback_query(query["id"], text="Tak!")
    assert fake.callback_answers[query["id"]]["text"] == "Tak!"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query["id"])
    with pytest.raises(ValueError, match="no button"):
        fake.tap_button(anna, sent, "maybe")
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text(
            "Kommer du?", anna.id, message.message_id, reply_markup=keyboard
        )
    await bot.edit_message_text("Tak for svar", anna.id, message.message_id)
    assert sent.text == "Tak for svar" and sent.reply_markup is None  # keyboard removed
    assert sent.edits[0]["text"] == "Kommer du?"

    fake.set_bot_status(group, "member")
    theirs = fake.send_text(anna, group, "/hej")
    with pytest.raises(BadRequest, match=r"(?i)can't be deleted"):
        await bot.delete_message(group, theirs["message_id"])
    mine = await bot.send_message(group, "Hej alle")
    assert await bot.delete_message(group, mine.message_id)
    assert fake.last_message_to(group).deleted  # type: ignore[union-attr]
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(group, mine.message_id)
    copied = await bot.copy_message(anna.id, group, theirs["message_id"])
    assert fake.last_message_to(anna.id).message_id == copied.message_id  # type: ignore[union-attr]
    forwarded = await bot.forward_message(anna.id, group, theirs["message_id"])
    assert forwarded.forward_origin.sender_user.id == anna.id  # type: ignore[union-attr]
    updates = await bot.get_updates(timeout=0)
    assert kinds(updates) == ["message", "callback_query", "message"]
    assert updates[1].callback_query.message.text == "Kommer du?"  # type: ignore[union-attr]


async def test_chats_members_and_leaving(fake: FakeTelegram, bot: Bot, anna: FakeUser, group: int):
    chat = await bot.get_chat(group)
    assert (chat.title, chat.type) == ("Frivillige", "group")
    assert (await bot.get_chat_member(group, anna.id)).status == "creator"
    fake.add_user(1006, "Frode")
    assert (await bot.get_chat_member(group, 1006)).status == "left"
    admins = await bot.get_chat_administrators(group)
    assert {a.user.id for a in admins} == {anna.id, fake.bot.id}
    fake.add_group(-4002, "Anden gruppe")
    fake.add_bot_to_group(-4002, anna)
    assert await bot.leave_chat(-4002)
    with pytest.raises(Forbidden, match="not a member of the group chat"):
        await bot.send_message(-4002, "Hej?")
    updates = await bot.get_updates(timeout=0)
    assert kinds(updates) == ["my_chat_member", "message", "my_chat_member"]
    assert updates[-1].my_chat_member.new_chat_member.status == "left"  # type: ignore[union-attr]


async def test_commands_are_stored_per_scope_and_language(fake: FakeTelegram, bot: Bot):
    from telegram import BotCommand, BotCommandScopeAllPrivateChats

    private = BotCommandScopeAllPrivateChats()
    await bot.set_my_commands([BotCommand("start", "Start")], scope=private, language_code="da")
    await bot.set_my_commands([BotCommand("help", "Hjælp")])
    assert [c.command for c in await bot.get_my_commands(scope=private, language_code="da")] == [
        "start"
    ]
    assert await bot.get_my_commands(scope=private) == ()
    assert fake.commands() == [{"command": "help", "description": "Hjælp"}]
    assert await bot.delete_my_commands()
    assert fake.commands() == []
    assert fake.calls_to("setMyCommands")[0].params["scope"] == {"type": "all_private_chats"}
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start", "Start")])
    assert await bot.set_webhook("https://example.invalid/hook", allowed_updates=["message"])
    info = await bot.get_webhook_info()
    assert info.url == "https://example.invalid/hook" and fake.allowed_updates == ["message"]
    with pytest.raises(Exception, match="webhook is active"):
        await bot.get_updates(timeout=0)
    assert await bot.delete_webhook()


async def test_rate_limits_answer_429_with_an_honest_retry_after(
    fake: FakeTelegram, bot: Bot, anna: FakeUser, group: int
):
    fake.start_bot(anna)
    fake.enforce_rate_limits(True, private_burst=2, group_per_minute=3)
    await bot.send_message(anna.id, "1")
    await bot.send_message(anna.id, "2")
    with pytest.raises(RetryAfter, match="Retry in 1 seconds"):
        await bot.send_message(anna.id, "3")
    for n in range(3):
        await bot.send_message(group, f"g{n}")
    with pytest.raises(RetryAfter, match="Retry in 20 seconds"):
        await bot.send_message(group, "g3")  # 3/minute refills one message every 20 s
    assert fake.calls[-1].response["parameters"] == {"retry_after": 20}
    assert len(fake.messages_to(group)) == 3
    fake.enforce_rate_limits(False)
    await bot.send_message(group, "g3")


async def test_migrated_group_answers_with_the_new_id(
    fake: FakeTelegram, bot: Bot, anna: FakeUser, group: int
):
    new = fake.migrate_group_to_supergroup(group, -1_004_001)
    with pytest.raises(ChatMigrated) as excinfo:
        await bot.send_message(group, "Hej")
    assert excinfo.value.new_chat_id == -1_004_001
    await bot.send_message(new.id, "Hej")
    updates = await bot.get_updates(timeout=0)
    assert [u.message.migrate_to_chat_id for u in updates] == [-1_004_001, None]  # type: ignore[union-attr]
    assert updates[1].message.migrate_from_chat_id == group  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="basic group"):
        fake.migrate_group_to_supergroup(new.id, -1_004_002)


async def test_injected_faults(fake: FakeTelegram, anna: FakeUser):
    fake.start_bot(anna)
    quick = HTTPXRequest(read_timeout=0.1)
    async with Bot(fake.token, base_url=fake.base_url, request=quick) as bot:
        fake.fail_next("sendMessage", count=2, chat_id=anna.id)
        for _ in range(2):
            with pytest.raises(NetworkError, match="Internal Server Error"):
                await bot.send_message(anna.id, "x")
        fake.fail_next("sendMessage", retry_after=7)
        with pytest.raises(RetryAfter):
            await bot.send_message(anna.id, "x")

        # The message is delivered, but the answer comes after the client gave up.
        fake.timeout_next("sendMessage", delay=0.2)
        with pytest.raises(TimedOut):
            await bot.send_message(anna.id, "sent twice?")
        assert [m.text for m in fake.messages_to(anna.id)] == ["sent twice?"]
        fake.timeout_next("sendMessage", delay=0.2, perform=False)
        with pytest.raises(TimedOut):
            await bot.send_message(anna.id, "lost")
        assert len(fake.messages_to(anna.id)) == 1

        fake.hang_delay = 0.2
        runs = []
        for _ in range(2):  # the same seed gives the same faults
            fake.set_fault_rate(0.5, seed=3)
            since = len(fake.calls)
            for _ in range(6):
                with contextlib.suppress(NetworkError, TimedOut):
                    await bot.send_chat_action(anna.id, "typing")
            runs.append([c.fault for c in fake.calls[since:]])
        fake.clear_faults()
        assert runs[0] == runs[1] and None in runs[0] and set(runs[0]) - {None}
        # Hung answers end when their delay is over; then the server is idle again.
        [update] = await bot.get_updates(timeout=0)
        await bot.get_updates(offset=update.update_id + 1, timeout=0)
        await fake.wait_until_idle(timeout=2, quiet=0.05)


async def test_spec_violations_are_rejected_and_recorded(fake: FakeTelegram, bot: Bot):
    with pytest.raises(BadRequest, match=r"(?i)text is empty"):
        await bot.do_api_request("sendMessage", {"chat_id": 1001})
    with pytest.raises(BadRequest, match=r"(?i)unknown parameter"):
        await bot.do_api_request("getMe", {"colour": "blue"})
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", {"chat_id": 1})
    # A JSON body is decoded too; a wrong type in a nested object is caught.
    async with httpx.AsyncClient() as client:
        fake.start_bot(fake.add_user(1001, "Anna"))
        good = {"inline_keyboard": [[{"text": "OK", "callback_data": "x"}]]}
        accepted = await client.post(
            f"{fake.base_url}{fake.token}/sendMessage",
            json={"chat_id": "1001", "text": "hi", "reply_markup": good},
        )
        assert accepted.json()["result"]["reply_markup"] == good
        markup = {"inline_keyboard": [[{"callback_data": "x"}]]}  # button without text
        response = await client.post(
            f"{fake.base_url}{fake.token}/sendMessage",
            json={"chat_id": 1001, "text": "hi", "reply_markup": markup},
        )
        wrong_token = await client.post(f"{fake.base_url}123:WRONG/getMe")
    assert response.status_code == 400 and response.json()["ok"] is False
    assert wrong_token.status_code == 401
    assert [v.kind for v in fake.spec_violations] == [
        "missing_parameter",
        "unknown_parameter",
        "unknown_method",
        "bad_type",
    ]
    assert "text" in fake.spec_violations[-1].detail
    fake.spec_violations.clear()


async def test_wait_for_explains_a_timeout(fake: FakeTelegram, bot: Bot, anna: FakeUser):
    await bot.get_me()
    found = await fake.wait_for(lambda c: c.method == "getMe")
    assert found.ok
    with pytest.raises(TimeoutError, match="getMe"):
        await fake.wait_for(lambda c: c.method == "sendMessage", timeout=0.05)
    fake.send_text(anna, anna.id, "nobody polls")
    with pytest.raises(TimeoutError, match="is the bot polling"):
        await fake.wait_until_idle(timeout=0.05)


# -- every answer carries the required fields of its type ------------------------------------
def _required_field_errors(
    value: Any, type_exprs: list[str], types: dict[str, Any], path: str, seen: set[str]
) -> list[str]:
    """Independent of spec.py: walk `value` as the first fitting alternative of `type_exprs`
    and list required fields that are missing anywhere inside it."""
    best: list[str] | None = None
    for expr in type_exprs:
        if expr.startswith("Array of "):
            if not isinstance(value, list):
                continue
            errors = [
                e
                for i, item in enumerate(value)
                for e in _required_field_errors(item, [expr[9:]], types, f"{path}[{i}]", seen)
            ]
        elif expr in types and types[expr].get("subtypes"):
            # Try first the subtype whose discriminator text names this value, e.g. ChatMember
            # status "left" -> ChatMemberLeft ('always "left"').
            marker = isinstance(value, dict) and f'"{value.get("status", value.get("type"))}"'
            subtypes = sorted(
                types[expr]["subtypes"],
                key=lambda t: (
                    not any(
                        marker and marker in f["description"] for f in types[t].get("fields", [])
                    )
                ),
            )
            errors = _required_field_errors(value, subtypes, types, path, seen)
        elif expr in types and "fields" in types[expr]:
            if not isinstance(value, dict):
                continue
            fields = {f["name"]: f for f in types[expr]["fields"]}
            errors = [
                f"{path}: {expr} without {n}"
                for n, f in fields.items()
                if f["required"] and n not in value
            ]
            if not errors:
                seen.add(expr)
            for key, item in value.items():
                if key in fields:
                    errors += _required_field_errors(
                        item, fields[key]["types"], types, f"{path}.{key}", seen
                    )
                else:
                    errors.append(f"{path}: {expr} has no field {key}")
        else:
            errors = []  # a primitive
        if not errors:
            return []
        if best is None or len(errors) < len(best):
            best = errors
    return best if best is not None else [f"{path}: {value!r:.40} fits none of {type_exprs}"]


def _check_answers(server: FakeTelegram) -> tuple[list[str], set[str]]:
    """Every answer the fake gave, walked against the spec: what lacks a required field, and
    which types were answered with."""
    spec = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    seen: set[str] = set()
    problems: list[str] = []
    for call in server.calls:
        if call.ok:
            returns = spec["methods"][call.method]["returns"]
            problems += _required_field_errors(
                call.result, returns, spec["types"], call.method, seen
            )
    return problems, seen


async def test_every_type_the_bot_needs_was_answered(tmp_path: Path):
    """The fakes of this module together answered with every type PeerBot reads. The other
    tests run once more in a process of their own (~3 s): under xdist they are spread over
    workers, and no one worker sees them all."""
    seen_file = tmp_path / "seen.txt"
    module = Path(__file__)
    ran = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:xdist",
            "-o",
            "addopts=",
            "-p",
            "no:cacheprovider",
            str(module),
            "-k",
            "not test_every_type_the_bot_needs",
        ],
        cwd=module.parents[1],
        env={**os.environ, SEEN_TYPES_FILE: str(seen_file)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout[-3000:]
    seen = set(seen_file.read_text(encoding="utf-8").split())
    expected = {
        "Update",
        "Message",
        "User",
        "Chat",
        "ChatFullInfo",
        "Poll",
        "PollOption",
        "PollAnswer",
        "ChatMemberUpdated",
        "ChatMemberOwner",
        "ChatMemberAdministrator",
        "ChatMemberMember",
        "ChatMemberLeft",
        "CallbackQuery",
        "Document",
        "PhotoSize",
        "File",
        "MessageEntity",
        "BotCommand",
        "WebhookInfo",
        "MessageId",
        "InlineKeyboardMarkup",
        "MessageOriginUser",
    }
    assert expected <= seen, f"never answered with {expected - seen}"
