# Spec: api.min.json = Bot API 10.1 from PaulSonOfLars/telegram-bot-api-spec (commit 160fd995).
"""A local, in-memory fake of the Telegram Bot API, served over HTTP on 127.0.0.1.

The real `telegram.ext.Application` talks to it through
`ApplicationBuilder().base_url(fake.base_url).base_file_url(fake.base_file_url)`. Tests act
as people (`send_text`, `answer_poll`, `tap_button`, `join`, ...) and inspect what the bot
did (`calls`, `messages_to`, `wait_for`, `wait_until_idle`). Every request is checked
against the spec and every answer is checked against the spec's required fields; problems
land in `spec_violations`.
"""

from __future__ import annotations

import asyncio
import copy
import mimetypes
import random
import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .api_chats import ChatMethods
from .api_messages import MessageMethods
from .formatting import utf16_len
from .http import HttpSide
from .inspection import InspectionAndFaults
from .people import PeopleHelpers
from .spec import Spec, load_spec
from .world import (
    ACTIVE_STATUSES,
    JSON,
    MEMBER_STATUSES,
    ApiError,
    ApiHandler,
    Call,
    FakeChat,
    FakeUser,
    RateLimits,
    SentMessage,
    SpecViolation,
    StoredFile,
    _Bucket,
    _Fault,
    _PollState,
)

# Re-exported: tests and benchmarks import these from here.
__all__ = [
    "ApiError",
    "Call",
    "FakeChat",
    "FakeTelegram",
    "FakeUser",
    "RateLimits",
    "SentMessage",
    "SpecViolation",
    "StoredFile",
]


class FakeTelegram(HttpSide, ChatMethods, MessageMethods, PeopleHelpers, InspectionAndFaults):
    """In-memory Telegram with a Bot API HTTP front end on 127.0.0.1.

    Use `async with FakeTelegram() as fake:` or `await fake.start()` / `await fake.stop()`.
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN-for-the-fake-Bot-API-srv",
        *,
        bot_id: int | None = None,
        bot_username: str = "peerbot_demo_bot",
        bot_first_name: str = "PeerBot",
        port: int = 0,
        privacy_mode: bool = True,
        hang_delay: float = 6.0,
        callback_query_ttl: float = 15.0,
        now: Callable[[], float] | None = None,
        spec: Spec | None = None,
    ) -> None:
        """`privacy_mode` (Telegram's default for bots): in groups where the bot is not an
        admin it only receives commands, replies to itself and service messages.
        `hang_delay`: default for timeout faults, above PTB's default 5 s read timeout.
        `now`: Unix time for message dates (e.g. a test clock); flood limits and timeouts
        always run on the real monotonic clock."""
        self.spec = spec or load_spec()
        self.token = token
        if bot_id is None:
            head = token.split(":", 1)[0]
            bot_id = int(head) if head.isdigit() else 123456
        self.bot = FakeUser(bot_id, bot_first_name, username=bot_username, is_bot=True)
        self.privacy_mode = privacy_mode
        self._now = now or time.time
        self.hang_delay = hang_delay
        self.callback_query_ttl = callback_query_ttl
        self._port = port
        self.port: int | None = None

        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, FakeChat] = {}
        self.files: dict[str, StoredFile] = {}
        self.polls: dict[str, _PollState] = {}
        self.commands_by_scope: dict[tuple[str, str], list[JSON]] = {}
        self.callback_answers: dict[str, JSON] = {}
        self._callback_queries: dict[str, tuple[JSON, float]] = {}
        self._sent: dict[int, list[SentMessage]] = {}

        self.calls: list[Call] = []
        self.spec_violations: list[SpecViolation] = []
        self.unsupported: list[str] = []  # spec methods the fake does not implement
        self.updates: list[JSON] = []  # every update ever queued, for inspection
        self.dropped_updates: list[tuple[str, JSON]] = []  # filtered out by allowed_updates
        self._queue: list[JSON] = []
        self._fetched_ids: set[int] = set()
        self._next_update_id = 700_000_001
        self._allowed_updates: list[str] | None = None
        self._webhook: JSON | None = None
        self._poll_generation = 0
        self._counter = 0

        self._faults: list[_Fault] = []
        self._fault_rate = 0.0
        self._fault_rng = random.Random(0)
        self._fault_kinds: tuple[str, ...] = ("500", "502", "hang", "drop")
        self._fault_methods: frozenset[str] | None = None
        self._rate_limits: RateLimits | None = None
        self._buckets: dict[Any, _Bucket] = {}

        self._inflight = 0
        self._last_activity = time.monotonic()
        self._changed = asyncio.Event()
        self._closing = False
        self._closed_event: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._extra_handlers: dict[str, ApiHandler] = {}
        self._handlers: dict[str, ApiHandler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "sendMessage": self._send_message,
            "sendPoll": self._send_poll,
            "stopPoll": self._stop_poll,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "deleteMessage": self._delete_message,
            "leaveChat": self._leave_chat,
            "getFile": self._get_file,
        }

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """For `ApplicationBuilder().base_url(...)`: PTB appends `{token}/{method}`."""
        return f"http://127.0.0.1:{self._require_port()}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self._require_port()}/file/bot"

    def _require_port(self) -> int:
        if self.port is None:
            raise RuntimeError("FakeTelegram is not started; await fake.start() first")
        return self.port

    async def start(self) -> FakeTelegram:
        """Serve on 127.0.0.1 (a free port unless one was given) in the running loop."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._closing = False
        self._closed_event = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Stop serving; pending long polls return [] and hung requests end at once."""
        self._closing = True
        if self._closed_event is not None:
            self._closed_event.set()
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def deep_link(self, payload: str) -> str:
        return f"https://t.me/{self.bot.username}?start={payload}"

    def add_handler(self, method: str, handler: ApiHandler) -> None:
        """Answer a spec method the fake doesn't implement: handler(params) -> result."""
        canonical = self.spec.canonical_method(method)
        if canonical is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        self._extra_handlers[canonical] = handler

    # -- world setup ---------------------------------------------------------------------------
    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "da",
        is_bot: bool = False,
    ) -> FakeUser:
        user = FakeUser(user_id, first_name, username, last_name, language_code, is_bot)
        self.users[user_id] = user
        return user

    def add_group(
        self, chat_id: int, title: str, *, supergroup: bool = False, username: str | None = None
    ) -> FakeChat:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative (supergroups: -100...)")
        chat = FakeChat(chat_id, "supergroup" if supergroup else "group", title, username)
        self.chats[chat_id] = chat
        return chat

    def set_member(self, chat_id: int, user: FakeUser | int, status: str = "member") -> None:
        """Set a membership silently (world setup; no updates are queued)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {MEMBER_STATUSES}")
        self._group(chat_id).members[self._user(user).id] = status

    def set_bot_status(self, chat_id: int, status: str) -> None:
        """Set the bot's own membership silently (world setup)."""
        if status not in MEMBER_STATUSES or status == "creator":
            raise ValueError("bot status must be administrator, member, restricted, left, kicked")
        self._group(chat_id).bot_status = status

    def member_status(self, chat_id: int, user: FakeUser | int) -> str:
        return self._group(chat_id).members.get(self._user(user).id, "left")

    # -- acting as people ----------------------------------------------------------------------
    def send_text(
        self,
        user: FakeUser | int,
        chat_id: int,
        text: str,
        *,
        reply_to: int | JSON | SentMessage | None = None,
    ) -> JSON:
        """`user` writes `text` in `chat_id` (their private chat when chat_id == user.id)."""
        sender = self._user(user)
        chat = self._chat_for_person(sender, chat_id)
        content: JSON = {"text": text}
        command = re.match(r"/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?", text)
        if command:
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group(0))}
            ]
        return self._person_message(sender, chat, content, reply_to=reply_to)

    def start_bot(self, user: FakeUser | int, payload: str | None = None) -> JSON:
        """The user opens the bot (optionally via a deep link) and taps Start."""
        text = f"/start {payload}" if payload else "/start"
        return self.send_text(user, self._user(user).id, text)

    def send_document(
        self,
        user: FakeUser | int,
        chat_id: int,
        content: bytes,
        file_name: str,
        caption: str | None = None,
        mime_type: str | None = None,
    ) -> JSON:
        """`user` posts a file; getFile and the download URL then serve `content`."""
        sender = self._user(user)
        chat = self._chat_for_person(sender, chat_id)
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        stored = self._store_file(content, "documents", file_name, mime)
        body: JSON = {"document": self._document_dict(stored)}
        if caption:
            body["caption"] = caption
        return self._person_message(sender, chat, body)

    def answer_poll(self, user: FakeUser | int, poll_id: str, option_ids: list[int]) -> JSON:
        """`user` votes (empty `option_ids` retracts); returns the PollAnswer dict."""
        voter = self._user(user)
        state = self.polls.get(poll_id)
        if state is None:
            raise KeyError(f"no poll {poll_id!r}; known: {list(self.polls)}")
        poll = state.poll
        self._expire_poll(state)
        if poll["is_closed"]:
            raise ValueError(f"poll {poll_id} is closed")
        chat = self.chats.get(state.chat_id)
        if chat and chat.type != "private" and chat.members.get(voter.id) not in ACTIVE_STATUSES:
            raise ValueError(f"user {voter.id} is not a member of chat {chat.id}")
        n = len(poll["options"])
        if any(not 0 <= i < n for i in option_ids) or len(set(option_ids)) != len(option_ids):
            raise ValueError(f"option_ids {option_ids} invalid for {n} options")
        if len(option_ids) > 1 and not poll["allows_multiple_answers"]:
            raise ValueError("poll does not allow multiple answers")
        if voter.id in state.votes and not poll["allows_revoting"]:
            raise ValueError("poll does not allow changing a vote")
        if not option_ids and voter.id not in state.votes:
            raise ValueError("nothing to retract: user has not voted")
        if option_ids:
            state.votes[voter.id] = sorted(option_ids)
        else:
            state.votes.pop(voter.id, None)
        for i, option in enumerate(poll["options"]):
            option["voter_count"] = sum(i in ids for ids in state.votes.values())
        poll["total_voter_count"] = len(state.votes)
        answer: JSON = {
            "poll_id": poll_id,
            "user": voter.to_dict(),
            "option_ids": sorted(option_ids),
            "option_persistent_ids": [
                poll["options"][i]["persistent_id"] for i in sorted(option_ids)
            ],
        }
        if not poll["is_anonymous"]:
            self._queue_update("poll_answer", answer)
        # Telegram also pushes the new counts of polls the bot sent as a `poll` update.
        self._queue_update("poll", poll)
        return answer

    def tap_button(
        self, user: FakeUser | int, message: SentMessage | JSON, callback_data: str
    ) -> JSON:
        """`user` taps the inline button carrying `callback_data`; returns the CallbackQuery."""
        tapper = self._user(user)
        chat_id = message.chat_id if isinstance(message, SentMessage) else message["chat"]["id"]
        mid = message.message_id if isinstance(message, SentMessage) else message["message_id"]
        stored = self._chat_any(chat_id).messages.get(mid)
        if stored is None or stored.deleted:
            raise ValueError(f"message {mid} in chat {chat_id} does not exist (deleted?)")
        rows = (stored.message.get("reply_markup") or {}).get("inline_keyboard", [])
        data = [b.get("callback_data") for row in rows for b in row]
        if callback_data not in data:
            raise ValueError(f"no button with callback_data {callback_data!r}; buttons: {data}")
        return self.forge_tap(tapper, message, callback_data)

    def forge_tap(
        self, user: FakeUser | int, message: SentMessage | JSON, callback_data: str
    ) -> JSON:
        """A modified client sends `callback_data` as if from a button on `message`, whether
        or not the message has such a button (what an attacker can do); returns the query."""
        tapper = self._user(user)
        chat_id = message.chat_id if isinstance(message, SentMessage) else message["chat"]["id"]
        mid = message.message_id if isinstance(message, SentMessage) else message["message_id"]
        stored = self._chat_any(chat_id).messages.get(mid)
        if stored is None or stored.deleted:
            raise ValueError(f"message {mid} in chat {chat_id} does not exist (deleted?)")
        query_id = str(4_000_000_000_000_000 + self._next_counter())
        query: JSON = {
            "id": query_id,
            "from": tapper.to_dict(),
            "message": stored.message,
            "chat_instance": str(abs(chat_id) * 7919 % 10**18 + 1),
            "data": callback_data,
        }
        self._callback_queries[query_id] = (query, time.monotonic())
        self._queue_update("callback_query", query)
        return copy.deepcopy(query)

    def join(self, chat_id: int, user: FakeUser | int) -> JSON:
        """`user` joins the group: chat_member update + new_chat_members service message."""
        member = self._user(user)
        chat = self._group(chat_id)
        old = chat.members.get(member.id, "left")
        if old == "kicked":
            raise ValueError(f"user {member.id} is banned from {chat_id}")
        if old in ACTIVE_STATUSES:
            raise ValueError(f"user {member.id} is already a member of {chat_id}")
        chat.members[member.id] = "member"
        self._queue_chat_member(chat, member, old, "member", actor=member)
        return self._service_message(chat, member, {"new_chat_members": [member.to_dict()]})

    def leave(self, chat_id: int, user: FakeUser | int) -> JSON:
        """`user` leaves the group: chat_member update + left_chat_member service message."""
        member = self._user(user)
        chat = self._group(chat_id)
        old = chat.members.get(member.id, "left")
        if old not in ACTIVE_STATUSES:
            raise ValueError(f"user {member.id} is not in {chat_id}")
        chat.members[member.id] = "left"
        self._queue_chat_member(chat, member, old, "left", actor=member)
        return self._service_message(chat, member, {"left_chat_member": member.to_dict()})

    def add_bot_to_group(
        self, chat_id: int, by_user: FakeUser | int, *, status: str = "member"
    ) -> JSON:
        """`by_user` adds the bot: my_chat_member update + new_chat_members message."""
        adder = self._user(by_user)
        chat = self._group(chat_id)
        if chat.members.get(adder.id) not in ACTIVE_STATUSES:
            chat.members[adder.id] = "member"
        old, chat.bot_status = chat.bot_status, status
        self._queue_my_chat_member(chat, adder, old, status)
        return self._service_message(chat, adder, {"new_chat_members": [self.bot.to_dict()]})

    def remove_bot_from_group(self, chat_id: int, by_user: FakeUser | int) -> JSON | None:
        """`by_user` removes (bans) the bot: my_chat_member update; returns that update."""
        chat = self._group(chat_id)
        old, chat.bot_status = chat.bot_status, "kicked"
        return self._queue_my_chat_member(chat, self._user(by_user), old, "kicked")

    def block(self, user: FakeUser | int) -> None:
        """The user blocks the bot (my_chat_member: member -> kicked in their private chat)."""
        person = self._user(user)
        if not person.blocked:
            person.blocked = True
            self._queue_my_chat_member(self._private_chat(person), person, "member", "kicked")

    def unblock(self, user: FakeUser | int) -> None:
        person = self._user(user)
        if person.blocked:
            person.blocked = False
            self._queue_my_chat_member(self._private_chat(person), person, "kicked", "member")

    def migrate_group_to_supergroup(self, old_id: int, new_id: int) -> FakeChat:
        """Upgrade a basic group; the old id then answers 400 with migrate_to_chat_id."""
        old = self._group(old_id)
        if old.type != "group" or old.migrated_to is not None:
            # Telegram only upgrades basic groups; a supergroup keeps its id for good.
            raise ValueError(
                f"chat {old_id} is a {old.type} (migrated_to={old.migrated_to}); only a basic "
                "group made with add_group(..., supergroup=False) can be migrated"
            )
        new = FakeChat(
            new_id,
            "supergroup",
            old.title,
            old.username,
            members=dict(old.members),
            bot_status=old.bot_status,
        )
        self.chats[new_id] = new
        owner_id = next((uid for uid, s in old.members.items() if s == "creator"), None)
        actor = self.users.get(owner_id) if owner_id is not None else None
        self._service_message(old, actor, {"migrate_to_chat_id": new_id})
        old.migrated_to = new_id
        self._service_message(new, actor, {"migrate_from_chat_id": old_id})
        return new
