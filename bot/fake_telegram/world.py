"""The fake's world model: users, chats, messages, files, recorded calls, faults and rate
limits, and the API errors it answers with."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

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
