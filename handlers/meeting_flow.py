"""The monthly meeting's sending side, shared by the coordinator's commands and the
scheduler pass: open the date poll, nudge, close and decide, move, remind, close other polls.

Every step claims its row in its own committed transaction before sending, so a restart
never sends anything twice. These functions open their own transactions (they run from
`run_due` and from commands that have written nothing in the update's transaction).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from babel.dates import format_date
from icalendar import Calendar, Event
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
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
from bot.domain import meeting_dates as dates
from bot.domain import meeting_messages as messages
from bot.domain import people, rows
from bot.domain.typed_dates import example_clock, example_day
from bot.i18n import N_, Translate, format_when, ngettext
from handlers.delivery import Delivery, Outcome, send_private, send_to_group
from handlers.meeting_buttons import BUTTONS, MeetingAction

if TYPE_CHECKING:
    from storage.models import Person
    from storage.models.meeting import Meeting

log = logging.getLogger(__name__)

# Tries of a group message that must not be lost to a passing 5xx (the decision).
GROUP_ATTEMPTS = 4

ICS_FILENAME = "frivilligmoede.ics"
MEETING_TITLE = N_("Volunteer meeting")


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
    return context.services.settings.coordinator_ids


def when(context: PeerContext, moment: datetime, language: str) -> str:
    return format_when(moment, context.services.tz, language, now=context.services.clock.now())


def month_name(year: int, month: int, language: str) -> str:
    return format_date(date(year, month, 1), "MMMM", locale=language)


def poll_link(meeting: Meeting) -> str | None:
    """A link to the poll message; only supergroups have one."""
    chat = str(meeting.poll_chat_id or "")
    if chat.startswith("-100") and meeting.poll_message_id:
        return f"https://t.me/c/{chat.removeprefix('-100')}/{meeting.poll_message_id}"
    return None


async def coordinator_language(context: PeerContext, user_id: int) -> str:
    async with context.services.db.transaction() as session:
        person = await people.find_person(session, context.services.group_id, user_id)
    return person.language if person else context.services.settings.language


Render = Callable[[Translate, str], str]


async def tell_coordinators(context: PeerContext, render: Render) -> None:
    """Send each coordinator a private message in their language: `render(_, language)`."""
    for user_id in coordinators(context):
        language = await coordinator_language(context, user_id)
        delivery = await send_private(
            context.bot, user_id, render(context.texts(language), language)
        )
        if not delivery.sent:
            log.warning("coordinator %s not reached: %s", user_id, delivery.outcome)


async def send_and_remember(
    context: PeerContext, person: Person, text: str, **kwargs: object
) -> Delivery:
    """Private send from a scheduler pass: remember in its own transaction when Telegram
    says the person can't be reached."""
    delivery = await send_private(context.bot, person.telegram_user_id, text, **kwargs)
    if delivery.outcome in (Outcome.NOT_STARTED, Outcome.BLOCKED):
        async with context.services.db.transaction() as session:
            await people.mark_unreachable(
                session, person.id, blocked=delivery.outcome is Outcome.BLOCKED
            )
    return delivery


# Opening the poll -----------------------------------------------------------------------------


async def open_poll(
    context: PeerContext,
    candidates: list[datetime],
    closes_at: datetime,
    place: str,
    *,
    schedule_key: str | None = None,
) -> Meeting | None:
    """Claim a meeting row, post the poll in the group, remember the poll. None when the
    month's scheduled poll was already claimed."""
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
    _ = context.texts()
    language = services.settings.language
    first = candidates[0].astimezone(services.tz)
    question = _(
        "When can you come to the volunteer meeting in {month}? Tick every day that suits "
        "you (answers until {day}). The others in the group can see what you answer."
    ).format(
        month=month_name(first.year, first.month, language),
        day=when(context, closes_at, language),
    )
    options = [when(context, c, language) for c in candidates]
    options.append(_("I can't make any of the days"))
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
        # Certainly not posted: forget the claim, so a later pass (or command) tries again.
        async with services.db.transaction() as session:
            await domain.drop_meeting(session, meeting.id)
        raise
    except TelegramError:
        # Perhaps posted (a time-out): never risk a second poll; the coordinator checks.
        async with services.db.transaction() as session:
            await domain.give_up_opening(session, meeting.id)
        await tell_coordinators(
            context,
            lambda _, language: _(
                "I am not sure the meeting poll reached the group. Please have a look; if it "
                "isn't there, open it with /meetingpoll."
            ),
        )
        raise
    async with services.db.transaction() as session:
        await domain.attach_poll(
            session, meeting.id, message.poll.id, message.chat_id, message.message_id
        )
    meeting.poll_id, meeting.poll_chat_id = message.poll.id, message.chat_id
    meeting.poll_message_id, meeting.status = message.message_id, domain.OPEN
    log.info("meeting %s: poll opened with %s dates", meeting.id, len(candidates))
    return meeting


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
        lambda _, language: _(
            "I found no free dates for the volunteer meeting in {month} with the current "
            "settings. You can name dates yourself: {example}"
        ).format(
            month=month_name(year, month, language), example=dates_example(context, language)
        ),
    )


# Closing and deciding -------------------------------------------------------------------------


async def retry_in_group(context: PeerContext, method: str, **kwargs: object) -> object:
    """A group call retried on errors where Telegram did not act (5xx, a refused or dropped
    connection), a few times with growing pauses. A time-out is not retried: the message may
    have arrived, and two decisions in the group are worse than one the coordinator misses."""
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
        # Already closed, gone, or Telegram is having a bad day: the decision still stands
        # (an error here used to abort the closing after its claim, losing the decision).
        log.warning("meeting %s: stopPoll refused: %s", meeting.id, type(error).__name__)


async def close(context: PeerContext, meeting_id: int) -> bool:
    """Close the date poll once: decide the date with the most yes (a tie goes to the
    earlier date), or ask the coordinator to choose. False if it was already closed."""
    services = context.services
    now = services.clock.now()
    async with services.db.transaction() as session:
        if not await domain.claim_close(session, meeting_id, now):
            return False
        meeting = await rows.meeting(session, meeting_id)
    await stop_poll(context, meeting)
    async with services.db.transaction() as session:
        counted = {
            p.id
            for p in await domain.volunteers(session, services.group_id, now, coordinators(context))
        }
        counts = await domain.tally(session, meeting_id, counted)
    chosen = domain.winning_date(counts)
    if chosen is None:
        await _ask_coordinator_to_choose(context, meeting_id, counts)
    else:
        await decide(context, meeting_id, chosen)
    return True


async def _ask_coordinator_to_choose(
    context: PeerContext, meeting_id: int, counts: list[domain.OptionCount]
) -> None:
    _ = context.texts()
    await send_to_group(
        context,
        "send_message",
        text=_(
            "No date got a yes this time. The coordinator will find a date and let you know."
        ),
    )

    def render(_: Translate, language: str) -> str:
        return _(
            "No date in the meeting poll got a yes. Choose one of the dates below, or any "
            "other date like this: {example}"
        ).format(example=setmeeting_example(context, language))

    for user_id in coordinators(context):
        language = await coordinator_language(context, user_id)
        buttons = [
            [
                InlineKeyboardButton(
                    when(context, c.starts_at, language),
                    callback_data=BUTTONS.encode(MeetingAction.CHOOSE, meeting_id, c.position),
                )
            ]
            for c in counts
        ]
        await send_private(
            context.bot,
            user_id,
            render(context.texts(language), language),
            reply_markup=InlineKeyboardMarkup(buttons) if buttons else None,
        )


@dataclass(frozen=True)
class Decided:
    meeting: Meeting
    moved: bool
    coming: int
    picture: domain.Picture
    told_before: list[Person]  # said yes to the old date (a move)


async def decide(context: PeerContext, meeting_id: int, starts_at: datetime) -> Decided:
    """Fix (or move) the meeting's date, then tell the group (with the calendar invitation),
    the coordinator (the whole picture) and, on a move, those who had said yes."""
    services = context.services
    now = services.clock.now()
    async with services.db.transaction() as session:
        config = await load_config(context, session)
        meeting = await rows.meeting(session, meeting_id)
        if not meeting.place:
            meeting.place = config.place
        old_yes: list[Person] = []
        if meeting.status == domain.DECIDED:
            before = await domain.picture(session, meeting, now, coordinators(context))
            old_yes = before.can
        moved = await messages.decide(
            session, meeting, starts_at, config.leads, services.tz, now, coordinators(context)
        )
        seen = await domain.picture(session, meeting, now, coordinators(context))
    result = Decided(meeting, moved, len(seen.can), seen, old_yes)
    await _announce(context, result, config.duration)
    await _tell_coordinator_the_picture(context, result)
    if moved:
        await _tell_about_the_move(context, result)
    await services.emit("meeting_decided", context, meeting_id=meeting_id)
    log.info("meeting %s decided (moved=%s), %s coming", meeting_id, moved, result.coming)
    return result


def calendar_invitation(
    context: PeerContext, meeting: Meeting, duration: timedelta, language: str
) -> bytes:
    """An .ics file; the same UID with a higher SEQUENCE updates it in calendars on a move."""
    assert meeting.starts_at is not None
    _ = context.texts(language)
    calendar = Calendar()
    calendar.add("prodid", "-//PeerBot//frivilligmoede//DA")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"meeting-{meeting.group_id}-{meeting.id}@peerbot")
    event.add("dtstamp", context.services.clock.now())
    event.add("dtstart", meeting.starts_at)
    event.add("dtend", meeting.starts_at + duration)
    event.add("summary", _(MEETING_TITLE))
    event.add("sequence", meeting.sequence)
    if meeting.place:
        event.add("location", meeting.place)
    calendar.add_component(event)
    return calendar.to_ical()


async def _announce(context: PeerContext, decided: Decided, duration: timedelta) -> None:
    """One group message: date, time, place, how many are coming, with the .ics."""
    meeting = decided.meeting
    assert meeting.starts_at is not None
    language = context.services.settings.language
    _ = context.texts(language)
    moment = when(context, meeting.starts_at, language)
    if decided.moved:
        lines = [_("The volunteer meeting has moved to {when}.").format(when=moment)]
    else:
        lines = [_("The volunteer meeting will be on {when}.").format(when=moment)]
    if meeting.place:
        lines.append(_("Place: {place}").format(place=meeting.place))
    if not decided.moved and decided.coming:
        lines.append(
            ngettext(
                language,
                "So far {count} person can come.",
                "So far {count} people can come.",
                decided.coming,
            ).format(count=decided.coming)
        )
    lines.append(_("The calendar invitation is attached. Welcome!"))
    ics = calendar_invitation(context, meeting, duration, language)
    await retry_in_group(
        context,
        "send_document",
        document=InputFile(ics, filename=ICS_FILENAME),
        caption="\n".join(lines),
    )


def _names(people_list: list[Person]) -> str:
    return ", ".join(p.first_name for p in people_list) or "–"


async def _tell_coordinator_the_picture(context: PeerContext, decided: Decided) -> None:
    meeting, seen = decided.meeting, decided.picture
    assert meeting.starts_at is not None

    def render(_: Translate, language: str) -> str:
        assert meeting.starts_at is not None
        moment = when(context, meeting.starts_at, language)
        return "\n".join(
            [
                _("The volunteer meeting is set for {when}.").format(when=moment),
                _("Can come ({count}): {names}").format(
                    count=len(seen.can), names=_names(seen.can)
                ),
                _("Can't come ({count}): {names}").format(
                    count=len(seen.cannot), names=_names(seen.cannot)
                ),
                _("Haven't answered ({count}): {names}").format(
                    count=len(seen.unanswered), names=_names(seen.unanswered)
                ),
            ]
        )

    await tell_coordinators(context, render)


async def _tell_about_the_move(context: PeerContext, decided: Decided) -> None:
    meeting = decided.meeting
    assert meeting.starts_at is not None
    for person in decided.told_before:
        if not person.reachable:
            continue
        _ = context.texts(person.language)
        text = _(
            "Hi {name}. The volunteer meeting you said yes to has moved to {when}. I hope it "
            "still suits you – and if not, that is completely fine."
        ).format(name=person.first_name, when=when(context, meeting.starts_at, person.language))
        await send_and_remember(context, person, text)


async def choose(
    context: PeerContext, meeting_id: int | None, starts_at: datetime
) -> Decided | None:
    """The coordinator fixes or moves the date (`/setmeeting`, or a button after "no date
    works"). A poll still open is closed first; with no meeting, one is made."""
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
    if was_open:
        await stop_poll(context, meeting)
    return await decide(context, meeting.id, starts_at)


# Other polls --------------------------------------------------------------------------------


async def close_group_poll(context: PeerContext, poll_row_id: int) -> bool:
    """Stop the coordinator's poll once and send them the result."""
    services = context.services
    async with services.db.transaction() as session:
        if not await domain.claim_group_poll(session, poll_row_id, services.clock.now()):
            return False
        row = await rows.group_poll(session, poll_row_id)
    try:
        poll = await send_to_group(context, "stop_poll", message_id=row.message_id)
    except TelegramError as error:
        log.warning("group poll %s: stopPoll refused: %s", poll_row_id, type(error).__name__)
        return True

    count = poll.total_voter_count

    def render(_: Translate, language: str) -> str:
        lines = [
            _('Result of your poll "{question}":').format(question=row.question),
            *(f"• {option.text}: {option.voter_count}" for option in poll.options),
            ngettext(
                language, "{count} person answered.", "{count} people answered.", count
            ).format(count=count),
        ]
        return "\n".join(lines)

    await tell_coordinators(context, render)
    return True
