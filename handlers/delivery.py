"""Sending with Telegram's bad days in mind: who can't be reached, bounded retries, and a
group whose id changed."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from telegram import Bot, Message
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter

from bot.context import PeerContext
from bot.domain import people
from bot.ratelimit import retry_seconds

if TYPE_CHECKING:
    from storage.models import Person

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
MAX_RETRY_AFTER_SECONDS = 60.0


class Outcome(StrEnum):
    SENT = "sent"
    NOT_STARTED = "not_started"  # never opened a private chat with the bot
    BLOCKED = "blocked"
    FAILED = "failed"


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    message: Message | None = None

    @property
    def sent(self) -> bool:
        return self.outcome is Outcome.SENT


def classify_forbidden(error: Forbidden) -> Outcome:
    text = str(error).lower()
    if "blocked" in text or "deactivated" in text:
        return Outcome.BLOCKED
    return Outcome.NOT_STARTED


async def send_private(bot: Bot, chat_id: int, text: str, **kwargs: Any) -> Delivery:
    """Send a private message; retry what is worth retrying, a bounded number of times."""
    return await _with_retries(bot.send_message, chat_id=chat_id, text=text, **kwargs)


async def _with_retries(method: Any, **kwargs: Any) -> Delivery:
    delay = 1.0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return Delivery(Outcome.SENT, await method(**kwargs))
        except Forbidden as error:
            return Delivery(classify_forbidden(error))
        except BadRequest as error:
            if "chat not found" in str(error).lower():
                return Delivery(Outcome.NOT_STARTED)
            log.warning("%s refused: %s", getattr(method, "__name__", "call"), type(error).__name__)
            return Delivery(Outcome.FAILED)
        except RetryAfter as error:
            # The app's rate limiter already waited and retried; this is its last word.
            await asyncio.sleep(min(retry_seconds(error), MAX_RETRY_AFTER_SECONDS))
        except NetworkError as error:  # includes TimedOut; ChatMigrated is handled by callers
            if isinstance(error, ChatMigrated):
                raise
            if attempt == MAX_ATTEMPTS:
                break
            await asyncio.sleep(delay)
            delay *= 2
    return Delivery(Outcome.FAILED)


def remember_outcome(person: Person, delivery: Delivery) -> None:
    """Keep the person's row true to what Telegram said (the caller's session saves it)."""
    if delivery.outcome is Outcome.NOT_STARTED:
        person.started_bot = False
    elif delivery.outcome is Outcome.BLOCKED:
        person.blocked_bot = True


async def send_to_person(
    context: PeerContext, person: Person, text: str, **kwargs: Any
) -> Delivery:
    """Send to a person in private and remember when Telegram says they can't be reached."""
    delivery = await send_private(context.bot, person.telegram_user_id, text, **kwargs)
    remember_outcome(person, delivery)
    return delivery


async def send_document_private(bot: Bot, chat_id: int, **kwargs: Any) -> Delivery:
    return await _with_retries(bot.send_document, chat_id=chat_id, **kwargs)


async def send_to_group(context: PeerContext, method: str = "send_message", **kwargs: Any) -> Any:
    """Call a Bot method on the group; follows the group if it became a supergroup."""
    services = context.services
    call = getattr(context.bot, method)
    try:
        return await call(chat_id=services.group_chat_id, **kwargs)
    except ChatMigrated as error:
        await follow_migration(context, error.new_chat_id)
        return await call(chat_id=services.group_chat_id, **kwargs)


async def follow_migration(context: PeerContext, new_chat_id: int) -> None:
    """Store the group's new id (its own transaction: this may happen inside a job)."""
    services = context.services
    if services.group_chat_id == new_chat_id:
        return
    async with services.db.transaction() as session:
        await people.migrate_group(session, services.group_id, new_chat_id)
    services.group_chat_id = new_chat_id
    log.info("group row %s was upgraded to a supergroup; following its new id", services.group_id)
