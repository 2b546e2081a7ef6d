"""Logging that helps to debug and never carries message texts, names or the token."""

from __future__ import annotations

import logging
import re
import sys
import traceback
from types import TracebackType

# Bot API URLs carry the token (".../bot<token>/method"); scrub it wherever it shows up.
TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


def redact(text: str) -> str:
    """The text with every bot token replaced by <token>."""
    return TOKEN_PATTERN.sub("<token>", text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if TOKEN_PATTERN.search(message):
            record.msg, record.args = TOKEN_PATTERN.sub("<token>", message), None
        return True


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted line, tracebacks included: an exception's message (PTB's
    InvalidToken quotes the token it was given) never passes through a filter."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def redacting_excepthook(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """sys.excepthook: an uncaught exception (e.g. at start-up) is printed without tokens."""
    sys.stderr.write(redact("".join(traceback.format_exception(kind, error, trace))))


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL (with the token); PTB's debug logs whole updates (texts);
    # aiosqlite and SQLAlchemy's debug logs carry query parameters (names, labels).
    quiet = (
        "httpx",
        "httpcore",
        "telegram",
        "apscheduler",
        "aiohttp.access",
        "aiosqlite",
        "sqlalchemy",
        "asyncpg",
        "alembic",
    )
    for noisy in quiet:
        logging.getLogger(noisy).setLevel(logging.WARNING)


class ContentFreeLibraryLogs(logging.Filter):
    """python-telegram-bot's DEBUG lines carry whole updates and request parameters, i.e.
    the very message a volunteer asked us to pass on and never keep. Keep the line (the
    endpoint, the update id) and drop the content, whatever level the logger is set to."""

    LOGGERS = ("telegram.ext.Application", "telegram.ext.ExtBot", "telegram.Bot")

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.args, tuple) or not record.args:
            return True
        if record.msg in ("Processing update %s", "Dropping pending update: %s"):
            record.args = (f"#{getattr(record.args[0], 'update_id', '?')}",)
        elif isinstance(record.msg, str) and "Bot API endpoint" in record.msg:
            record.args = (record.args[0], *("<content not logged>",) * (len(record.args) - 1))
        return True

    @classmethod
    def install(cls) -> None:
        for name in cls.LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, cls) for f in logger.filters):
                logger.addFilter(cls())
