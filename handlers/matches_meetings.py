"""Volunteers and their meetings: the reminders with their buttons, "not this time", and
their own lead times in `/settings`. Seeing and changing the schedule: `matches_schedule.py`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardMarkup, Update

from bot.context import PeerContext
from bot.domain import matches, outbox
from bot.i18n import N_, Translate, ngettext
from handlers.callbacks import acknowledge, small_int
from handlers.common import current_person, keyboard, reply, reply_language, texts_for
from handlers.delivery import Outcome, Outgoing, register_kind, send_to_person
from handlers.matches_common import (
    BUTTONS,
    REMINDER_BUTTONS,
    MatchAction,
    ReminderAction,
    clock,
    names,
    rhythm_text,
    tell_coordinators,
    when,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.models import Match, MatchOccurrence, Person

log = logging.getLogger(__name__)


CANT = {
    "not_found": N_("I can't find that meeting any more."),
    "ended": N_("That match has ended."),
    "not_yours": N_("That meeting is not one of yours."),
    "passed": N_("That meeting has already begun or passed."),
    "already_cancelled": N_("That meeting is already cancelled."),
    "date_in_past": N_("That date and time has already passed. Please choose a later one."),
    # Formatted with `last` (see matches_schedule): only a typed new date is too far.
    "date_too_far": N_("That date is too far ahead. Please choose a date until {last}."),
    "rhythm_incomplete": N_("I didn't catch that. For example: tue 10:00"),
    "shared": N_(
        "An activity's meetings are the same for everyone, so only the coordinator changes "
        "them. You can always say that you can't come."
    ),
}


# Reminders --------------------------------------------------------------------------------


def reminder_text(context: PeerContext, due: matches.DueReminder) -> str:
    language = due.person.language
    _ = context.texts(language)
    moment = when(context, due.starts_at, language)
    if due.kind == "match":
        head = _("Reminder: your meeting with {label} is {when}.")
    else:
        head = _("Reminder: {label} is {when}.")
    lines = [head.format(label=due.label, when=moment)]
    if due.place:
        lines.append(_("Place: {place}").format(place=due.place))
    if due.co_volunteers:
        lines.append(_("Together with {names}.").format(names=names(list(due.co_volunteers), _)))
    return "\n".join(lines)


def reminder_keyboard(_: Translate, delivery_id: int, occurrence_id: int) -> InlineKeyboardMarkup:
    return keyboard(
        (_("I'm coming"), BUTTONS.encode(MatchAction.COMING, delivery_id)),
        (_("Cancel this time"), BUTTONS.encode(MatchAction.CANCEL, occurrence_id)),
        (
            _("I would like to talk to the coordinator"),
            BUTTONS.encode(MatchAction.TALK, occurrence_id),
        ),
    )


async def prepare_reminder(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, now: datetime
) -> Outgoing | None:
    """The outbox asks: still wanted (see `matches.due_reminder`), and what it says."""
    services = context.services
    grace = timedelta(minutes=services.settings.reminder_grace_minutes)
    due = await matches.due_reminder(
        session, services.group_id, claim.subject_id, claim.person_id, now, grace
    )
    if due is None:
        return None
    _ = context.texts(due.person.language)
    return Outgoing(
        due.person.telegram_user_id,
        reminder_text(context, due),
        reminder_keyboard(_, due.delivery_id, due.occurrence_id),
    )


async def after_reminder(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, outcome: Outcome
) -> None:
    """Telegram answered: the row is done, and a second promise of it is not wanted."""
    await matches.record_reminder_outcome(session, claim.subject_id, outcome.value)
    log.info("meeting reminder %s to person %s: %s", claim.subject_id, claim.person_id, outcome)


def register_reminders(application: Any) -> None:
    """Reminders go out through the outbox; a pause holds them, and when it ends only those
    whose meeting is still ahead and within the grace are sent."""
    register_kind(
        application, matches.REMINDER_KIND, prepare_reminder, after_reminder, pausable=True
    )


async def on_coming(update: Update, context: PeerContext, delivery_id: int) -> None:
    query = update.callback_query
    assert query is not None
    _ = texts_for(context, update)
    person = await current_person(context, update)
    services = context.services
    delivery = None
    if person is not None:
        delivery = await matches.acknowledge(
            context.session, services.group_id, delivery_id, person.id, services.clock.now()
        )
    if delivery is None:
        await query.answer(_("I can't find that meeting any more."))
        return
    await query.answer(_("Thank you!"))
    message = query.message
    text = getattr(message, "text", None) or ""
    rest = reminder_keyboard(_, delivery_id, delivery.occurrence_id).inline_keyboard[1:]
    await query.edit_message_text(
        f"{text}\n\n✓ " + _("Lovely, you're coming."),
        reply_markup=InlineKeyboardMarkup(rest),
    )


# "Not this time" ------------------------------------------------------------------------------


async def _own_meeting(
    update: Update, context: PeerContext, occurrence_id: int
) -> tuple[Person, MatchOccurrence, Match] | None:
    """The tapper and their meeting, the tap acknowledged; None after saying kindly why not."""
    await acknowledge(update)
    person = await current_person(context, update)
    if person is None:
        return None
    try:
        occurrence, match, _others = await matches.own_occurrence(
            context.session, context.services.group_id, occurrence_id, person.id
        )
    except matches.MatchError as error:
        await reply(update, texts_for(context, update)(CANT[error.code]))
        return None
    return person, occurrence, match


async def on_cancel_asked(update: Update, context: PeerContext, occurrence_id: int) -> None:
    """For a match, first ask whether the citizen knows; an activity goes on without them."""
    if (found := await _own_meeting(update, context, occurrence_id)) is None:
        return
    person, occurrence, match = found
    _ = texts_for(context, update)
    if match.kind == "activity":
        await _not_coming_to_activity(update, context, person, occurrence_id)
        return
    moment = when(context, occurrence.starts_at, person.language)
    await reply(
        update,
        _("Thank you for saying so. Does {label} know that you can't come {when}?").format(
            label=match.label, when=moment
        ),
        reply_markup=keyboard(
            (_("Yes, the citizen knows"), BUTTONS.encode(MatchAction.CITIZEN_KNOWS, occurrence_id)),
            (
                _("No, can the coordinator tell them?"),
                BUTTONS.encode(MatchAction.CITIZEN_NOT_TOLD, occurrence_id),
            ),
            (_("Keep the meeting"), BUTTONS.encode(MatchAction.KEEP, occurrence_id)),
        ),
    )


async def on_cancel_confirmed(
    update: Update, context: PeerContext, occurrence_id: int, *, citizen_knows: bool
) -> None:
    query = await acknowledge(update)
    _ = texts_for(context, update)
    services = context.services
    person = await current_person(context, update)
    if person is None:
        return
    try:
        change = await matches.cancel_occurrence(
            context.session,
            services.group_id,
            occurrence_id,
            person.id,
            services.clock.now(),
            citizen_informed=citizen_knows,
        )
    except matches.MatchError as error:
        await query.edit_message_text(_(CANT[error.code]))
        return
    assert change.occurrence is not None
    starts = change.occurrence.starts_at
    told = await tell_others(
        context, change.others, change.match, person, matches.ChangeKind.CANCELLED, starts
    )
    lines = [
        _("The meeting {when} is cancelled. Thank you for letting us know.").format(
            when=when(context, starts, person.language)
        )
    ]
    if told:
        lines.append(_("I have told {names}.").format(names=names(told, _)))
    if not citizen_knows:
        lines.append(
            _("I have asked the coordinator to let {label} know.").format(label=change.match.label)
        )

        def build(_: Translate, language: str) -> str:
            return _(
                "{name} can't come to the meeting with {label} {when}. {label} doesn't know "
                "yet: could you let them know?"
            ).format(
                name=person.first_name,
                label=change.match.label,
                when=when(context, starts, language),
            )

        await tell_coordinators(context, context.session, build)
    await query.edit_message_text("\n".join(lines))
    log.info("occurrence %s cancelled by person %s", occurrence_id, person.id)


async def _not_coming_to_activity(
    update: Update, context: PeerContext, person: Person, occurrence_id: int
) -> None:
    """One volunteer can't come to an activity: the activity itself goes on."""
    _ = texts_for(context, update)
    services = context.services
    occurrence, match, others = await matches.own_occurrence(
        context.session, services.group_id, occurrence_id, person.id, services.clock.now()
    )
    await matches.skip_for_person(context.session, occurrence_id, person.id, services.clock.now())
    told = await tell_others(
        context, others, match, person, matches.ChangeKind.NOT_COMING, occurrence.starts_at
    )
    text = _("Thank you for saying so. Take care.")
    if told:
        text += " " + _("I have told {names}.").format(names=names(told, _))
    await reply(update, text)


async def tell_others(
    context: PeerContext,
    others: list[Person],
    match: Match,
    actor: Person,
    what: matches.ChangeKind,
    starts,
    new_starts=None,
) -> list[str]:
    """Tell the other volunteers of the match; returns the names of those reached."""
    reached = []
    for other in others:
        _ = context.texts(other.language)
        moment = when(context, starts, other.language)
        if what is matches.ChangeKind.CANCELLED:
            text = _(
                "{name} can't come to the meeting with {label} {when}, "
                "so it is cancelled this time."
            )
        elif what is matches.ChangeKind.NOT_COMING:
            text = _("{name} can't come to {label} {when}.")
        elif what is matches.ChangeKind.MOVED:
            text = _("{name} has moved the meeting with {label} from {when} to {new}.")
        else:
            text = _("{name} has changed the meetings with {label}: from now on {rhythm}.")
        body = text.format(
            name=actor.first_name,
            label=match.label,
            when=moment,
            new=when(context, new_starts, other.language) if new_starts else "",
            rhythm=rhythm_text(match, _, other.language),
        )
        if (await send_to_person(context, other, body)).sent:
            reached.append(other.first_name)
    return reached


async def on_cancel_kept(update: Update, context: PeerContext, _occurrence_id: int) -> None:
    query = await acknowledge(update)
    _ = texts_for(context, update)
    await query.edit_message_text(_("Good, the meeting stays as it is."))


async def on_talk(update: Update, context: PeerContext, occurrence_id: int) -> None:
    """Tell the coordinator privately: first name and match label only."""
    if (found := await _own_meeting(update, context, occurrence_id)) is None:
        return
    person, _occurrence, match = found
    _ = texts_for(context, update)

    def build(_: Translate, language: str) -> str:
        return _("{name} would like to talk with you (about {label}).").format(
            name=person.first_name, label=match.label
        )

    await tell_coordinators(context, context.session, build)
    await reply(update, _("I have told the coordinator, who will get in touch with you."))


# /settings: my meeting reminders ----------------------------------------------------------

DAY_HOURS = (16, 17, 18, 19, 20)
HOUR_COUNTS = (1, 2, 3, 4)


def _settings_view(pref, _: Translate, language: str) -> tuple[str, InlineKeyboardMarkup]:
    on, off = _("on"), _("off")
    text = "\n".join(
        [
            _("Your meeting reminders:"),
            "• "
            + _("The day before at {time}: {state}").format(
                time=clock(time(pref.day_before_hour), language),
                state=on if pref.day_before else off,
            ),
            "• "
            + ngettext(
                language,
                "{count} hour before: {state}",
                "{count} hours before: {state}",
                pref.hours_before_count,
            ).format(count=pref.hours_before_count, state=on if pref.hours_before else off),
        ]
    )
    encode = REMINDER_BUTTONS.encode
    return text, keyboard(
        (
            _("Turn off the day-before reminder")
            if pref.day_before
            else _("Turn on the day-before reminder"),
            encode(ReminderAction.DAY_BEFORE),
        ),
        [
            (
                ("✓ " if h == pref.day_before_hour else "") + clock(time(h), language),
                encode(ReminderAction.DAY_HOUR, h),
            )
            for h in DAY_HOURS
        ],
        (
            _("Turn off the hours-before reminder")
            if pref.hours_before
            else _("Turn on the hours-before reminder"),
            encode(ReminderAction.HOURS_BEFORE),
        ),
        [
            (
                ("✓ " if n == pref.hours_before_count else "")
                + ngettext(language, "{count} hour", "{count} hours", n).format(count=n),
                encode(ReminderAction.HOUR_COUNT, n),
            )
            for n in HOUR_COUNTS
        ],
    )


async def _reminder_change(
    update: Update, context: PeerContext, change: Callable[[Any], dict[str, object]]
) -> None:
    """Change one reminder preference and show the settings again."""
    query = update.callback_query
    assert query is not None
    _ = texts_for(context, update)
    person = await current_person(context, update)
    if person is None:
        await query.answer()
        return
    # Answered first: the tap's spinner stops without waiting for the reads and writes.
    await query.answer(_("Saved."))
    services = context.services
    pref = await matches.preference(context.session, services.group_id, person.id)
    pref = await matches.update_preference(
        context.session,
        services.group_id,
        person.id,
        services.clock.now(),
        services.tz,
        **change(pref),
    )
    text, markup = _settings_view(pref, _, reply_language(context, update))
    await query.edit_message_text(text, reply_markup=markup)


@REMINDER_BUTTONS.route(ReminderAction.SETTINGS)
async def on_reminder_settings(update: Update, context: PeerContext) -> None:
    """The "My meeting reminders" section of /settings."""
    await acknowledge(update)
    person = await current_person(context, update)
    if person is None:
        return
    _ = texts_for(context, update)
    pref = await matches.preference(context.session, context.services.group_id, person.id)
    text, markup = _settings_view(pref, _, reply_language(context, update))
    await reply(update, text, reply_markup=markup)


@REMINDER_BUTTONS.route(ReminderAction.DAY_BEFORE)
async def on_day_before(update: Update, context: PeerContext) -> None:
    await _reminder_change(update, context, lambda pref: {"day_before": not pref.day_before})


@REMINDER_BUTTONS.route(ReminderAction.HOURS_BEFORE)
async def on_hours_before(update: Update, context: PeerContext) -> None:
    await _reminder_change(update, context, lambda pref: {"hours_before": not pref.hours_before})


@REMINDER_BUTTONS.route(ReminderAction.DAY_HOUR, small_int(*DAY_HOURS))
async def on_day_hour(update: Update, context: PeerContext, hour: int) -> None:
    await _reminder_change(update, context, lambda _pref: {"day_before_hour": hour})


@REMINDER_BUTTONS.route(ReminderAction.HOUR_COUNT, small_int(*HOUR_COUNTS))
async def on_hour_count(update: Update, context: PeerContext, count: int) -> None:
    await _reminder_change(update, context, lambda _pref: {"hours_before_count": count})
