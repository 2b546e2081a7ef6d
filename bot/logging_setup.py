"""Logging that helps to debug and never carries message texts, names or the token."""

from __future__ import annotations

import logging
import re

# Bot API URLs carry the token (".../bot<token>/method"); scrub it wherever it shows up.
TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if TOKEN_PATTERN.search(message):
            record.msg, record.args = TOKEN_PATTERN.sub("<token>", message), None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
