"""Closing the date poll and deciding the meeting's date, shared by the scheduler pass and
the coordinator's commands (`/closepoll`, `/setmeeting`, a date button).

The poll is closed and the date decided in one transaction, which also promises (outbox)
the post in the group, the reminders and, when no date got a yes, the group's word that
the coordinator will choose: a stop at any moment leaves either an open poll or a decided
meeting whose post the next pass sends (at least once). After the commit the poll is
stopped in Telegram and what the decision promised is sent: the post, the picture for the
coordinator, a word to those who said yes to a moved date (outbox items, at least once).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    TelegramError,
    TimedOut,
)

from bot.context import PeerContext
from bot.domain import meeting as domain
from bot.domain import meeting_messages as messages
from bot.domain import rows
from bot.i18n import Translate
from handlers import meeting_flow as flow
from handlers import meeting_messages
from handlers.common import keyboard
from handlers.delivery import send_due, send_to_group, tell_coordinators
from handlers.meeting_buttons import BUTTONS, MeetingAction

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.models.meeting import Meeting

log = logging.getLogger(__name__)

# Tries of a group call that should not fail on a passing 5xx (stopping the poll).
GROUP_ATTEMPTS = 4


async def retry_in_group(context: PeerContext, method: str, **kwargs: object) -> object:
    """A group call retried on errors where Telegram did not act (5xx, a refused or dropped
    connection), a few times with growing pauses; a time-out is not retried."""
    delay = 1.0
    for attempt in range(1, GROUP_ATTEMPTS + 1):
        try:
            return await send_to_group(context, method, **kwargs)
        except (BadRequest, Forbidden, TimedOut, ChatMigrated):
            raise
        except NetworkError:
            if attempt == GROUP_ATTEMPTS:
                raise
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


async def stop_poll(context: PeerContext, meeting: Meeting) -> None:
    if meeting.poll_message_id is None:
        return
    try:
        await retry_in_group(context, "stop_poll", message_id=meeting.poll_message_id)
    except TelegramError as error:
        # Already closed, gone, or Telegram is having a bad day: the decision still stands.
        log.warning("meeting %s: stopPoll refused: %s", meeting.id, type(error).__name__)


@dataclass(frozen=True)
class Decided:
    meeting: Meeting
    moved: bool
    coming: int
    picture: domain.Picture


async def _decide_in(
    context: PeerContext, session: AsyncSession, meeting: Meeting, starts_at: datetime | None
) -> tuple[Decided | None, list[domain.OptionCount] | None]:
    """Decide (or move) in the caller's transaction; with `starts_at` None, close the poll
    and decide by its answers: no decision when no date got a yes (the counts say why), nor
    when it was closed already (no counts)."""
    services = context.services
    now = services.clock.now()
    config = await flow.load_config(context, session)
    if not meeting.place:
        meeting.place = config.place
    coordinator_ids = flow.coordinators(context)
    moved, counts = False, None
    if starts_at is None:
        closing = await messages.close_poll(
            session, meeting.id, config.leads, services.tz, now, coordinator_ids
        )
        if closing is None or closing.chosen is None:
            return None, closing.counts if closing else None
        counts = closing.counts
    else:
        moved = await messages.decide(
            session, meeting, starts_at, config.leads, services.tz, now, coordinator_ids
        )
    seen = await domain.picture(session, meeting, now, coordinator_ids)
    return Decided(meeting, moved, len(seen.can), seen), counts


async def close(context: PeerContext, meeting_id: int) -> bool:
    """Close the date poll once: decide the date with the most yes (a tie goes to the
    earlier date), or ask the coordinator to choose. False if it was already closed."""
    async with context.services.db.transaction() as session:
        meeting = await rows.meeting(session, meeting_id)
        if meeting.status != domain.OPEN:
            return False
        decided, counts = await _decide_in(context, session, meeting, None)
        if counts is None:
            return False  # closed by another pass a moment earlier
    await stop_poll(context, meeting)
    if decided is None:
        await send_due(context, {messages.NO_DATE})
        await _ask_coordinator_to_choose(context, meeting_id, counts)
    else:
        await _after_decision(context, decided)
    return True


async def _ask_coordinator_to_choose(
    context: PeerContext, meeting_id: int, counts: list[domain.OptionCount]
) -> None:
    def render(_: Translate, language: str) -> str:
        return _(
            "No date in the meeting poll got a yes. Choose one of the dates below, or any "
            "other date like this: {example}"
        ).format(example=flow.setmeeting_example(context, language))

    # The dates on the buttons are in the group's language (one message for every
    # coordinator, through the one `tell_coordinators`).
    language = context.services.language
    buttons = [
        (
            flow.when(context, c.starts_at, language),
            BUTTONS.encode(MeetingAction.CHOOSE, meeting_id, c.position),
        )
        for c in counts
    ]
    await tell_coordinators(
        context, None, render, reply_markup=keyboard(*buttons) if buttons else None
    )


async def _after_decision(context: PeerContext, decided: Decided) -> None:
    """The decision committed with its messages promised: send them now (the post in the
    group, the picture to the coordinator, a word to those who said yes to a moved date).
    A coordinator the bot doesn't know as a person yet is told directly (best effort)."""
    await send_due(context, {messages.DECISION, messages.PICTURE, messages.MOVED})
    async with context.services.db.transaction() as session:
        unknown = await messages.unknown_coordinators(
            session, context.services.group_id, flow.coordinators(context)
        )
    if unknown:
        meeting, seen = decided.meeting, decided.picture
        known = set(flow.coordinators(context)) - unknown
        await tell_coordinators(
            context,
            None,
            lambda _, language: meeting_messages.picture_text(context, meeting, seen, _, language),
            skip=known,
        )
    meeting_id = decided.meeting.id
    await context.services.emit("meeting_decided", context, meeting_id=meeting_id)
    log.info("meeting %s decided (moved=%s), %s coming", meeting_id, decided.moved, decided.coming)


async def choose(
    context: PeerContext, meeting_id: int | None, starts_at: datetime
) -> Decided | None:
    """The coordinator fixes or moves the date (`/setmeeting`, or a button after "no date
    works"). A poll still open is closed with it (one transaction); with no meeting, one
    is made."""
    services = context.services
    now = services.clock.now()
    async with services.db.transaction() as session:
        meeting = (
            await rows.find_meeting(session, meeting_id)
            if meeting_id is not None
            else await domain.latest_meeting(session, services.group_id)
        )
        fresh = meeting is None or (
            meeting.status == domain.DECIDED
            and meeting.starts_at is not None
            and meeting.starts_at <= now
        )
        if fresh:
            meeting = await domain.new_decided_meeting(session, services.group_id, "", now)
        assert meeting is not None
        if meeting.status == domain.DECIDED and meeting.starts_at == starts_at:
            return None  # already so (a second tap, or the same /setmeeting again)
        was_open = meeting.status == domain.OPEN and await domain.claim_close(
            session, meeting.id, now
        )
        decided, _counts = await _decide_in(context, session, meeting, starts_at)
        assert decided is not None
    if was_open:
        await stop_poll(context, meeting)
    await _after_decision(context, decided)
    return decided
