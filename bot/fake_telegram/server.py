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
import contextlib
import copy
import inspect
import json
import math
import mimetypes
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .formatting import EntityParseError, parse, strip, utf16_len
from .spec import Spec, UploadedFile, load_spec

JSON = dict[str, Any]
ApiHandler = Callable[[JSON], Any | Awaitable[Any]]

# Telegram's default when allowed_updates was never given (or given as []).
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
ACTIVE_STATUSES = frozenset({"creator", "administrator", "member", "restricted"})
MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")
ADMIN_STATUSES = frozenset({"creator", "administrator"})
# Methods that post a message count against Telegram's flood limits.
_RATE_LIMITED_EXTRA = frozenset(
    {"copyMessage", "forwardMessage", "copyMessages", "forwardMessages"}
)
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
_CALLBACK_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024  # getFile refuses bigger files


class ApiError(Exception):
    """An error answer: HTTP status == error_code, as Telegram does."""

    def __init__(self, error_code: int, description: str, parameters: JSON | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def envelope(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str, parameters: JSON | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {description}", parameters)


def _forbidden(description: str) -> ApiError:
    return ApiError(403, f"Forbidden: {description}")


# -- world model ----------------------------------------------------------------------------
@dataclass
class FakeUser:
    """A Telegram user; `started`/`blocked` describe their private chat with the bot."""

    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = "da"
    is_bot: bool = False
    started: bool = False
    blocked: bool = False

    def to_dict(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        return data

    # Read like the User dict Telegram sends too: fake.bot["username"].
    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)


@dataclass
class _StoredMessage:
    message: JSON  # live Message dict (edits are applied in place)
    sender_id: int | None
    deleted: bool = False


@dataclass
class FakeChat:
    """A private chat, group or supergroup with its members and message history."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    members: dict[int, str] = field(default_factory=dict)  # user id -> ChatMember status
    bot_status: str = "left"
    migrated_to: int | None = None
    messages: dict[int, _StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1

    def to_dict(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value:
                data[key] = value
        return data

    def take_message_id(self) -> int:
        mid = self.next_message_id
        self.next_message_id += 1
        return mid

    @property
    def kind(self) -> str:
        """'group' or 'supergroup' as used in Telegram's error texts."""
        return "supergroup" if self.type == "supergroup" else "group"


@dataclass
class StoredFile:
    """A file known to the fake: getFile answers for it and /file/bot... serves its bytes."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes = field(repr=False)
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass
class Call:
    """One request the bot made, as the fake decoded and answered it."""

    method: str
    params: JSON
    time: float  # time.monotonic() when answered
    status: int
    response: JSON
    fault: str | None = None  # set when the answer was an injected fault

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def result(self) -> Any:
        return self.response.get("result")

    @property
    def description(self) -> str | None:
        return self.response.get("description")

    @property
    def chat_id(self) -> int | str | None:
        return self.params.get("chat_id")

    def __str__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k != "reply_markup"}
        text = json.dumps(shown, ensure_ascii=False, default=repr)
        outcome = "ok" if self.ok else f"{self.status} {self.description}"
        return f"{self.method}({text[:160]}) -> {outcome}"


@dataclass(eq=False)
class SentMessage(Mapping[str, Any]):
    """A message the bot sent successfully.

    Reads as its live Message dict (`m["text"]`, `m.get("reply_markup")`, edits applied) and
    adds what Telegram's dict doesn't say: `deleted`, `protect_content`, `edits`, `method`.
    """

    chat_id: int
    message_id: int
    method: str
    message: JSON
    protect_content: bool = False
    requested_markup: JSON | None = None  # as sent; non-inline keyboards aren't in `message`
    deleted: bool = False
    edits: list[JSON] = field(default_factory=list)  # previous versions, oldest first

    def __getitem__(self, key: str) -> Any:
        return self.message[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.message)

    def __len__(self) -> int:
        return len(self.message)

    @property
    def text(self) -> str | None:
        """Text, or caption for media, as the user sees it (markup already parsed)."""
        return self.message.get("text", self.message.get("caption"))

    @property
    def entities(self) -> list[JSON]:
        return self.message.get("entities", self.message.get("caption_entities", []))

    @property
    def reply_markup(self) -> JSON | None:
        return self.message.get("reply_markup") or (
            None if "inline_keyboard" in (self.requested_markup or {}) else self.requested_markup
        )

    @property
    def buttons(self) -> list[JSON]:
        """Inline keyboard buttons, row by row, flattened."""
        rows = (self.message.get("reply_markup") or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    @property
    def document(self) -> JSON | None:
        return self.message.get("document")

    @property
    def photo(self) -> list[JSON] | None:
        return self.message.get("photo")

    @property
    def poll(self) -> JSON | None:
        return self.message.get("poll")


@dataclass
class SpecViolation:
    """A request or answer that does not match the Bot API spec."""

    method: str
    kind: str  # unknown_method | missing_parameter | unknown_parameter | bad_type | bad_response
    detail: str

    def __str__(self) -> str:
        return f"{self.method}: {self.kind}: {self.detail}"


@dataclass
class _PollState:
    poll: JSON  # live Poll dict, shared with the Message carrying it
    chat_id: int
    message_id: int
    votes: dict[int, list[int]] = field(default_factory=dict)


@dataclass
class _Fault:
    method: str
    kind: str  # "error" | "timeout"
    count: int
    chat_id: int | str | None = None
    error_code: int = 500
    description: str = "Internal Server Error"
    retry_after: int | None = None
    delay: float = 0.0
    perform: bool = True


class _Bucket:
    """Token bucket on the real monotonic clock: `capacity` burst, refilled at `rate`/s."""

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp = time.monotonic()

    def wait_time(self, now: float) -> float:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


@dataclass
class RateLimits:
    """Telegram's documented flood limits (configurable so tests can tighten them)."""

    global_per_second: float = 30.0
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: float = 20.0
    group_burst: int | None = None  # default: the whole per-minute allowance


class FakeTelegram:
    """In-memory Telegram with a Bot API HTTP front end on 127.0.0.1.

    Use `async with FakeTelegram() as fake:` or `await fake.start()` / `await fake.stop()`.
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
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

    # -- inspection ----------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        canonical = self.spec.canonical_method(method) or method
        return [c for c in self.calls if c.method == canonical]

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        return list(self._sent.get(chat_id, []))

    def last_message_to(self, chat_id: int) -> SentMessage | None:
        sent = self._sent.get(chat_id)
        return sent[-1] if sent else None

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        return list(self.commands_by_scope.get((self._scope_key(scope), language_code), []))

    @property
    def allowed_updates(self) -> list[str] | None:
        """The sticky list from the last getUpdates/setWebhook that gave one (None: default)."""
        return None if self._allowed_updates is None else list(self._allowed_updates)

    @property
    def pending_updates(self) -> list[JSON]:
        """Queued updates not yet confirmed by a later getUpdates offset."""
        return copy.deepcopy(self._queue)

    async def wait_for(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the whole wait, not one I/O
        *,
        since: int = 0,
    ) -> Call:
        """First call in `calls[since:]` matching `predicate`, waiting up to `timeout` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = since
        while True:
            event = self._changed
            for call in self.calls[index:]:
                if predicate(call):
                    return call
            index = max(index, len(self.calls))
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = "\n  ".join(str(c) for c in self.calls[-10:]) or "(no calls)"
                raise TimeoutError(f"no matching call within {timeout}s; last calls:\n  {recent}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for_message(
        self,
        chat_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> SentMessage:
        """Wait for the next successful message to `chat_id` after now."""
        count = len(self._sent.get(chat_id, []))
        await self.wait_for(lambda _c: len(self._sent.get(chat_id, [])) > count, timeout)
        return self._sent[chat_id][count]

    async def wait_until_idle(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
        quiet: float = 0.2,
    ) -> None:
        """Return once every queued update was fetched and confirmed, no request is being
        handled and none arrived for `quiet` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            idle_for = time.monotonic() - self._last_activity
            if not self._queue and self._inflight == 0 and idle_for >= quiet:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._idle_report(timeout))
            nap = remaining if self._queue or self._inflight else min(remaining, quiet - idle_for)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), max(nap, 0.005))

    def _idle_report(self, timeout: float) -> str:
        lines = [f"not idle after {timeout}s:"]
        if self._queue:
            fetched = sum(1 for u in self._queue if u["update_id"] in self._fetched_ids)
            kinds = [next(k for k in u if k != "update_id") for u in self._queue]
            lines.append(
                f"  {len(self._queue)} update(s) unconfirmed ({fetched} fetched): {kinds[:10]}"
                " - is the bot polling getUpdates?"
            )
        if self._inflight:
            lines.append(f"  {self._inflight} request(s) still being handled")
        lines.append("  last calls:")
        lines += [f"    {c}" for c in self.calls[-10:]] or ["    (none)"]
        return "\n".join(lines)

    # -- faults --------------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 500,
        description: str = "Internal Server Error",
        retry_after: int | None = None,
        count: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """The next `count` calls to `method` (to `chat_id` only, if given) fail this way."""
        if retry_after is not None and error_code == 500:
            error_code = 429
        if error_code == 429 and description == "Internal Server Error":
            description = f"Too Many Requests: retry after {retry_after or 1}"
            retry_after = retry_after or 1
        self._faults.append(
            _Fault(
                self._canonical(method),
                "error",
                count,
                chat_id,
                error_code,
                description,
                retry_after,
            )
        )

    def timeout_next(
        self,
        method: str,
        count: int = 1,
        delay: float | None = None,
        *,
        perform: bool = True,
        chat_id: int | str | None = None,
    ) -> None:
        """The next `count` calls hang `delay` s (default `hang_delay`) before answering.

        With `perform` the call takes effect at once (a message *is* sent, only the answer
        is late, as happens with Telegram); without it the connection is dropped unanswered.
        """
        self._faults.append(
            _Fault(
                self._canonical(method),
                "timeout",
                count,
                chat_id,
                delay=self.hang_delay if delay is None else delay,
                perform=perform,
            )
        )

    def set_fault_rate(self, p: float, seed: int = 0) -> None:
        """Each non-getUpdates call fails with probability `p`: 500, 502 or a hang."""
        self._fault_rate = p
        self._fault_rng = random.Random(seed)

    def clear_faults(self) -> None:
        self._faults.clear()
        self._fault_rate = 0.0

    def enforce_rate_limits(
        self, enabled: bool = True, limits: RateLimits | None = None, **overrides: Any
    ) -> RateLimits | None:
        """Answer 429 + retry_after past Telegram's flood limits (see RateLimits)."""
        if not enabled:
            self._rate_limits = None
        else:
            base = limits or RateLimits()
            self._rate_limits = RateLimits(**{**base.__dict__, **overrides})
        self._buckets.clear()
        return self._rate_limits

    # -- HTTP ----------------------------------------------------------------------------------
    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._record(name, {}, ApiError(401, "Unauthorized").envelope(), 401)
        method = self.spec.canonical_method(name)
        if method is None:
            # Telegram answers unknown methods with 404 (PTB: EndPointNotFound).
            self._violation(name, "unknown_method", f"{name!r} is not a Bot API method")
            not_found = {"ok": False, "error_code": 404, "description": "Not Found"}
            return self._record(name, {}, not_found, 404)
        # In-flight requests keep wait_until_idle waiting; long polls don't count.
        tracked = method != "getUpdates"
        if tracked:
            self._inflight += 1
            self._touch()
        try:
            params, error = await self._read_params(request, method)
            if error is not None:
                return self._record(method, params, error.envelope(), error.error_code)
            fault = self._take_fault(method, params)
            if fault is not None and fault.kind == "error":
                extra = {"retry_after": fault.retry_after} if fault.retry_after else None
                error = ApiError(fault.error_code, fault.description, extra)
                return self._record(
                    method,
                    params,
                    error.envelope(),
                    error.error_code,
                    fault=f"error {fault.error_code}",
                )
            if fault is not None and not fault.perform:
                dropped = {"ok": False, "error_code": 0, "description": "connection dropped"}
                self._record(method, params, dropped, 0, fault="dropped")
                if tracked:
                    tracked = False
                    self._inflight -= 1
                await self._sleep(fault.delay)
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=502)
            body, status = await self._dispatch(method, params)
            response = self._record(
                method, params, body, status, fault="timeout" if fault else None
            )
            if fault is not None:
                # The effect already happened; only the answer comes too late.
                if tracked:
                    tracked = False
                    self._inflight -= 1
                self._notify()
                await self._sleep(fault.delay)
            return response
        finally:
            if tracked:
                self._inflight -= 1
                self._touch()
                self._notify()

    async def _dispatch(self, method: str, params: JSON) -> tuple[JSON, int]:
        try:
            self._check_rate_limit(method, params)
            handler = self._extra_handlers.get(method) or self._handlers.get(method)
            if handler is None:
                self.unsupported.append(method)
                raise _bad(
                    f"method {method} is not implemented by FakeTelegram "
                    "(add it with fake.add_handler)"
                )
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as exc:
            return exc.envelope(), exc.error_code
        result = json.loads(json.dumps(result))  # snapshot: later edits mustn't change history
        for problem in self.spec.check(result, self.spec.method_returns(method), "result"):
            self._violation(method, "bad_response", problem)
        return {"ok": True, "result": result}, 200

    def _record(
        self, method: str, params: JSON, body: JSON, status: int, *, fault: str | None = None
    ) -> web.Response:
        self.calls.append(Call(method, params, time.monotonic(), status, body, fault))
        if method != "getUpdates":
            self._touch()
        self._notify()
        return web.json_response(body, status=status if status else 502)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").envelope(), status=401)
        path = request.match_info["path"]
        stored = next((f for f in self.files.values() if f.file_path == path), None)
        if stored is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(
            body=stored.content, content_type=stored.mime_type or "application/octet-stream"
        )

    async def _read_params(self, request: web.Request, method: str) -> tuple[JSON, ApiError | None]:
        """Decode query/form/multipart/JSON parameters to typed values, checking the spec."""
        fields = self.spec.method_fields(method)
        raw: dict[str, Any] = dict(request.query)
        form = True
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                return {}, _bad("can't parse JSON body")
            if not isinstance(body, dict):
                return {}, _bad("JSON body must be an object")
            raw.update(body)
            form = False
        elif request.method == "POST" and request.can_read_body:
            posted = await request.post()
            for key, value in posted.items():
                if isinstance(value, web.FileField):
                    content = value.file.read()
                    raw[key] = UploadedFile(key, value.filename, content, value.content_type)
                else:
                    raw[key] = value
        attached = {
            v[len("attach://") :]
            for v in raw.values()
            if isinstance(v, str) and v.startswith("attach://")
        }
        params: JSON = {}
        problems: list[tuple[str, str, ApiError]] = []
        for key, value in raw.items():
            spec_field = fields.get(key)
            if spec_field is None:
                if isinstance(value, UploadedFile) and key in attached:
                    continue  # a part referenced as attach://<key>
                problems.append(
                    (
                        "unknown_parameter",
                        f"{method} has no parameter {key!r}",
                        _bad(f"unknown parameter {key!r} for {method}"),
                    )
                )
                continue
            decoded, errors = self._decode(value, spec_field["types"], key, form)
            if errors:
                problems.append(
                    ("bad_type", "; ".join(errors), _bad(f"can't parse {key}: {errors[0]}"))
                )
                continue
            if isinstance(decoded, str) and decoded.startswith("attach://"):
                decoded = raw.get(decoded[len("attach://") :], decoded)
            params[key] = decoded
        for key, spec_field in fields.items():
            if spec_field["required"] and key not in params and key not in raw:
                description = "message text is empty" if key == "text" else f"{key} is empty"
                problems.append(
                    ("missing_parameter", f"{method} requires {key!r}", _bad(description))
                )
        for kind, detail, _ in problems:
            self._violation(method, kind, detail)
        return params, (problems[0][2] if problems else None)

    def _decode(self, value: Any, types: list[str], name: str, form: bool) -> tuple[Any, list[str]]:
        """Typed value for a parameter; form values are strings, objects JSON-encoded."""
        if isinstance(value, str) and form:
            value = self._from_string(value, types)
        errors = self.spec.check(value, types, name)
        if errors and isinstance(value, str):
            # JSON bodies may still carry numbers or objects as strings; Telegram accepts it.
            coerced = self._from_string(value, types)
            if not self.spec.check(coerced, types, name):
                return coerced, []
        if (
            name in ("chat_id", "from_chat_id")
            and isinstance(value, str)
            and re.fullmatch(r"-?\d+", value)
        ):
            value = int(value)
        return value, errors

    def _from_string(self, raw: str, types: list[str]) -> Any:
        structured = [t for t in types if self.spec.is_structured(t)]
        if structured and raw.lstrip()[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                return json.loads(raw)
        for t in types:
            if t == "Integer" and re.fullmatch(r"-?\d+", raw):
                return int(raw)
            if t == "Float":
                with contextlib.suppress(ValueError):
                    return float(raw)
            if t in ("Boolean", "True") and raw.lower() in ("true", "1", "false", "0"):
                return raw.lower() in ("true", "1")
            if t in ("String", "InputFile"):
                return raw
        return raw  # left as a string; the type check reports it

    # -- faults & limits -----------------------------------------------------------------------
    def _take_fault(self, method: str, params: JSON) -> _Fault | None:
        for fault in self._faults:
            if fault.method != method or fault.count <= 0:
                continue
            if fault.chat_id is not None and params.get("chat_id") != fault.chat_id:
                continue
            fault.count -= 1
            self._faults = [f for f in self._faults if f.count > 0]
            return fault
        rng = self._fault_rng
        if method != "getUpdates" and self._fault_rate and rng.random() < self._fault_rate:
            kind = self._fault_rng.choice(("500", "502", "hang", "drop"))
            if kind == "500":
                return _Fault(method, "error", 1)
            if kind == "502":
                return _Fault(method, "error", 1, error_code=502, description="Bad Gateway")
            return _Fault(method, "timeout", 1, delay=self.hang_delay, perform=kind == "hang")
        return None

    def _check_rate_limit(self, method: str, params: JSON) -> None:
        limits = self._rate_limits
        if limits is None:
            return
        sends = method.startswith("send") and method != "sendChatAction"
        if not (sends or method in _RATE_LIMITED_EXTRA):
            return
        chat_id = params.get("chat_id")
        buckets = [self._bucket("global", limits.global_per_second, limits.global_per_second)]
        if isinstance(chat_id, int) and chat_id > 0:
            buckets.append(self._bucket(chat_id, limits.private_burst, limits.private_per_second))
        elif chat_id is not None:
            burst = limits.group_burst or limits.group_per_minute
            buckets.append(self._bucket(chat_id, burst, limits.group_per_minute / 60))
        now = time.monotonic()
        wait = max(b.wait_time(now) for b in buckets)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        for bucket in buckets:
            bucket.take()

    def _bucket(self, key: Any, capacity: float, rate: float) -> _Bucket:
        if key not in self._buckets:
            self._buckets[key] = _Bucket(capacity, rate)
        return self._buckets[key]

    # -- API: bot & updates --------------------------------------------------------------------
    def _get_me(self, p: JSON) -> JSON:
        return {
            **self.bot.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, p: JSON) -> list[JSON]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in p:
            self._set_allowed_updates(p["allowed_updates"], "getUpdates")
        offset = p.get("offset")
        if offset is not None and offset < 0:
            self._queue = self._queue[offset:]  # -N: keep the last N, forget the rest
        elif offset:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        limit = min(max(p.get("limit", 100), 1), 100)
        timeout = max(p.get("timeout", 0), 0)
        # A newer getUpdates terminates an older long poll, as on Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make "
                    "sure that only one bot instance is running",
                )
            batch = self._queue[:limit]
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._closing:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
        self._fetched_ids.update(u["update_id"] for u in batch)
        return batch

    def _set_allowed_updates(self, allowed: list[str], method: str) -> None:
        known = {f for f in self.spec.type_fields("Update") if f != "update_id"}
        unknown = [a for a in allowed if a not in known]
        if unknown:
            self._violation(method, "bad_type", f"unknown update types {unknown}")
            raise _bad(f"unknown update types in allowed_updates: {unknown}")
        self._allowed_updates = list(allowed) or None  # [] means "back to the default"

    def _set_webhook(self, p: JSON) -> bool:
        url = p["url"]
        if not url:
            return self._delete_webhook(p)
        if not url.startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if "allowed_updates" in p:
            self._set_allowed_updates(p["allowed_updates"], "setWebhook")
        if p.get("drop_pending_updates"):
            self._queue.clear()
        # Kept for getWebhookInfo only: the fake does not push updates to webhooks.
        self._webhook = {"url": url, "max_connections": p.get("max_connections", 40)}
        return True

    def _delete_webhook(self, p: JSON) -> bool:
        self._webhook = None
        if p.get("drop_pending_updates"):
            self._queue.clear()
            self._notify()
        return True

    def _get_webhook_info(self, p: JSON) -> JSON:
        info: JSON = {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self._webhook:
            info["max_connections"] = self._webhook["max_connections"]
        if self._allowed_updates is not None:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

    def _scope_key(self, scope: JSON | None) -> str:
        scope = scope or {"type": "default"}
        return json.dumps(scope, sort_keys=True)

    def _set_my_commands(self, p: JSON) -> bool:
        commands = p["commands"]
        if len(commands) > 100:
            raise _bad("too many commands")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (self._scope_key(p.get("scope")), p.get("language_code", ""))
        if commands:
            self.commands_by_scope[key] = [dict(c) for c in commands]
        else:
            self.commands_by_scope.pop(key, None)
        return True

    def _get_my_commands(self, p: JSON) -> list[JSON]:
        return self.commands(p.get("scope"), p.get("language_code", ""))

    def _delete_my_commands(self, p: JSON) -> bool:
        self.commands_by_scope.pop(
            (self._scope_key(p.get("scope")), p.get("language_code", "")), None
        )
        return True

    # -- API: chats ----------------------------------------------------------------------------
    def _get_chat(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"])
        if chat.type != "private":
            self._require_bot_member(chat)
        info: JSON = {
            **chat.to_dict(),
            "accent_color_id": abs(chat.id) % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }
        return info

    def _get_chat_member(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"])
        user_id = p["user_id"]
        if chat.type == "private":
            if user_id not in (chat.id, self.bot.id):
                raise _bad("user not found")
            return self._member_dict(self._user(user_id), "member")
        self._require_bot_member(chat)
        if user_id == self.bot.id:
            return self._member_dict(self.bot, chat.bot_status)
        if user_id not in self.users:
            raise _bad("user not found")
        return self._member_dict(self.users[user_id], chat.members.get(user_id, "left"))

    def _get_chat_administrators(self, p: JSON) -> list[JSON]:
        chat = self._resolve_chat(p["chat_id"])
        if chat.type == "private":
            raise _bad("there are no administrators in the private chat")
        self._require_bot_member(chat)
        admins = [
            self._member_dict(self.users[uid], status)
            for uid, status in chat.members.items()
            if status in ADMIN_STATUSES
            and uid in self.users
            and (p.get("return_bots") or not self.users[uid].is_bot)
        ]
        if chat.bot_status == "administrator":
            admins.append(self._member_dict(self.bot, "administrator"))
        return admins

    def _leave_chat(self, p: JSON) -> bool:
        chat = self._resolve_chat(p["chat_id"])
        if chat.type == "private":
            raise _bad("chat member status can't be changed in private chats")
        self._require_bot_member(chat)
        old, chat.bot_status = chat.bot_status, "left"
        self._queue_my_chat_member(chat, self.bot, old, "left")
        return True

    def _member_dict(self, user: FakeUser, status: str) -> JSON:
        member: JSON = {"status": status, "user": user.to_dict()}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update({"can_be_edited": False, "is_anonymous": False})
            for name in self.spec.required_fields("ChatMemberAdministrator"):
                member.setdefault(name, True)
        elif status == "restricted":
            for name in self.spec.required_fields("ChatMemberRestricted"):
                member.setdefault(name, False)
            member.update({"is_member": True, "until_date": 0})
        elif status == "kicked":
            member["until_date"] = 0
        return member

    # -- API: messages -------------------------------------------------------------------------
    def _send_message(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"], for_send=True)
        text, entities = self._formatted(p["text"], p.get("parse_mode"), p.get("entities"))
        if not text.strip():
            raise _bad("message text is empty")
        if utf16_len(text) > 4096:
            raise _bad("message is too long")
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        if p.get("link_preview_options"):
            content["link_preview_options"] = p["link_preview_options"]
        return self._bot_message(chat, "sendMessage", p, content)

    def _send_chat_action(self, p: JSON) -> bool:
        self._resolve_chat(p["chat_id"], for_send=True)
        return True

    def _send_poll(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"], for_send=True)
        question = p["question"]
        if not 1 <= len(question) <= 300:
            raise _bad("poll question length must be 1-300 characters")
        options = [o if isinstance(o, str) else o.get("text", "") for o in p["options"]]
        if len(options) < 2:
            raise _bad("poll must have at least 2 option")
        if len(options) > 12:
            raise _bad("poll can't have more than 12 options")
        if any(not 1 <= len(o) <= 100 for o in options):
            raise _bad("poll options length must not exceed 100")
        poll_type = p.get("type", "regular")
        if poll_type not in ("regular", "quiz"):
            raise _bad("wrong poll type specified")
        poll_id = str(5_000_000_000_000_000_000 + self._next_counter())
        poll: JSON = {
            "id": poll_id,
            "question": question,
            "options": [
                {"persistent_id": str(i), "text": text, "voter_count": 0}
                for i, text in enumerate(options)
            ],
            "total_voter_count": 0,
            "is_closed": bool(p.get("is_closed", False)),
            "is_anonymous": p.get("is_anonymous", True),  # Telegram's default is anonymous
            "type": poll_type,
            "allows_multiple_answers": bool(p.get("allows_multiple_answers", False)),
            "allows_revoting": p.get("allows_revoting", poll_type == "regular"),
            "members_only": bool(p.get("members_only", False)),
        }
        if poll_type == "quiz":
            correct = p.get("correct_option_ids")
            if not correct or any(not 0 <= i < len(options) for i in correct):
                raise _bad("wrong correct option ids specified for quiz")
            poll["correct_option_ids"] = correct
        for key in ("explanation", "open_period", "close_date", "description"):
            if key in p:
                poll[key] = p[key]
        if "open_period" in p and "close_date" not in p:
            poll["close_date"] = self._date() + int(p["open_period"])
        message = self._bot_message(chat, "sendPoll", p, {"poll": poll})
        self.polls[poll_id] = _PollState(poll, chat.id, message["message_id"])
        return message

    def _stop_poll(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"], for_send=True)
        stored = chat.messages.get(p["message_id"])
        if stored is None or stored.deleted or "poll" not in stored.message:
            raise _bad("message with poll to stop not found")
        if stored.sender_id != self.bot.id:
            raise _bad("poll can't be stopped")
        poll = stored.message["poll"]
        if poll["is_closed"]:
            raise _bad("poll has already been closed")
        poll["is_closed"] = True
        if "reply_markup" in p:
            self._set_markup(stored, p["reply_markup"])
        self._queue_update("poll", poll)
        return poll

    def _send_document(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"], for_send=True)
        stored = self._file_param(p["document"], "documents")
        content: JSON = {"document": self._document_dict(stored)}
        content.update(self._caption(p))
        return self._bot_message(chat, "sendDocument", p, content)

    def _send_photo(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"], for_send=True)
        stored = self._file_param(p["photo"], "photos")
        sizes = [(90, 67), (320, 240), (800, 600)]
        content: JSON = {
            "photo": [
                {
                    "file_id": f"{stored.file_id}-{w}",
                    "file_unique_id": f"{stored.file_unique_id}{w}",
                    "width": w,
                    "height": h,
                    "file_size": stored.size * w // 800,
                }
                for w, h in sizes[:-1]
            ]
            + [
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": 800,
                    "height": 600,
                    "file_size": stored.size,
                }
            ],
        }
        content.update(self._caption(p))
        return self._bot_message(chat, "sendPhoto", p, content)

    def _copy_message(self, p: JSON) -> JSON:
        source = self._source_message(p, "copy")
        target = self._resolve_chat(p["chat_id"], for_send=True)
        content = {
            k: copy.deepcopy(v)
            for k, v in source.message.items()
            if k
            in (
                "text",
                "entities",
                "document",
                "photo",
                "caption",
                "caption_entities",
                "link_preview_options",
            )
        }
        if "poll" in source.message:
            old = source.message["poll"]
            content["poll"] = {
                **copy.deepcopy(old),
                "id": str(5_000_000_000_000_000_000 + self._next_counter()),
                "total_voter_count": 0,
                "is_closed": False,
            }
            for option in content["poll"]["options"]:
                option["voter_count"] = 0
        if not content:
            raise _bad("message can't be copied")
        if "caption" in p:
            content.pop("caption_entities", None)
            content.update(self._caption(p))
        message = self._bot_message(target, "copyMessage", p, content)
        if "poll" in content:
            poll = message["poll"]
            self.polls[poll["id"]] = _PollState(poll, target.id, message["message_id"])
        return {"message_id": message["message_id"]}

    def _forward_message(self, p: JSON) -> JSON:
        source = self._source_message(p, "forward")
        target = self._resolve_chat(p["chat_id"], for_send=True)
        content = {
            k: copy.deepcopy(v)
            for k, v in source.message.items()
            if k in ("text", "entities", "document", "photo", "caption", "caption_entities", "poll")
        }
        if not content:
            raise _bad("message can't be forwarded")
        original = source.message
        origin: JSON
        if "from" in original:
            origin = {"type": "user", "date": original["date"], "sender_user": original["from"]}
        else:
            origin = {"type": "chat", "date": original["date"], "sender_chat": original["chat"]}
        content["forward_origin"] = origin
        return self._bot_message(target, "forwardMessage", p, content)

    def _source_message(self, p: JSON, verb: str) -> _StoredMessage:
        chat = self._resolve_chat(p["from_chat_id"])
        if chat.type != "private":
            self._require_bot_member(chat)
        stored = chat.messages.get(p["message_id"])
        if stored is None or stored.deleted:
            raise _bad(f"message to {verb} not found")
        if stored.message.get("has_protected_content"):
            raise _bad(f"message can't be {'copied' if verb == 'copy' else 'forwarded'}")
        return stored

    def _edit_target(self, p: JSON) -> _StoredMessage:
        if "inline_message_id" in p:
            raise _bad("inline messages are not supported by FakeTelegram")
        if "chat_id" not in p or "message_id" not in p:
            raise _bad("message identifier is not specified")
        chat = self._resolve_chat(p["chat_id"], for_send=True)
        stored = chat.messages.get(p["message_id"])
        if stored is None or stored.deleted:
            raise _bad("message to edit not found")
        if stored.sender_id != self.bot.id:
            raise _bad("message can't be edited")
        return stored

    def _edit_message_text(self, p: JSON) -> JSON:
        stored = self._edit_target(p)
        message = stored.message
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        if "text" not in p:
            raise _bad("text must be non-empty")
        text, entities = self._formatted(p["text"], p.get("parse_mode"), p.get("entities"))
        if not text.strip():
            raise _bad("text must be non-empty")
        if utf16_len(text) > 4096:
            raise _bad("message is too long")
        markup = p.get("reply_markup")  # omitting it removes the inline keyboard
        if (
            text == message["text"]
            and entities == message.get("entities", [])
            and self._inline_markup(markup) == message.get("reply_markup")
        ):
            raise _bad(_NOT_MODIFIED)
        self._remember_edit(stored)
        message["text"] = text
        message.pop("entities", None)
        if entities:
            message["entities"] = entities
        self._set_markup(stored, markup)
        message["edit_date"] = self._date()
        return message

    def _edit_message_reply_markup(self, p: JSON) -> JSON:
        stored = self._edit_target(p)
        markup = p.get("reply_markup")
        if self._inline_markup(markup) == stored.message.get("reply_markup"):
            raise _bad(_NOT_MODIFIED)
        self._remember_edit(stored)
        self._set_markup(stored, markup)
        stored.message["edit_date"] = self._date()
        return stored.message

    def _remember_edit(self, stored: _StoredMessage) -> None:
        sent = self._sent_record(stored)
        if sent is not None:
            sent.edits.append(copy.deepcopy(stored.message))

    def _answer_callback_query(self, p: JSON) -> bool:
        query_id = p["callback_query_id"]
        entry = self._callback_queries.get(query_id)
        if (
            entry is None
            or query_id in self.callback_answers
            or time.monotonic() - entry[1] > self.callback_query_ttl
        ):
            raise _bad(_CALLBACK_TOO_OLD)
        if len(p.get("text", "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = dict(p)
        return True

    def _delete_message(self, p: JSON) -> bool:
        chat = self._resolve_chat(p["chat_id"])
        if chat.type != "private":
            self._require_bot_member(chat)
        stored = chat.messages.get(p["message_id"])
        if stored is None or stored.deleted:
            raise _bad("message to delete not found")
        own = stored.sender_id == self.bot.id
        # Bots may delete their own messages, incoming ones in private chats, and anything in
        # groups where they are administrators.
        if not own and chat.type != "private" and chat.bot_status not in ADMIN_STATUSES:
            raise _bad("message can't be deleted")
        stored.deleted = True
        sent = self._sent_record(stored)
        if sent is not None:
            sent.deleted = True
        return True

    def _get_file(self, p: JSON) -> JSON:
        stored = self.files.get(p["file_id"])
        if stored is None:
            raise _bad("invalid file_id")
        if stored.size > MAX_DOWNLOAD_SIZE:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    # -- helpers: messages ---------------------------------------------------------------------
    def _formatted(
        self, text: str, parse_mode: str | None, entities: list[JSON] | None
    ) -> tuple[str, list[JSON]]:
        if entities is not None:  # explicit entities win over parse_mode, as on Telegram
            plain, parsed = text, entities
        else:
            try:
                plain, parsed = parse(text, parse_mode)
            except EntityParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from exc
        plain, parsed = strip(plain, parsed)
        return plain, [self._fill_mention(e) for e in parsed]

    def _fill_mention(self, entity: JSON) -> JSON:
        user = entity.get("user")
        if entity.get("type") == "text_mention" and user and user.get("id") in self.users:
            return {**entity, "user": self.users[user["id"]].to_dict()}
        return entity

    def _caption(self, p: JSON) -> JSON:
        if not p.get("caption"):
            return {}
        text, entities = self._formatted(
            p["caption"], p.get("parse_mode"), p.get("caption_entities")
        )
        if utf16_len(text) > 1024:
            raise _bad("message caption is too long")
        out: JSON = {"caption": text}
        if entities:
            out["caption_entities"] = entities
        return out

    def _inline_markup(self, markup: JSON | None) -> JSON | None:
        if not markup or "inline_keyboard" not in markup:
            return None
        for row in markup["inline_keyboard"]:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")
                if set(button) <= {"text"}:
                    raise _bad(
                        "can't parse inline keyboard button: Text buttons are unallowed "
                        "in the inline keyboard"
                    )
        return markup

    def _set_markup(self, stored: _StoredMessage, markup: JSON | None) -> None:
        inline = self._inline_markup(markup)
        if inline and any(row for row in inline["inline_keyboard"]):
            stored.message["reply_markup"] = inline
        else:
            stored.message.pop("reply_markup", None)

    def _bot_message(self, chat: FakeChat, method: str, p: JSON, content: JSON) -> JSON:
        markup = p.get("reply_markup")
        inline = self._inline_markup(markup)
        message: JSON = {
            "message_id": 0,
            "from": self.bot.to_dict(),
            "chat": chat.to_dict(),
            "date": self._date(),
        }
        reply = p.get("reply_parameters")
        if reply:
            target = chat.messages.get(reply["message_id"])
            if target is not None and not target.deleted:
                message["reply_to_message"] = {
                    k: v for k, v in target.message.items() if k != "reply_to_message"
                }
            elif not reply.get("allow_sending_without_reply"):
                raise _bad("message to be replied not found")
        message.update(content)
        if p.get("protect_content"):
            message["has_protected_content"] = True
        if inline and any(row for row in inline["inline_keyboard"]):
            message["reply_markup"] = inline
        message["message_id"] = chat.take_message_id()
        chat.messages[message["message_id"]] = _StoredMessage(message, self.bot.id)
        self._sent.setdefault(chat.id, []).append(
            SentMessage(
                chat.id,
                message["message_id"],
                method,
                message,
                bool(p.get("protect_content")),
                markup,
            )
        )
        return message

    def _sent_record(self, stored: _StoredMessage) -> SentMessage | None:
        chat_id = stored.message["chat"]["id"]
        mid = stored.message["message_id"]
        return next((s for s in self._sent.get(chat_id, []) if s.message_id == mid), None)

    def _store_file(
        self, content: bytes, folder: str, file_name: str | None, mime: str | None
    ) -> StoredFile:
        n = self._next_counter()
        prefix = "AgAC" if folder == "photos" else "BQAC"
        ext = (
            (file_name or "").rsplit(".", 1)[-1]
            if file_name and "." in file_name
            else ("jpg" if folder == "photos" else "bin")
        )
        stored = StoredFile(
            file_id=f"{prefix}AgIAAxkBAAI{n:06d}FakeTelegram",
            file_unique_id=f"AgAD{n:06d}",
            file_path=f"{folder}/file_{n}.{ext}",
            content=content,
            file_name=file_name,
            mime_type=mime,
        )
        self.files[stored.file_id] = stored
        return stored

    def _file_param(self, value: UploadedFile | str, folder: str) -> StoredFile:
        if isinstance(value, UploadedFile):
            return self._store_file(value.content, folder, value.filename, value.content_type)
        if value in self.files:
            return self.files[value]
        if re.match(r"https?://", value):
            # Telegram would fetch the URL; offline, the file is an empty placeholder.
            name = value.rstrip("/").rsplit("/", 1)[-1] or None
            return self._store_file(b"", folder, name, mimetypes.guess_type(name or "")[0])
        raise _bad("wrong file identifier/HTTP URL specified")

    def _document_dict(self, stored: StoredFile) -> JSON:
        doc: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if stored.file_name:
            doc["file_name"] = stored.file_name
        if stored.mime_type:
            doc["mime_type"] = stored.mime_type
        return doc

    # -- helpers: chats & people ---------------------------------------------------------------
    def _canonical(self, method: str) -> str:
        canonical = self.spec.canonical_method(method)
        if canonical is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        return canonical

    def _user(self, user: FakeUser | int) -> FakeUser:
        if isinstance(user, FakeUser):
            return user
        if user == self.bot.id:
            return self.bot
        if user not in self.users:
            raise KeyError(f"unknown user {user}; add it with fake.add_user()")
        return self.users[user]

    def _group(self, chat_id: int) -> FakeChat:
        chat = self.chats.get(chat_id)
        if chat is None or chat.type == "private":
            raise KeyError(f"unknown group {chat_id}; add it with fake.add_group()")
        return chat

    def _private_chat(self, user: FakeUser) -> FakeChat:
        chat = self.chats.get(user.id)
        if chat is None:
            chat = FakeChat(
                user.id,
                "private",
                username=user.username,
                first_name=user.first_name,
                last_name=user.last_name,
            )
            self.chats[user.id] = chat
        return chat

    def _chat_any(self, chat_id: int) -> FakeChat:
        if chat_id in self.chats:
            return self.chats[chat_id]
        return self._private_chat(self._user(chat_id))

    def _resolve_chat(self, chat_ref: int | str, *, for_send: bool = False) -> FakeChat:
        """The chat a bot request names, with Telegram's errors for missing/migrated chats."""
        if isinstance(chat_ref, str):
            name = chat_ref.lstrip("@").lower()
            chat = next(
                (
                    c
                    for c in self.chats.values()
                    if c.type != "private" and (c.username or "").lower() == name
                ),
                None,
            )
            if chat is None:
                raise _bad("chat not found")
        elif chat_ref in self.chats:
            chat = self.chats[chat_ref]
        elif chat_ref in self.users and chat_ref != self.bot.id:
            chat = self._private_chat(self.users[chat_ref])
        else:
            raise _bad("chat not found")
        if chat.migrated_to is not None:
            raise _bad(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if for_send:
            if chat.type == "private":
                user = self.users[chat.id]
                if user.is_bot:
                    raise _forbidden("bot can't send messages to bots")
                if user.blocked:
                    raise _forbidden("bot was blocked by the user")
                if not user.started:
                    raise _forbidden("bot can't initiate conversation with a user")
            else:
                self._require_bot_member(chat)
        return chat

    def _require_bot_member(self, chat: FakeChat) -> None:
        if chat.bot_status == "kicked":
            raise _forbidden(f"bot was kicked from the {chat.kind} chat")
        if chat.bot_status not in ACTIVE_STATUSES:
            raise _forbidden(f"bot is not a member of the {chat.kind} chat")

    def _chat_for_person(self, user: FakeUser, chat_id: int) -> FakeChat:
        if chat_id == user.id:
            if user.blocked:
                self.unblock(user)  # writing to the bot again means restarting it
            user.started = True
            return self._private_chat(user)
        chat = self._group(chat_id)
        if chat.migrated_to is not None:
            raise ValueError(f"group {chat_id} was migrated to {chat.migrated_to}")
        if chat.members.get(user.id) not in ACTIVE_STATUSES:
            raise ValueError(f"user {user.id} is not a member of {chat_id}; use fake.join()")
        return chat

    def _person_message(
        self,
        sender: FakeUser,
        chat: FakeChat,
        content: JSON,
        *,
        reply_to: int | JSON | SentMessage | None = None,
    ) -> JSON:
        message: JSON = {
            "message_id": chat.take_message_id(),
            "from": sender.to_dict(),
            "chat": chat.to_dict(),
            "date": self._date(),
        }
        if reply_to is not None:
            mid = (
                reply_to
                if isinstance(reply_to, int)
                else (
                    reply_to.message_id
                    if isinstance(reply_to, SentMessage)
                    else reply_to["message_id"]
                )
            )
            target = chat.messages.get(mid)
            if target is None or target.deleted:
                raise ValueError(f"no message {mid} in chat {chat.id} to reply to")
            message["reply_to_message"] = {
                k: v for k, v in target.message.items() if k != "reply_to_message"
            }
        message.update(content)
        chat.messages[message["message_id"]] = _StoredMessage(message, sender.id)
        if self._bot_sees(chat, message):
            self._queue_update("message", message)
        return copy.deepcopy(message)

    def _service_message(self, chat: FakeChat, actor: FakeUser | None, content: JSON) -> JSON:
        message: JSON = {"message_id": chat.take_message_id()}
        if actor is not None:
            message["from"] = actor.to_dict()
        message.update({"chat": chat.to_dict(), "date": self._date(), **content})
        chat.messages[message["message_id"]] = _StoredMessage(message, actor.id if actor else None)
        if chat.bot_status in ACTIVE_STATUSES:
            self._queue_update("message", message)
        return copy.deepcopy(message)

    def _bot_sees(self, chat: FakeChat, message: JSON) -> bool:
        """Telegram's privacy mode: what a group message reaches the bot."""
        if chat.type == "private":
            return True
        if chat.bot_status not in ACTIVE_STATUSES:
            return False
        if not self.privacy_mode or chat.bot_status in ADMIN_STATUSES:
            return True
        reply = message.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == self.bot.id:
            return True
        text = message.get("text") or message.get("caption") or ""
        command = re.match(r"/[A-Za-z0-9_]+(?:@([A-Za-z0-9_]+))?", text)
        if command:
            mention = command.group(1)
            return mention is None or mention.lower() == (self.bot.username or "").lower()
        return False

    def _queue_chat_member(
        self, chat: FakeChat, user: FakeUser, old: str, new: str, *, actor: FakeUser
    ) -> JSON | None:
        # Telegram sends chat_member updates only to bots that administer the chat.
        if chat.bot_status not in ADMIN_STATUSES:
            return None
        return self._queue_update("chat_member", self._member_update(chat, actor, user, old, new))

    def _queue_my_chat_member(
        self, chat: FakeChat, actor: FakeUser, old: str, new: str
    ) -> JSON | None:
        return self._queue_update(
            "my_chat_member", self._member_update(chat, actor, self.bot, old, new)
        )

    def _member_update(
        self, chat: FakeChat, actor: FakeUser, user: FakeUser, old: str, new: str
    ) -> JSON:
        return {
            "chat": chat.to_dict(),
            "from": actor.to_dict(),
            "date": self._date(),
            "old_chat_member": self._member_dict(user, old),
            "new_chat_member": self._member_dict(user, new),
        }

    def _queue_update(self, kind: str, payload: JSON) -> JSON | None:
        """Queue an update unless the sticky allowed_updates filter excludes its kind
        (Telegram filters when the update is created, not when it is fetched)."""
        if self._allowed_updates is None:
            allowed = kind not in DEFAULT_EXCLUDED_UPDATES
        else:
            allowed = kind in self._allowed_updates
        if not allowed:
            self.dropped_updates.append((kind, copy.deepcopy(payload)))
            return None
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self._queue.append(update)
        self.updates.append(copy.deepcopy(update))
        self._notify()
        return update

    def _expire_poll(self, state: _PollState) -> None:
        close_date = state.poll.get("close_date")
        if close_date and self._now() >= close_date and not state.poll["is_closed"]:
            state.poll["is_closed"] = True

    # -- misc ----------------------------------------------------------------------------------
    def _violation(self, method: str, kind: str, detail: str) -> None:
        self.spec_violations.append(SpecViolation(method, kind, detail))

    def _date(self) -> int:
        return int(self._now())

    def _next_counter(self) -> int:
        self._counter += 1
        return self._counter

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def _notify(self) -> None:
        """Wake every waiter (long polls, wait_for, wait_until_idle); they re-check state."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _sleep(self, delay: float) -> None:
        if self._closed_event is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed_event.wait(), delay)
