"""A local fake of the Telegram Bot API for end-to-end tests and demos.

Standalone on purpose: it imports nothing from the rest of PeerBot, so it stands in for
Telegram rather than mirroring the bot's assumptions.
"""

from .server import (
    ApiError,
    Call,
    FakeChat,
    FakeTelegram,
    FakeUser,
    RateLimits,
    SentMessage,
    SpecViolation,
    StoredFile,
)
from .spec import Spec, UploadedFile, load_spec

__all__ = [
    "ApiError",
    "Call",
    "FakeChat",
    "FakeTelegram",
    "FakeUser",
    "RateLimits",
    "SentMessage",
    "Spec",
    "SpecViolation",
    "StoredFile",
    "UploadedFile",
    "load_spec",
]
