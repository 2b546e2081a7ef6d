"""The monthly meeting's promised messages, sent by the outbox (`handlers/delivery.py`): the
nudge to answer the date poll and the reminders of the decided meeting (private), and the
decision's post in the group with the calendar invitation (or the word that no date got a
yes). The domain promises them (`bot/domain/meeting_messages.py`) in the transaction that
decides; here they are rendered when due, if still wanted. At least once: a message a stop
cut off is sent again after the restart."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from icalendar import Calendar, Event
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile

from bot.context import PeerContext
from bot.domain import meeting as domain
from bot.domain import meeting_messages as messages
from bot.domain import rows
from bot.domain.outbox import Claim
from bot.i18n import N_, Translate, ngettext
from handlers import meeting_flow as flow
from handlers.delivery import Outgoing, register_kind, send_due, tell_coordinators

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.models import Person
    from storage.models.meeting import Meeting

log = logging.getLogger(__name__)

ICS_FILENAME = "frivilligmoede.ics"
MEETING_TITLE = N_("Volunteer meeting")


async def prepare_nudge(
    context: PeerContext, session: AsyncSession, claim: Claim, now: datetime
) -> Outgoing | None:
    """A gentle nudge to answer the poll, with a link to it where the group has one."""
    found = await messages.wanted_nudge(session, claim, now, flow.coordinators(context))
    if found is None:
        return None
    meeting, person = found
    _ = context.texts(person.language)
    text = _(
        "Hi {name}. The poll about the volunteer meeting closes tomorrow. If you like, "
        "tick the days that suit you – it helps us find a time that suits as many as "
        "possible."
    ).format(name=person.first_name)
    markup = None
    link = flow.poll_link(meeting)
    if link:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(_("See the poll"), url=link)]])
    else:
        text += "\n\n" + _("You find the poll in the group.")
    return Outgoing(person.telegram_user_id, text, markup)


async def prepare_reminder(
    context: PeerContext, session: AsyncSession, claim: Claim, now: datetime
) -> Outgoing | None:
    """The meeting's date and place, as they are when the reminder is due."""
    grace = timedelta(minutes=context.services.settings.reminder_grace_minutes)
    found = await messages.wanted_reminder(session, claim, now, grace, flow.coordinators(context))
    if found is None:
        return None
    meeting, person = found
    assert meeting.starts_at is not None
    _ = context.texts(person.language)
    lines = [
        _("A little reminder: the volunteer meeting is on {when}.").format(
            when=flow.when(context, meeting.starts_at, person.language)
        )
    ]
    if meeting.place:
        lines.append(_("Place: {place}").format(place=meeting.place))
    lines.append(
        _("It would be lovely to see you. If you can't come after all, that is completely fine.")
    )
    return Outgoing(person.telegram_user_id, "\n".join(lines))


async def nudge_rounds(context: PeerContext) -> None:
    """A day before a poll closes: promise the nudges, send them, and once none is left
    to send, list for the coordinator (once) whom the bot can't write to. A round a stop
    cut short is taken up again by the next pass: the promises are kept once each."""
    services = context.services
    coordinator_ids = flow.coordinators(context)
    async with services.db.transaction() as session:
        now = services.clock.now()
        due = []
        for meeting in await messages.due_nudge_rounds(session, services.group_id, now):
            await messages.promise_nudges(session, meeting, now, coordinator_ids)
            due.append(meeting.id)
    if not due:
        return
    await send_due(context, {messages.NUDGE})
    for meeting_id in due:
        async with services.db.transaction() as session:
            now = services.clock.now()
            if await messages.nudges_outstanding(session, meeting_id):
                continue  # e.g. a network error left one for the next pass
            if not await messages.finish_nudge_round(session, meeting_id, now):
                continue
            meeting = await rows.meeting(session, meeting_id)
            unreachable = await messages.unreachable_waiting(session, meeting, now, coordinator_ids)
        log.info("meeting %s: nudges sent, %s unreachable", meeting_id, len(unreachable))
        if unreachable:
            await tell_unreachable(context, unreachable)


async def tell_unreachable(context: PeerContext, unreachable: list[Person]) -> None:
    names = ", ".join(p.first_name for p in unreachable)
    await tell_coordinators(
        context,
        None,
        lambda _, language: _(
            "These volunteers haven't answered the meeting poll yet, and I can't write "
            "to them privately (they haven't started a chat with me yet): {names}. "
            "Perhaps you could give them a nudge?"
        ).format(names=names),
    )


async def on_person_started(context: PeerContext, person: Person, **_: Any) -> None:
    """Someone who starts the bot after the meeting was decided gets its reminders too
    (in the update's transaction; the sender judges them when due)."""
    services = context.services
    session = context.session
    now = services.clock.now()
    meeting = await messages.upcoming_meeting(session, services.group_id, now)
    if meeting is None or person.telegram_user_id in flow.coordinators(context):
        return
    config = await flow.load_config(context, session)
    await messages.plan_reminders_for(session, meeting, person.id, config.leads, services.tz, now)


# In the group ---------------------------------------------------------------------------------


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


async def prepare_group_post(
    context: PeerContext, session: AsyncSession, claim: Claim, now: datetime
) -> Outgoing | None:
    """The decision (date, time, place, how many can come, with the .ics), or that no date
    got a yes; as things are when it is sent (a newer date's post replaces an older one)."""
    meeting = await messages.wanted_group_post(session, claim, now)
    if meeting is None:
        return None
    services = context.services
    language = services.language
    _ = context.texts(language)
    if claim.kind == messages.NO_DATE:
        text = _("No date got a yes this time. The coordinator will find a date and let you know.")
        return Outgoing(services.group_chat_id, text)
    assert meeting.starts_at is not None
    moment = flow.when(context, meeting.starts_at, language)
    moved = meeting.sequence > 0
    if moved:
        lines = [_("The volunteer meeting has moved to {when}.").format(when=moment)]
    else:
        lines = [_("The volunteer meeting will be on {when}.").format(when=moment)]
    if meeting.place:
        lines.append(_("Place: {place}").format(place=meeting.place))
    coordinator_ids = flow.coordinators(context)
    coming = len((await domain.picture(session, meeting, now, coordinator_ids)).can)
    if not moved and coming:
        lines.append(
            ngettext(
                language,
                "So far {count} person can come.",
                "So far {count} people can come.",
                coming,
            ).format(count=coming)
        )
    lines.append(_("The calendar invitation is attached. Welcome!"))
    config = await flow.load_config(context, session)
    ics = calendar_invitation(context, meeting, config.duration, language)
    document = InputFile(ics, filename=ICS_FILENAME)
    return Outgoing(services.group_chat_id, "\n".join(lines), document=document)


# After the decision ------------------------------------------------------------------------


def _names(people_list: list[Person]) -> str:
    return ", ".join(p.first_name for p in people_list) or "–"


def picture_text(
    context: PeerContext, meeting: Meeting, seen: domain.Picture, _: Translate, language: str
) -> str:
    """For the coordinator: the date, who can come, who can't, who hasn't answered."""
    assert meeting.starts_at is not None
    moment = flow.when(context, meeting.starts_at, language)
    return "\n".join(
        [
            _("The volunteer meeting is set for {when}.").format(when=moment),
            _("Can come ({count}): {names}").format(count=len(seen.can), names=_names(seen.can)),
            _("Can't come ({count}): {names}").format(
                count=len(seen.cannot), names=_names(seen.cannot)
            ),
            _("Haven't answered ({count}): {names}").format(
                count=len(seen.unanswered), names=_names(seen.unanswered)
            ),
        ]
    )


async def prepare_after_decision(
    context: PeerContext, session: AsyncSession, claim: Claim, now: datetime
) -> Outgoing | None:
    """The picture for a coordinator, or the word about the move to a volunteer who had
    said yes to the old date; as things are when it is sent."""
    coordinator_ids = flow.coordinators(context)
    found = await messages.wanted_after_decision(session, claim, now, coordinator_ids)
    if found is None:
        return None
    meeting, person = found
    assert meeting.starts_at is not None
    _ = context.texts(person.language)
    if claim.kind == messages.PICTURE:
        seen = await domain.picture(session, meeting, now, coordinator_ids)
        text = picture_text(context, meeting, seen, _, person.language)
        return Outgoing(person.telegram_user_id, text)
    text = _(
        "Hi {name}. The volunteer meeting you said yes to has moved to {when}. I hope it "
        "still suits you – and if not, that is completely fine."
    ).format(name=person.first_name, when=flow.when(context, meeting.starts_at, person.language))
    return Outgoing(person.telegram_user_id, text)


def register(application: Any, services: Any) -> None:
    # The poll's post is at most once: one a stop cut off is never posted again.
    register_kind(application, domain.POLL, flow.prepare_poll, flow.after_poll, at_most_once=True)
    register_kind(application, domain.GROUP_POLL, flow.prepare_group_poll, flow.after_group_poll)
    register_kind(application, messages.NUDGE, prepare_nudge)
    register_kind(application, messages.REMINDER, prepare_reminder)
    register_kind(application, messages.DECISION, prepare_group_post)
    register_kind(application, messages.NO_DATE, prepare_group_post)
    register_kind(application, messages.PICTURE, prepare_after_decision)
    register_kind(application, messages.MOVED, prepare_after_decision)
    services.on("person_started", on_person_started)
