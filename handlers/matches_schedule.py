"""`/meetings`: a volunteer's next meetings, each with buttons to move or cancel it, and a
new rhythm for a match; the typed answers to "when instead?" and "which weekday and time?"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from telegram import Update

from bot.context import PeerContext
from bot.domain import matches
from bot.domain.schedule import BIWEEKLY, WEEKLY
from bot.domain.typed_dates import example_day, last_allowed_day
from handlers import conversation
from handlers.callbacks import acknowledge
from handlers.common import (
    current_person,
    keyboard,
    private_only,
    reply,
    texts_for,
    volunteer_only,
)
from handlers.matches_common import (
    BUTTONS,
    RHYTHM_BIWEEKLY,
    RHYTHM_WEEKLY,
    MatchAction,
    clock,
    example_moment,
    names,
    occurrence_line,
    parse_date_and_time,
    parse_weekday_and_time,
    rhythm_text,
    today,
    when,
)
from handlers.matches_meetings import CANT, tell_others

if TYPE_CHECKING:
    from storage.models import Match

RHYTHM_INCOMPLETE = "rhythm_incomplete"


@dataclass(kw_only=True)
class MoveMeeting(conversation.Flow):
    """ "When should the meeting be instead?": waiting for a date and a time."""

    step: Literal["when"] = "when"
    occurrence_id: int
    restart: ClassVar[str] = "/meetings"


@dataclass(kw_only=True)
class NewRhythm(conversation.Flow):
    """A new rhythm was chosen: waiting for the weekday and time."""

    step: Literal["when"] = "when"
    match_id: int
    rhythm: str  # WEEKLY or BIWEEKLY
    restart: ClassVar[str] = "/meetings"


# /meetings -----------------------------------------------------------------------------------


def _short(context: PeerContext, occurrence, language: str) -> str:
    local = occurrence.starts_at.astimezone(context.services.tz)
    return f"{local.day}/{local.month} {clock(local.time(), language)}"


@private_only
@volunteer_only
async def meetings_command(update: Update, context: PeerContext) -> None:
    """My next meetings, each with buttons to move or cancel it, and the rhythm."""
    _ = texts_for(context, update)
    services = context.services
    person = await current_person(context, update)
    assert person is not None
    language = person.language
    upcoming = await matches.upcoming_for_person(
        context.session, services.group_id, person.id, services.clock.now(), limit=6
    )
    if not upcoming:
        await reply(update, _("You have no meetings planned right now."))
        return
    lines = [_("Your next meetings:")]
    rows = []
    seen_matches: dict[int, Match] = {}
    for meeting in upcoming:
        match, occurrence = meeting.match, meeting.occurrence
        seen_matches.setdefault(match.id, match)
        line = f"• {match.label}: {occurrence_line(context, occurrence, _, language)}"
        lines.append(line)
        if occurrence.status == matches.CANCELLED:
            continue
        short = _short(context, occurrence, language)
        if match.kind == "activity":
            # One volunteer can't change an activity for everyone; they can say they can't come.
            cancel = BUTTONS.encode(MatchAction.CANCEL, occurrence.id)
            rows.append((_("Can't come {day}").format(day=short), cancel))
            continue
        rows.append(
            [
                (
                    _("Move {day}").format(day=short),
                    BUTTONS.encode(MatchAction.MOVE, occurrence.id),
                ),
                (
                    _("Cancel {day}").format(day=short),
                    BUTTONS.encode(MatchAction.CANCEL, occurrence.id),
                ),
            ]
        )
    for match in seen_matches.values():
        if match.kind == "match" and match.rhythm in (WEEKLY, BIWEEKLY):
            rows.append(
                (
                    _("Change the rhythm for {label}").format(label=match.label),
                    BUTTONS.encode(MatchAction.CHANGE_RHYTHM, match.id),
                )
            )
    markup = keyboard(*rows) if rows else None
    await reply(update, "\n".join(lines), reply_markup=markup)


async def _may_change(
    update: Update,
    context: PeerContext,
    *,
    occurrence_id: int | None = None,
    match_id: int | None = None,
) -> bool:
    """Whether the volunteer tapping may move this meeting or change this rhythm; if not,
    they are told kindly why (a stale or hand-made button changes nothing)."""
    person = await current_person(context, update)
    if person is None:
        return False
    group_id = context.services.group_id
    try:
        if occurrence_id is not None:
            await matches.changeable_occurrence(context.session, group_id, occurrence_id, person.id)
        if match_id is not None:
            await matches.changeable_match(context.session, group_id, match_id, person.id)
    except matches.MatchError as error:
        await reply(update, texts_for(context, update)(CANT.get(error.code, CANT["not_found"])))
        return False
    return True


async def on_move_asked(update: Update, context: PeerContext, occurrence_id: int) -> None:
    await acknowledge(update)
    _ = texts_for(context, update)
    if not await _may_change(update, context, occurrence_id=occurrence_id):
        return
    conversation.start(context, MoveMeeting, occurrence_id=occurrence_id)
    await reply(
        update,
        _(
            "When should the meeting be instead? Write a date and a time, for example: {example}"
        ).format(example=example_moment(today(context))),
    )


async def on_rhythm_asked(update: Update, context: PeerContext, match_id: int) -> None:
    await acknowledge(update)
    _ = texts_for(context, update)
    if not await _may_change(update, context, match_id=match_id):
        return
    await reply(
        update,
        _("How often will you meet from now on?"),
        reply_markup=keyboard(
            (_("Every week"), BUTTONS.encode(MatchAction.RHYTHM_CHOSEN, match_id, RHYTHM_WEEKLY)),
            (
                _("Every other week"),
                BUTTONS.encode(MatchAction.RHYTHM_CHOSEN, match_id, RHYTHM_BIWEEKLY),
            ),
        ),
    )


async def on_rhythm_chosen(update: Update, context: PeerContext, match_id: int, kind: str) -> None:
    await acknowledge(update)
    _ = texts_for(context, update)
    if not await _may_change(update, context, match_id=match_id):
        return
    rhythm = WEEKLY if kind == RHYTHM_WEEKLY else BIWEEKLY
    conversation.start(context, NewRhythm, match_id=match_id, rhythm=rhythm)
    await reply(update, _("Which weekday and time? For example: tue 10:00"))


async def meetings_text(update: Update, context: PeerContext, text: str) -> bool:
    """A typed answer to "when instead?" or "which weekday and time?"."""
    pending = conversation.get(context, MoveMeeting) or conversation.get(context, NewRhythm)
    if pending is None:
        return False
    _ = texts_for(context, update)
    services = context.services
    person = await current_person(context, update)
    if person is None:
        return False
    now = services.clock.now()
    try:
        if isinstance(pending, MoveMeeting):
            moment = parse_date_and_time(text, today(context))
            if moment is None:
                await reply(
                    update,
                    _("I didn't catch that. For example: {example}").format(
                        example=example_moment(today(context))
                    ),
                )
                return True
            occurrence = await matches.find_occurrence(context.session, pending.occurrence_id)
            old_starts = occurrence.starts_at if occurrence else None
            change = await matches.move_occurrence(
                context.session,
                services.group_id,
                pending.occurrence_id,
                person.id,
                *moment,
                now,
                services.tz,
            )
            assert change.occurrence is not None
            new_starts = change.occurrence.starts_at
            told = await tell_others(
                context,
                change.others,
                change.match,
                person,
                matches.ChangeKind.MOVED,
                old_starts,
                new_starts,
            )
            answer = _("Done: the meeting with {label} is now {when}.").format(
                label=change.match.label, when=when(context, new_starts, person.language)
            )
        else:
            parsed = parse_weekday_and_time(text)
            if parsed is None:
                await reply(update, _(CANT[RHYTHM_INCOMPLETE]))
                return True
            plan = matches.Plan(pending.rhythm, weekday=parsed[0], at=parsed[1])
            change = await matches.change_rhythm(
                context.session,
                services.group_id,
                pending.match_id,
                person.id,
                plan,
                now,
                services.tz,
            )
            told = await tell_others(
                context, change.others, change.match, person, matches.ChangeKind.RHYTHM, now
            )
            first = await matches.next_occurrences(context.session, change.match.id, now, limit=1)
            answer = _("Done: you now meet {label} {rhythm}.").format(
                label=change.match.label, rhythm=rhythm_text(change.match, _, person.language)
            )
            if first:
                answer += "\n" + _("Next meeting: {when}.").format(
                    when=when(context, first[0].starts_at, person.language)
                )
    except matches.MatchError as error:
        last = example_day(last_allowed_day(today(context)))
        await reply(update, _(CANT.get(error.code, CANT["not_found"])).format(last=last))
        if error.code not in ("date_in_past", "date_too_far"):  # they may type another
            conversation.finish(context)
        return True
    conversation.finish(context)
    if told:
        answer += "\n" + _("I have told {names}.").format(names=names(told, _))
    await reply(update, answer)
    return True
