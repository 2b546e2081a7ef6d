"""Sending a broadcast's copies: what the outbox sender asks for each claimed copy
(`prepare`), and the copy itself (`send_copy`): the preview copied through the rate
limiter at bulk priority. Telegram's 429 is retried by the rate limiter; 5xx answers are
retried here (Telegram did not take the message); a time-out or a dropped connection is
not retried (the copy may have arrived): the wait for an answer is long, and the
coordinator decides with the report's button."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.context import PeerContext
from bot.domain import broadcast as broadcasts
from bot.ratelimit import PeerRateLimiter, Priority
from handlers.delivery import Outcome, Outgoing, classify_forbidden, send_to_group

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.domain.outbox import Claim

log = logging.getLogger(__name__)

# How many copies may be on their way at once; the rate limiter sets the pace.
CONCURRENCY = 12
# Wait this long for Telegram's answer to a copy before calling its fate unknown.
SEND_READ_TIMEOUT = 30.0
# Telegram answered 5xx: it did not take the message, so it is safe to try again.
SERVER_ERROR_ATTEMPTS = 5


async def prepare(
    context: PeerContext, session: AsyncSession, claim: Claim, now: datetime
) -> Outgoing | None:
    """The outbox asks what a claimed copy is, if it is still wanted."""
    services = context.services
    copy = await broadcasts.copy_for(session, services.group_id, claim, now)
    if copy is None:
        return None
    chat_id = services.group_chat_id if copy.chat_id is None else copy.chat_id
    return Outgoing(chat_id, send=functools.partial(send_copy, context, copy))


def _bulk(context: PeerContext) -> dict[str, Any]:
    """Broadcast copies yield to interactive answers (only our limiter knows priorities)."""
    limiter = context.bot.rate_limiter
    return {"rate_limit_args": Priority.BULK} if isinstance(limiter, PeerRateLimiter) else {}


async def send_copy(context: PeerContext, claim: broadcasts.Copy) -> Outcome:
    """Copy the preview to one recipient (or the group); returns what became of it."""
    kwargs: dict[str, Any] = {
        "from_chat_id": claim.from_chat_id,
        "message_id": claim.message_id,
        "read_timeout": SEND_READ_TIMEOUT,
        **_bulk(context),
    }
    to_group = claim.chat_id is None
    # A 5xx costs no slot of the rate limiter (it gives it back), so the first retry goes
    # at once: waiting would only hold a worker while the others keep the pace.
    delay = 0.0
    for attempt in range(1, SERVER_ERROR_ATTEMPTS + 1):
        try:
            if to_group:
                await send_to_group(context, "copy_message", **kwargs)
            else:
                await context.bot.copy_message(chat_id=claim.chat_id, **kwargs)
            return Outcome.SENT
        except Forbidden as error:
            if to_group:
                log.warning("broadcast: the group refused the copy")
                return Outcome.FAILED
            return classify_forbidden(error)
        except BadRequest as error:
            if not to_group and "chat not found" in str(error).lower():
                return Outcome.NOT_STARTED
            log.warning("broadcast: copy refused (%s)", type(error).__name__)
            return Outcome.FAILED
        except RetryAfter:
            return Outcome.FAILED  # the limiter already waited and retried
        except ChatMigrated:
            return Outcome.FAILED
        except TimedOut as error:
            if "pool timeout" not in str(error).lower():
                return Outcome.UNKNOWN  # it may have arrived: never send it twice
            # No free connection: the request never left, so waiting and retrying is safe.
            if attempt == SERVER_ERROR_ATTEMPTS:
                break
            await asyncio.sleep(delay)
            delay = max(0.5, delay * 2)
        except NetworkError as error:
            text = str(error)
            never_sent = not text.startswith("httpx.") or "ConnectError" in text
            if not never_sent:
                return Outcome.UNKNOWN  # the connection broke mid-request
            if attempt == SERVER_ERROR_ATTEMPTS:
                break
            await asyncio.sleep(delay)
            delay = max(0.5, delay * 2)
    return Outcome.FAILED
