"""The monthly meeting's shared helpers (settings, examples, dates in words, the poll
link, telling the coordinator), opening the date poll (its post is an outbox item, at most
once: never two polls) and closing the coordinator's other polls. Closing and deciding:
`handlers/meeting_decision.py`; nudges, reminders and the decision's group post:
`handlers/meeting_messages.py`.

These functions open their own transactions (they run from `run_due` and from commands
that have written nothing in the update's transaction).
"""

from __future__ import annotations

import functools
import logging
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from babel.dates import format_date
from telegram.error import (
    BadRequest,
    Forbidden,
    TelegramError,
)

from bot.context import PeerContext
from bot.domain import meeting as domain
from bot.domain import meeting_dates as dates
from bot.domain import outbox, rows
from bot.domain.typed_dates import example_clock, example_day
from bot.i18n import Translate, ngettext
from handlers.delivery import (
    Outcome,
    Outgoing,
    send_due,
    send_to_group,
    tell_coordinators,
)
from handlers.matches_common import when

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.models.meeting import Meeting

log = logging.getLogger(__name__)


def _example_days(context: PeerContext) -> tuple[date, date]:
    """Two days a week or so ahead of today (the app's clock), for examples."""
    services = context.services
    today = services.clock.now().astimezone(services.tz).date()
    first = today + timedelta(days=8)
    return first, first + timedelta(days=1)


def setmeeting_example(context: PeerContext, language: str) -> str:
    """`/setmeeting 9.12.2026 17.00`, dated from today."""
    first, _second = _example_days(context)
    return f"/setmeeting {example_day(first)} {example_clock(time(17), language)}"


def dates_example(context: PeerContext, language: str) -> str:
    """`/meetingpoll 9.12.2026 17.00, 10.12.2026 16.30`, dated from today."""
    first, second = _example_days(context)
    return (
        f"/meetingpoll {example_day(first)} {example_clock(time(17), language)}, "
        f"{example_day(second)} {example_clock(time(16, 30), language)}"
    )


def setting_defaults(context: PeerContext) -> dict[str, str]:
    settings = context.services.settings
    return {
        "slots": settings.meeting_candidate_slots,
        "place": settings.meeting_place,
        "count": str(settings.meeting_candidate_count),
        "opens": settings.meeting_poll_opens,
        "days": str(settings.meeting_poll_days),
        "reminders": settings.meeting_reminders,
    }


async def load_config(context: PeerContext, session: object) -> domain.MeetingConfig:
    return await domain.load_config(
        session,  # type: ignore[arg-type]
        context.services.group_id,
        setting_defaults(context),
        context.services.settings.meeting_duration_minutes,
    )


def coordinators(context: PeerContext) -> tuple[int, ...]:
    return context.services.coordinator_ids


def month_name(year: int, month: int, language: str) -> str:
    return format_date(date(year, month, 1), "MMMM", locale=language)


def poll_link(meeting: Meeting) -> str | None:
    """A link to the poll message; only supergroups have one."""
    chat = str(meeting.poll_chat_id or "")
    if chat.startswith("-100") and meeting.poll_message_id:
        return f"https://t.me/c/{chat.removeprefix('-100')}/{meeting.poll_message_id}"
    return None


# Opening the poll -----------------------------------------------------------------------------


async def open_poll(
    context: PeerContext,
    candidates: list[datetime],
    closes_at: datetime,
    place: str,
    *,
    schedule_key: str | None = None,
) -> Meeting | None:
    """Open a meeting with its dates (promising its poll's post), and post it now. None
    when the month's scheduled poll was already claimed; else the meeting as the post left
    it: "open" (posted), "closed" (perhaps posted: the coordinator was told), or gone
    (refused: a later pass or command tries again)."""
    services = context.services
    now = services.clock.now()
    try:
        async with services.db.transaction() as session:
            meeting = await domain.open_meeting(
                session,
                services.group_id,
                candidates,
                closes_at,
                place,
                now,
                schedule_key=schedule_key,
            )
    except rows.AlreadyClaimed:
        return None
    await send_due(context, {domain.POLL})
    async with services.db.transaction() as session:
        return await rows.find_meeting(session, meeting.id)


async def prepare_poll(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, now: datetime
) -> Outgoing | None:
    """The date poll, in the group's language, while its meeting is still being opened."""
    services = context.services
    meeting = await domain.wanted_poll(session, claim.subject_id)
    if meeting is None:
        return None
    candidates = [o.starts_at for o in await domain.options(session, meeting.id) if o.starts_at]
    assert meeting.closes_at is not None
    _ = context.texts()
    language = services.language
    first = candidates[0].astimezone(services.tz)
    question = _(
        "When can you come to the volunteer meeting in {month}? Tick every day that suits "
        "you (answers until {day}). The others in the group can see what you answer."
    ).format(
        month=month_name(first.year, first.month, language),
        day=when(context, meeting.closes_at, language),
    )
    options = [when(context, c, language) for c in candidates]
    options.append(_("I can't make any of the days"))
    post = functools.partial(_post_poll, context, meeting.id, question, options)
    return Outgoing(services.group_chat_id, send=post)


async def _post_poll(
    context: PeerContext, meeting_id: int, question: str, options: list[str]
) -> Outcome:
    """Post the poll once (never retried: a second try could mean two polls) and remember
    it, so its answers are counted and it can be closed."""
    services = context.services
    try:
        message = await send_to_group(
            context,
            "send_poll",
            question=question,
            options=options,
            is_anonymous=False,
            allows_multiple_answers=True,
        )
    except (BadRequest, Forbidden):
        return Outcome.FAILED  # certainly not posted: `after_poll` lets a later try come
    except TelegramError:
        # Perhaps posted (a time-out, a 5xx): never risk a second poll; the coordinator checks.
        async with services.db.transaction() as session:
            unsure = await domain.give_up_opening(session, meeting_id)
        if unsure:
            await tell_unsure(context, None)
        return Outcome.UNKNOWN
    async with services.db.transaction() as session:
        await domain.attach_poll(
            session, meeting_id, message.poll.id, message.chat_id, message.message_id
        )
    log.info("meeting %s: poll opened with %s dates", meeting_id, len(options) - 1)
    return Outcome.SENT


async def after_poll(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, outcome: Outcome
) -> None:
    """Refused: the meeting is forgotten, so a later pass (or command) opens it again. A
    post a stop cut off ("unknown", never sent again): the coordinator looks."""
    if outcome is Outcome.FAILED:
        await domain.drop_meeting(session, claim.subject_id)
    elif outcome is Outcome.UNKNOWN and await domain.give_up_opening(session, claim.subject_id):
        await tell_unsure(context, session)


async def tell_unsure(context: PeerContext, session: AsyncSession | None) -> None:
    await tell_coordinators(
        context,
        session,
        lambda _, language: _(
            "I am not sure the meeting poll reached the group. Please have a look; if it "
            "isn't there, open it with /meetingpoll."
        ),
    )


async def open_scheduled_poll(context: PeerContext) -> None:
    """The month's poll, at the configured moment, once."""
    services = context.services
    now, tz = services.clock.now(), services.tz
    async with services.db.transaction() as session:
        config = await load_config(context, session)
        year, month = dates.upcoming_poll_month(now, tz)
        opens_at = dates.poll_opening_for(year, month, config.opening, tz)
        local_open = opens_at.astimezone(tz)
        closes_at = dates.local_moment(
            local_open.date() + timedelta(days=config.poll_days), local_open.time(), tz
        )
        if now < opens_at or now >= closes_at:
            return
        if await domain.open_meeting_poll(session, services.group_id) is not None:
            return
        if await domain.month_is_planned(session, services.group_id, year, month, tz):
            return
    candidates = dates.candidate_dates(year, month, config.slots, config.count, tz, now)
    key = dates.month_key(year, month)
    if not candidates:
        await _no_candidates(context, year, month, key, now)
        return
    await open_poll(context, candidates, closes_at, config.place, schedule_key=key)


async def _no_candidates(
    context: PeerContext, year: int, month: int, key: str, now: datetime
) -> None:
    """Nothing to offer this month: tell the coordinator once (the claimed row says so)."""
    services = context.services
    try:
        async with services.db.transaction() as session:
            meeting = await domain.open_meeting(
                session, services.group_id, [], now, "", now, schedule_key=key
            )
            meeting.status = domain.CLOSED
    except rows.AlreadyClaimed:
        return
    await tell_coordinators(
        context,
        None,
        lambda _, language: _(
            "I found no free dates for the volunteer meeting in {month} with the current "
            "settings. You can name dates yourself: {example}"
        ).format(month=month_name(year, month, language), example=dates_example(context, language)),
    )


# Other polls --------------------------------------------------------------------------------


async def close_group_poll(context: PeerContext, poll_row_id: int) -> None:
    """`/closepoll` for the coordinator's other poll: close it now, once, with its result."""
    services = context.services
    async with services.db.transaction() as session:
        await domain.close_group_poll_now(session, poll_row_id, services.clock.now())
    await send_due(context, {domain.GROUP_POLL})


async def prepare_group_poll(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, now: datetime
) -> Outgoing | None:
    """Closing the coordinator's other poll, while it is open."""
    row = await domain.wanted_group_poll(session, claim.subject_id)
    if row is None:
        return None
    close = functools.partial(_stop_group_poll, context, row.id, row.message_id, row.question)
    return Outgoing(context.services.group_chat_id, send=close)


async def _stop_group_poll(
    context: PeerContext, poll_row_id: int, message_id: int, question: str
) -> Outcome:
    """Stop the poll and send the coordinators its result."""
    try:
        poll = await send_to_group(context, "stop_poll", message_id=message_id)
    except TelegramError as error:
        log.warning("group poll %s: stopPoll refused: %s", poll_row_id, type(error).__name__)
        return Outcome.FAILED
    count = poll.total_voter_count

    def render(_: Translate, language: str) -> str:
        lines = [
            _('Result of your poll "{question}":').format(question=question),
            *(f"• {option.text}: {option.voter_count}" for option in poll.options),
            ngettext(
                language, "{count} person answered.", "{count} people answered.", count
            ).format(count=count),
        ]
        return "\n".join(lines)

    await tell_coordinators(context, None, render)
    return Outcome.SENT


async def after_group_poll(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, outcome: Outcome
) -> None:
    """Closed (also when Telegram refused to stop it: it is not tried again)."""
    await domain.group_poll_closed(session, claim.subject_id, context.services.clock.now())
