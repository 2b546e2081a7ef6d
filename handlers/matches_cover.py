"""Temporary cover while a volunteer is on a pause: `/cover`, its buttons, and the end of
every cover when that pause ends."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import Update

from bot.context import PeerContext
from bot.domain import matches, people
from bot.domain.matches import asks
from bot.i18n import N_, Translate
from handlers.callbacks import ID, Who, acknowledge
from handlers.common import (
    coordinator_only,
    keyboard,
    private_only,
    reply,
    reply_language,
    texts_for,
)
from handlers.delivery import send_to_person
from handlers.matches_common import BUTTONS, MatchAction, rhythm_text, tell_coordinators, when

if TYPE_CHECKING:
    from storage.models import Match, Pause, Person

log = logging.getLogger(__name__)

# /cover --------------------------------------------------------------------------------------


@private_only
@coordinator_only
async def cover_command(update: Update, context: PeerContext) -> None:
    """Pick a match that needs cover, then a volunteer; or `/cover K.L. @dennis`."""
    _ = texts_for(context, update)
    services = context.services
    now = services.clock.now()
    args = list(context.args or [])
    if len(args) >= 2 and args[-1].startswith("@"):
        label = " ".join(args[:-1]).strip('"“”')
        found = await matches.find_running_by_label(context.session, services.group_id, label)
        person = await people.find_by_username(context.session, services.group_id, args[-1])
        if not found:
            await reply(update, _("I can't find a running match or activity with that name."))
            return
        if person is None:
            await reply(
                update,
                _(
                    "I don't know {username} in the group yet. "
                    "They need to be a member of the group."
                ).format(username=args[-1][:33]),
            )
            return
        if len(found) > 1:  # two citizens with the same label: let the coordinator choose
            language = reply_language(context, update)
            markup = keyboard(
                *(
                    (
                        f"{m.label}: {rhythm_text(m, _, language)}",
                        BUTTONS.encode(MatchAction.COVER_WITH, m.id, person.id),
                    )
                    for m in found
                )
            )
            await reply(update, _("Which match needs cover?"), reply_markup=markup)
            return
        await _cover(update, context, found[0].id, person.id)
        return
    views = await matches.overview(context.session, services.group_id, now)
    needing = [v.match for v in views if v.needs_cover]
    if not needing:
        await reply(
            update, _("No match needs cover right now. (Or in one line: /cover K.L. @dennis)")
        )
        return
    rows = [(m.label, BUTTONS.encode(MatchAction.COVER_MATCH, m.id)) for m in needing]
    await reply(update, _("Which match needs cover?"), reply_markup=keyboard(*rows))


async def _cover_pick_volunteer(update: Update, context: PeerContext, match_id: int) -> None:
    _ = texts_for(context, update)
    services = context.services
    now = services.clock.now()
    on_match = {p.id for p in await matches.active_volunteers_of(context.session, match_id)}
    coordinators = set(services.coordinator_ids)
    candidates = [
        p
        for p in await people.active_volunteers(context.session, services.group_id, now)
        if p.id not in on_match and p.telegram_user_id not in coordinators
    ]
    if not candidates:
        await reply(update, _("Nobody else is free to cover right now."))
        return
    rows = [
        (p.first_name, BUTTONS.encode(MatchAction.COVER_WITH, match_id, p.id)) for p in candidates
    ]
    await reply(update, _("Who will cover for now?"), reply_markup=keyboard(*rows))


COVER_ERRORS = {
    "not_found": N_("I can't find a running match or activity with that name."),
    "already_on_match": N_("That volunteer is already on this match."),
    "cover_is_paused": N_("That volunteer is on a pause themselves."),
    "nobody_paused": N_("Nobody on that match is on a pause, so it needs no cover."),
}


def cover_text(
    context: PeerContext, match: Match, volunteer: Person, starts: list, *, for_good: bool = False
) -> str:
    language = volunteer.language
    _ = context.texts(language)
    greeting = (
        _("Hi {name}! Thank you for taking over the meetings with {label}: {rhythm}.")
        if for_good
        else _("Hi {name}! Thank you for covering the meetings with {label} for a while: {rhythm}.")
    )
    lines = [
        greeting.format(
            name=volunteer.first_name, label=match.label, rhythm=rhythm_text(match, _, language)
        )
    ]
    if match.place:
        lines.append(_("Place: {place}").format(place=match.place))
    if starts:
        lines += ["", _("The next meetings:")]
        lines += [f"• {when(context, s, language)}" for s in starts]
    lines += ["", _("You will get the usual reminders. See your meetings with /meetings.")]
    return "\n".join(lines)


async def _cover(update: Update, context: PeerContext, match_id: int, person_id: int) -> None:
    _ = texts_for(context, update)
    services = context.services
    now = services.clock.now()
    try:
        cover = await matches.add_cover(
            context.session,
            services.group_id,
            match_id,
            person_id,
            now,
            services.tz,
            take_over=True,
        )
    except matches.MatchError as error:
        await reply(update, _(COVER_ERRORS[error.code]))
        return
    volunteer, match = cover.volunteer, cover.match
    upcoming = await matches.next_occurrences(context.session, match.id, now, limit=3)
    starts = [o.starts_at for o in upcoming]
    for_good = cover.paused is None  # nobody on the match was in the group any more
    text_for_volunteer = cover_text(context, match, volunteer, starts, for_good=for_good)
    told = (await send_to_person(context, volunteer, text_for_volunteer)).sent
    if cover.paused is None:
        text = _("{name} has the meetings with {label} from now on.").format(
            name=volunteer.first_name, label=match.label
        )
    else:
        text = _(
            "{name} now has the meetings with {label} until {paused} is back from the pause."
        ).format(name=volunteer.first_name, label=match.label, paused=cover.paused.first_name)
    if not told:
        text += "\n" + _(
            "{name} hasn't started a chat with me yet, so I could not tell them. "
            "Please ask them to send me /start."
        ).format(name=volunteer.first_name)
    await reply(update, text)
    pause_id = cover.pause.id if cover.pause is not None else None
    log.info("match %s covered by person %s (pause %s)", match.id, volunteer.id, pause_id)


# When a pause ends -------------------------------------------------------------------------


async def on_pause_ended(context: PeerContext, person: Person, pause: Pause, **_kw: object) -> None:
    """Temporary covers tied to that pause end; the covering volunteer and the coordinator
    are told. Works inside an update's transaction or in a scheduler pass."""
    async with context.transaction() as session:
        await _end_covers(context, session, pause.id)


def _cover_ended_text(context: PeerContext, match: Match, volunteer: Person) -> str:
    _ = context.texts(volunteer.language)
    return _(
        "The regular volunteer is back, so your time as a temporary volunteer with {label} "
        "ends here. Thank you for taking the meetings!"
    ).format(label=match.label)


async def _end_covers(context: PeerContext, session, pause_id: int) -> None:
    services = context.services
    ended = await matches.end_covers_for_pause(
        session, services.group_id, pause_id, services.clock.now()
    )
    await asks.void_for_pause(session, pause_id, services.clock.now())
    for match, volunteer in ended:
        await send_to_person(context, volunteer, _cover_ended_text(context, match, volunteer))

        def build(
            _: Translate, language: str, match: Match = match, volunteer: Person = volunteer
        ) -> str:
            return _(
                "The pause is over, so {name} no longer takes the meetings with {label} as a "
                "temporary volunteer."
            ).format(name=volunteer.first_name, label=match.label)

        await tell_coordinators(context, session, build)
        log.info(
            "cover of match %s by person %s ended with pause %s", match.id, volunteer.id, pause_id
        )


# Buttons -------------------------------------------------------------------------------------


@BUTTONS.route(MatchAction.COVER_MATCH, ID, who=Who.COORDINATOR)
async def on_cover_match(update: Update, context: PeerContext, match_id: int) -> None:
    await acknowledge(update)
    await _cover_pick_volunteer(update, context, match_id)


@BUTTONS.route(MatchAction.COVER_WITH, ID, ID, who=Who.COORDINATOR)
async def on_cover_with(
    update: Update, context: PeerContext, match_id: int, person_id: int
) -> None:
    await acknowledge(update)
    await _cover(update, context, match_id, person_id)
