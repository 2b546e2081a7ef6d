"""The coordinator's side: `/pausevolunteer` and `/resumevolunteer`, by name or from a list
whose buttons carry single-use tokens."""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from telegram import InlineKeyboardMarkup, Update

from bot.context import PeerContext
from bot.domain import confirmations, people
from bot.domain import pause as pauses
from bot.domain.matches import matches_for_person
from bot.domain.typed_dates import example_day
from handlers.callbacks import (
    TOKEN,
    Who,
    acknowledge,
    choice,
    offer_confirmation,
    take_confirmation,
)
from handlers.common import (
    coordinator_only,
    keyboard,
    language_of,
    private_only,
    reply,
    texts_for,
)
from handlers.delivery import send_to_person
from handlers.matches_cover_ask import suggestion_offer
from handlers.pause_buttons import BUTTONS, PauseAction

if TYPE_CHECKING:
    from storage.models import Person

from handlers.pause.common import (
    LENGTHS,
    announce_end,
    coordinator_notice,
    couldnt_tell,
    date_example,
    length_keyboard,
    remove_keyboard,
    rhythm,
    volunteer_paused_text,
)

log = logging.getLogger(__name__)


async def _volunteer_buttons(
    update: Update, context: PeerContext, candidates: list[Person], action: PauseAction
) -> InlineKeyboardMarkup:
    """One button per volunteer, each with its own single-use token naming exactly them
    (a newer list replaces this one)."""
    rows = []
    for p in candidates:
        token = await offer_confirmation(
            update, context, _KINDS[action], person_id=p.id, replacing=not rows
        )
        rows.append((p.first_name, BUTTONS.encode(action, token)))
    return keyboard(*rows)


_KINDS = {
    PauseAction.PICK: confirmations.Kind.PAUSE_SOMEONE,
    PauseAction.PICK_LENGTH: confirmations.Kind.PAUSE_SOMEONE,
    PauseAction.RESUME: confirmations.Kind.RESUME_SOMEONE,
}


async def coordinator_pause(
    update: Update, context: PeerContext, person: Person, until_day: date | None
) -> None:
    """The coordinator pauses a volunteer (after a talk): both are told."""
    services = context.services
    _ = texts_for(context, update)
    if person.is_coordinator or services.is_coordinator(person.telegram_user_id):
        await reply(
            update,
            _(
                "{name} is a coordinator, and /pausevolunteer is for volunteers. A coordinator "
                "who needs a break arranges it with the association."
            ).format(name=person.first_name),
        )
        return
    now = services.clock.now()
    matches = await matches_for_person(context.session, services.group_id, person.id, now)
    try:
        pause = await pauses.start_pause(
            context.session,
            services.group_id,
            person.id,
            now,
            until_day=until_day,
            wants_cover=pauses.cover_wanted(matches),
            rhythm=rhythm(services),
            tz=services.tz,
        )
    except pauses.AlreadyPaused:
        await reply(update, _("{name} is already on a pause.").format(name=person.first_name))
        return
    matches = await matches_for_person(
        context.session,
        services.group_id,
        person.id,
        now,
        horizon=pauses.affected_horizon(now, pause.until, services.tz),
    )
    told = await send_to_person(context, person, volunteer_paused_text(context, person, pause))
    language = language_of(context, update.effective_user)
    render = coordinator_notice(context, person, pause, matches, None, by_coordinator=True)
    text = render(context.texts(language), language)
    if not told.sent:
        text += "\n\n" + couldnt_tell(context, person, language)
    markup = None
    coordinator = await people.find_person(
        context.session, services.group_id, update.effective_user.id
    )
    if pause.wants_cover and coordinator is not None:
        # Who could take over, as buttons: one tap asks that volunteer privately.
        lines, markup = await suggestion_offer(
            context, context.session, coordinator, pause, now, language
        )
        if lines:
            text += "\n\n" + "\n".join(lines)
    await reply(update, text, reply_markup=markup)
    log.info("pause %s started by the coordinator for person %s", pause.id, person.id)
    await services.emit("pause_started", context, person=person, pause=pause)


def welcome_back_text(context: PeerContext, person: Person) -> str:
    """In the volunteer's own language, not the coordinator's."""
    _ = context.texts(person.language)
    return _(
        "Welcome back, {name}! Your pause has ended, as you and the coordinator agreed. "
        "It is good to have you here again, and your reminders start again."
    ).format(name=person.first_name)


async def coordinator_resume(update: Update, context: PeerContext, person: Person) -> None:
    services = context.services
    language = language_of(context, update.effective_user)
    _ = context.texts(language)
    try:
        pause = await pauses.end_pause(context.session, person.id, services.clock.now())
    except pauses.NotPaused:
        await reply(update, _("{name} is not on a pause.").format(name=person.first_name))
        return
    welcome = welcome_back_text(context, person)
    told = await send_to_person(context, person, welcome)
    if told.sent:
        text = _("{name}'s pause has ended. I have told them, and their reminders start again.")
    else:
        text = _("{name}'s pause has ended, and their reminders start again.")
    text = text.format(name=person.first_name)
    if not told.sent:
        text += "\n\n" + couldnt_tell(context, person, language)
    await reply(update, text)
    await announce_end(context, person, pause)


@private_only
@coordinator_only
async def pause_volunteer_command(update: Update, context: PeerContext) -> None:
    """`/pausevolunteer @anna [until YYYY-MM-DD]`, or without a name: a list to tap."""
    _ = texts_for(context, update)
    services = context.services
    args = list(context.args or [])
    now = services.clock.now()
    if not args:
        paused = await people.paused_person_ids(context.session, services.group_id, now)
        candidates = [
            p
            for p in await people.members(context.session, services.group_id)
            if p.id not in paused and not services.is_coordinator(p.telegram_user_id)
        ]
        if not candidates:
            await reply(update, _("There is no one to put on a pause right now."))
            return
        await reply(
            update,
            _(
                "Whose pause would you like to register? (Or write /pausevolunteer @name until "
                "{example}.)"
            ).format(example=date_example(context)),
            reply_markup=await _volunteer_buttons(update, context, candidates, PauseAction.PICK),
        )
        return
    person = await volunteer_named(update, context, args[0])
    if person is None:
        return
    until_day: date | None = None
    # "until 15.1.2027", "til 15.1", "til og med 15.1.2027": the words around the date.
    rest = [a for a in args[1:] if a.lower() not in ("until", "til", "og", "med")]
    if rest:
        today = pauses.local_day(now, services.tz)
        parsed = pauses.parse_end_date(rest[0], today)
        if parsed is pauses.DateProblem.TOO_FAR:
            await reply(
                update,
                _(
                    "That is more than two years ahead. Please write an end date until "
                    "{last}, like {example}."
                ).format(
                    last=example_day(pauses.last_planned_day(today)),
                    example=date_example(context),
                ),
            )
            return
        if not isinstance(parsed, date):
            await reply(
                update,
                _("Please write the end date after today, like {example}.").format(
                    example=date_example(context)
                ),
            )
            return
        until_day = parsed
    await coordinator_pause(update, context, person, until_day)


async def volunteer_named(update: Update, context: PeerContext, name: str) -> Person | None:
    """The group member the coordinator named (@username); a kind pointer if unknown."""
    person = await people.find_by_username(context.session, context.services.group_id, name)
    if person is None:
        _ = texts_for(context, update)
        command = update.effective_message.text if update.effective_message else None
        await reply(
            update,
            _(
                "I don't know {who} in the group. Write their @username, like {command} "
                "@name; /volunteers shows who I know."
            ).format(
                who=name[:33],  # a username is at most 32 characters: anything longer is not one
                command=(command or "/pausevolunteer").split()[0].partition("@")[0],
            ),
        )
    return person


@private_only
@coordinator_only
async def resume_volunteer_command(update: Update, context: PeerContext) -> None:
    """`/resumevolunteer @anna`, or without a name: the paused volunteers to tap."""
    _ = texts_for(context, update)
    services = context.services
    args = list(context.args or [])
    if not args:
        paused = await pauses.paused_people(
            context.session, services.group_id, services.clock.now()
        )
        if not paused:
            await reply(update, _("No one is on a pause right now."))
            return
        await reply(
            update,
            _("Whose pause would you like to end?"),
            reply_markup=await _volunteer_buttons(
                update, context, [p for p, _pause in paused], PauseAction.RESUME
            ),
        )
        return
    person = await volunteer_named(update, context, args[0])
    if person is None:
        return
    await coordinator_resume(update, context, person)


async def picked_volunteer(
    update: Update, context: PeerContext, token: str, kind: confirmations.Kind
) -> Person | None:
    """The volunteer a coordinator's list button names (its token used up now), if still in
    the group; None after a kind word."""
    pending = await take_confirmation(update, context, token, kind)
    if pending is None or pending.subject_person_id is None:
        return None
    query = await acknowledge(update)
    await remove_keyboard(query.message)
    person = await people.member_by_id(
        context.session, context.services.group_id, pending.subject_person_id
    )
    if person is None:
        _ = texts_for(context, update)
        await reply(update, _("I can't find that volunteer in the group any more."))
    return person


@BUTTONS.route(PauseAction.PICK, TOKEN, who=Who.COORDINATOR)
async def on_pick(update: Update, context: PeerContext, token: str) -> None:
    """The coordinator picked whom to pause: ask for how long."""
    kind = confirmations.Kind.PAUSE_SOMEONE
    if (person := await picked_volunteer(update, context, token, kind)) is None:
        return
    _ = texts_for(context, update)
    length_token = await offer_confirmation(
        update, context, kind, person_id=person.id, replacing=False
    )
    await reply(
        update,
        _("For how long should {name}'s pause be?").format(name=person.first_name),
        reply_markup=length_keyboard(_, PauseAction.PICK_LENGTH, length_token, with_date=False),
    )


@BUTTONS.route(PauseAction.PICK_LENGTH, TOKEN, choice(*LENGTHS), who=Who.COORDINATOR)
async def on_pick_length(update: Update, context: PeerContext, token: str, length: str) -> None:
    kind = confirmations.Kind.PAUSE_SOMEONE
    if (person := await picked_volunteer(update, context, token, kind)) is None:
        return
    today = pauses.local_day(context.services.clock.now(), context.services.tz)
    await coordinator_pause(
        update, context, person, pauses.planned_end(pauses.Length(length), today)
    )


@BUTTONS.route(PauseAction.RESUME, TOKEN, who=Who.COORDINATOR)
async def on_resume_picked(update: Update, context: PeerContext, token: str) -> None:
    kind = confirmations.Kind.RESUME_SOMEONE
    if (person := await picked_volunteer(update, context, token, kind)) is None:
        return
    await coordinator_resume(update, context, person)
