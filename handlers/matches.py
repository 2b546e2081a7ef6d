"""Matches and group activities: `/match`, `/activity`, `/matches`, `/cover`, `/endmatch`,
`/meetings`, the reminders before every meeting and the coordinator's weekly digest.

The flows live in `matches_create.py` and `matches_flow.py` (making a match),
`matches_meetings.py` (reminders, "not this time", lead times), `matches_schedule.py`
(`/meetings`: moving a meeting, a new rhythm) and `matches_cover.py` (`/cover`); this module
wires them up and holds the coordinator's overview, `/endmatch` and the scheduler pass."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import PeerContext, Services
from bot.domain import confirmations, matches
from bot.domain.schedule import BIWEEKLY, DATES, WEEKLY
from bot.i18n import N_, Translate, format_day, ngettext
from handlers import (
    conversation,
    matches_cover,
    matches_cover_ask,
    matches_flow,
    matches_meetings,
    matches_schedule,
)
from handlers.callbacks import ID, TOKEN, Parser, Who, choice, offer_confirmation, take_confirmation
from handlers.common import (
    CommandInfo,
    coordinator_only,
    private_only,
    reply,
    reply_language,
    texts_for,
)
from handlers.delivery import (
    Outcome,
    Outgoing,
    register_kind,
    send_document_private,
    send_due,
    send_to_person,
    split_text,
)
from handlers.matches_common import (
    BUTTONS,
    REMINDER_BUTTONS,
    RHYTHM_BIWEEKLY,
    RHYTHM_WEEKLY,
    MatchAction,
    ReminderAction,
    names,
    occurrence_line,
    rhythm_text,
    tell_coordinators,
)
from handlers.settings import Section, add_section

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.domain.outbox import Claim
    from storage.models import Match

log = logging.getLogger(__name__)

COMMANDS = [
    CommandInfo("meetings", N_("Your next meetings: move or cancel one"), "volunteer"),
    CommandInfo("match", N_("Match a citizen with one or two volunteers"), "coordinator"),
    CommandInfo("activity", N_("Create a group activity with its volunteers"), "coordinator"),
    CommandInfo("matches", N_("All matches and activities, and who needs cover"), "coordinator"),
    CommandInfo("cover", N_("A temporary volunteer while someone is on a pause"), "coordinator"),
    CommandInfo("endmatch", N_("End a match or an activity"), "coordinator"),
]


# /matches ----------------------------------------------------------------------------------


INLINE_MESSAGES = 3  # a longer overview goes out as a summary and one document
# About what fits in three messages: above it the summary goes out before the meetings are
# even read, so the coordinator sees what needs action at once.
INLINE_MATCHES = 75
SUMMARY_COVER_LINES = 40  # matches needing cover named in the summary; the rest: document


def overview_text(
    context: PeerContext, views: list[matches.MatchView], _: Translate, language: str
) -> str:
    if not views:
        return _("There are no matches or activities yet. Make one with /match or /activity.")
    lines = [_("Matches and activities ({count}):").format(count=len(views))]
    # Many matches meet at the same moments (a weekday and an hour): write each once.
    written: dict[tuple[datetime, str], str] = {}

    def meeting(occurrence: matches.UpcomingMeeting) -> str:
        key = (occurrence.starts_at, occurrence.status)
        if key not in written:
            written[key] = occurrence_line(context, occurrence, _, language)
        return written[key]

    for view in views:
        match = view.match
        people_text = []
        for volunteer in view.volunteers:
            notes = []
            if volunteer.role == "temporary":
                notes.append(_("temporary"))
            if volunteer.paused:
                notes.append(_("on a pause"))
            if volunteer.left:
                notes.append(_("left the group"))
            note = f" ({', '.join(notes)})" if notes else ""
            people_text.append(volunteer.first_name + note)
        lines.append("")
        lines.append(f"• {_title(match, _)} – {', '.join(people_text) or '–'}")
        lines.append("  " + rhythm_text(match, _, language))
        if match.place:
            lines.append("  " + _("Place: {place}").format(place=match.place))
        if view.next:
            upcoming = "; ".join(meeting(o) for o in view.next)
            lines.append("  " + _("Next: {meetings}").format(meetings=upcoming))
        if view.needs_cover:
            lines.append("  " + _needs_cover(view, _))
    return "\n".join(lines)


def _needs_cover(view: matches.MatchView, _: Translate) -> str:
    """Why a match needs cover: nobody can meet, or a paused volunteer asked for it."""
    if not any(v.can_meet for v in view.volunteers):
        return _("Needs cover: nobody can meet right now. Use /cover.")
    asking = ", ".join(v.first_name for v in view.volunteers if v.asks_cover)
    return _("Needs cover: {names} asked for a temporary volunteer. Use /cover.").format(
        names=asking
    )


def _title(match: Match, _: Translate) -> str:
    if match.kind == "match":
        return match.label
    return match.label + " (" + _("activity") + ")"


def overview_summary(views: list[matches.MatchView], _: Translate) -> str:
    """The short version of a long overview: the counts, and the matches that need cover
    (what needs the coordinator's action); everything else is in the document."""
    activities = sum(1 for v in views if v.match.kind != "match")
    paused = {v.person_id for view in views for v in view.volunteers if v.paused}
    needing = [v for v in views if v.needs_cover]
    lines = [
        _("Matches and activities ({count}):").format(count=len(views)),
        _("• Matches: {count}").format(count=len(views) - activities),
        _("• Activities: {count}").format(count=activities),
        _("• Need cover: {count}").format(count=len(needing)),
        _("• Volunteers on a pause: {count}").format(count=len(paused)),
    ]
    if needing:
        lines += ["", _("Needs cover (nobody can meet right now):")]
        for view in needing[:SUMMARY_COVER_LINES]:
            names_text = ", ".join(v.first_name for v in view.volunteers) or "–"
            lines.append(f"• {_title(view.match, _)} – {names_text}")
        if len(needing) > SUMMARY_COVER_LINES:
            lines.append(
                _("…and {count} more (all of them are in the document).").format(
                    count=len(needing) - SUMMARY_COVER_LINES
                )
            )
        lines += ["", _("Find a temporary volunteer with /cover.")]
    lines += ["", _("The whole overview is too long for messages, so it follows as a document.")]
    return "\n".join(lines)


@private_only
@coordinator_only
async def matches_command(update: Update, context: PeerContext) -> None:
    """The overview inline for a usual group; for a long one (more than three messages)
    a short summary and the whole overview as one text document, so the coordinator is not
    sent a stream of messages and the bot is not held up sending them one a second."""
    _ = texts_for(context, update)
    services = context.services
    now = services.clock.now()
    language = reply_language(context, update)
    views = await matches.overview(context.session, services.group_id, now, next_count=0)
    summary_sent = len(views) > INLINE_MATCHES
    if summary_sent:  # before the meetings are read: what needs action comes first
        await reply(update, overview_summary(views, _))
    upcoming = await matches.next_meetings(context.session, services.group_id, now)
    views = [replace(v, next=upcoming.get(v.match.id, [])) for v in views]
    text = overview_text(context, views, _, language)
    if not summary_sent:
        chunks = split_text(text)
        if len(chunks) <= INLINE_MESSAGES:
            for chunk in chunks:
                await reply(update, chunk)
            return
        await reply(update, overview_summary(views, _))
    await _send_overview_document(update, context, text, len(views), _)


async def _send_overview_document(
    update: Update, context: PeerContext, text: str, count: int, _: Translate
) -> None:
    """The whole overview as one text file."""
    assert update.effective_chat is not None
    delivery = await send_document_private(
        context.bot,
        update.effective_chat.id,
        document=InputFile(text.encode("utf-8"), filename=_("matches.txt")),
        caption=ngettext(
            reply_language(context, update),
            "{count} match or activity in all.",
            "All {count} matches and activities.",
            count,
        ).format(count=count),
    )
    log.info(
        "matches overview of %d as a document (%d bytes): %s", count, len(text), delivery.outcome
    )
    if not delivery.sent:  # the summary promised it: say so rather than leave them waiting
        await reply(update, _("I could not send the document just now. Please try /matches again."))


# /endmatch -----------------------------------------------------------------------------------


@private_only
@coordinator_only
async def endmatch_command(update: Update, context: PeerContext) -> None:
    _ = texts_for(context, update)
    services = context.services
    if context.args:
        found = await matches.find_running_by_label(
            context.session, services.group_id, " ".join(context.args).strip('"“”')
        )
        if len(found) == 1:
            await _end(update, context, found[0].id)
            return
        if not found:
            await reply(update, _("I can't find a running match or activity with that name."))
            return
    else:
        found = [
            v.match
            for v in await matches.overview(
                context.session, services.group_id, services.clock.now()
            )
        ]
    if not found:
        await reply(
            update, _("There are no matches or activities yet. Make one with /match or /activity.")
        )
        return
    # Each button carries a single-use token naming exactly its match (a newer list replaces
    # this one), never the match's row id.
    rows = []
    for m in found:
        token = await offer_confirmation(
            update, context, confirmations.Kind.END_MATCH, subject_id=m.id, replacing=not rows
        )
        rows.append(
            [InlineKeyboardButton(m.label, callback_data=BUTTONS.encode(MatchAction.END, token))]
        )
    await reply(update, _("Which one has ended?"), reply_markup=InlineKeyboardMarkup(rows))


def _ended_text(context: PeerContext, match: Match, language: str) -> str:
    _ = context.texts(language)
    if match.kind == "match":
        text = _(
            "The match with {label} has ended, so there will be no more reminders. "
            "Thank you for all the time you have given."
        )
    else:
        text = _(
            "{label} has ended, so there will be no more reminders. Thank you for being part of it."
        )
    return text.format(label=match.label)


async def _end(update: Update, context: PeerContext, match_id: int) -> None:
    _ = texts_for(context, update)
    services = context.services
    try:
        change = await matches.end_match(
            context.session, services.group_id, match_id, services.clock.now()
        )
    except matches.MatchError:
        await reply(update, _("That match has already ended."))
        return
    for person in change.others:
        await send_to_person(context, person, _ended_text(context, change.match, person.language))
    await reply(
        update,
        _("{label} has ended. I have told {names}.").format(
            label=change.match.label, names=names([p.first_name for p in change.others], _) or "–"
        ),
    )
    log.info("match %s ended", match_id)


# The scheduler pass --------------------------------------------------------------------------


async def run_due(context: PeerContext) -> None:
    """Plan meetings ahead, arm their reminders, promise the weekly digest, send what is
    due."""
    services = context.services
    now = services.clock.now()
    async with services.db.transaction() as session:
        await matches.plan_occurrences(session, services.group_id, now, services.tz)
        await matches.arm_reminders(session, services.group_id, now, services.tz)
        weekday, at = services.digest_slot
        await matches.promise_digest(session, services.group_id, now, weekday, at, services.tz)
    await send_due(context, (matches.REMINDER_KIND, matches.DIGEST_KIND))
    await matches_cover_ask.run_due(context)


async def prepare_digest(
    context: PeerContext, session: AsyncSession, claim: Claim, now: datetime
) -> Outgoing | None:
    """The weekly digest, as things are when it is sent; not wanted when it has nothing to
    say, or its slot is no longer the configured one. At least once: a stop cut off before
    the outbox recorded it sends it again."""
    services = context.services
    settings = services.settings
    weekday, at = services.digest_slot
    if not matches.is_digest_slot(claim.due_at, weekday, at, services.tz):
        return None
    result = await matches.digest(
        session,
        services.group_id,
        now,
        unmatched_weeks=settings.unmatched_weeks,
        cancelled_streak=settings.cancelled_in_a_row,
        coordinator_user_ids=services.coordinator_ids,
    )
    if result.empty:
        return None

    def build(_: Translate, language: str) -> str:
        lines = [_("Your weekly overview of the matches.")]
        if result.waiting:
            lines += ["", _("Waiting for a match for a while (they may feel they are not needed):")]
            lines += [
                "• "
                + _("{name}, without a match since {day}").format(
                    name=p.first_name, day=format_day(since, services.tz, language, now=now)
                )
                for p, since in result.waiting
            ]
        if result.cancelled_in_a_row:
            lines += ["", _("The last meetings were cancelled several times in a row:")]
            lines += [
                "• "
                + ngettext(language, "{label}: {count} time", "{label}: {count} times", n).format(
                    label=m.label, count=n
                )
                for m, n in result.cancelled_in_a_row
            ]
        if result.needs_cover:
            lines += ["", _("These need a temporary volunteer:")]
            lines += [f"• {_title(v.match, _)}: {_needs_cover(v, _)}" for v in result.needs_cover]
        lines += ["", _("See everything with /matches.")]
        return "\n".join(lines)

    async def send() -> Outcome:
        told = await tell_coordinators(context, None, build)
        log.info(
            "digest sent: %s waiting, %s cancelled streak(s), %s needing cover",
            len(result.waiting),
            len(result.cancelled_in_a_row),
            len(result.needs_cover),
        )
        return Outcome.SENT if told else Outcome.FAILED

    # To the coordinators (`send`), not to one chat.
    return Outgoing(0, send=send)


# Wiring ------------------------------------------------------------------------------------


def _flow_button(action: MatchAction, *args: Parser) -> None:
    """The guided /match flow's buttons all go to `matches_flow.flow_callback`."""

    async def handle(update: Update, context: PeerContext, value: object = "") -> None:
        await matches_flow.flow_callback(update, context, action.value, str(value))

    BUTTONS.route(action, *args, who=Who.COORDINATOR)(handle)


_flow_button(MatchAction.PICK_VOLUNTEER, ID)
_flow_button(MatchAction.PICKED)
_flow_button(MatchAction.RHYTHM, choice(WEEKLY, BIWEEKLY, DATES))
_flow_button(MatchAction.NO_PLACE)
_flow_button(MatchAction.FROM_TODAY)
_flow_button(MatchAction.NO_END)
BUTTONS.route(MatchAction.COMING, ID)(matches_meetings.on_coming)
BUTTONS.route(MatchAction.CANCEL, ID)(matches_meetings.on_cancel_asked)
BUTTONS.route(MatchAction.KEEP, ID)(matches_meetings.on_cancel_kept)
BUTTONS.route(MatchAction.TALK, ID)(matches_meetings.on_talk)
BUTTONS.route(MatchAction.MOVE, ID)(matches_schedule.on_move_asked)
BUTTONS.route(MatchAction.CHANGE_RHYTHM, ID)(matches_schedule.on_rhythm_asked)
BUTTONS.route(MatchAction.RHYTHM_CHOSEN, ID, choice(RHYTHM_WEEKLY, RHYTHM_BIWEEKLY))(
    matches_schedule.on_rhythm_chosen
)


@BUTTONS.route(MatchAction.CITIZEN_KNOWS, ID)
async def on_citizen_knows(update: Update, context: PeerContext, occurrence_id: int) -> None:
    await matches_meetings.on_cancel_confirmed(update, context, occurrence_id, citizen_knows=True)


@BUTTONS.route(MatchAction.CITIZEN_NOT_TOLD, ID)
async def on_citizen_not_told(update: Update, context: PeerContext, occurrence_id: int) -> None:
    await matches_meetings.on_cancel_confirmed(update, context, occurrence_id, citizen_knows=False)


@BUTTONS.route(MatchAction.END, TOKEN, who=Who.COORDINATOR)
async def on_end(update: Update, context: PeerContext, token: str) -> None:
    """The coordinator picked the match that has ended (its token used up now)."""
    pending = await take_confirmation(update, context, token, confirmations.Kind.END_MATCH)
    if pending is None or pending.subject_id is None:
        return
    assert update.callback_query is not None
    await update.callback_query.answer()
    await _end(update, context, pending.subject_id)


async def on_text(update: Update, context: PeerContext) -> None:
    """Typed answers to the questions of our flows (ignored when none is waiting)."""
    if update.message is None or update.message.text is None or context.user_data is None:
        return
    text = update.message.text
    if await matches_flow.flow_text(update, context, text):
        return
    await matches_schedule.meetings_text(update, context, text)


def register(application: Application, services: Services) -> None:
    matches_meetings.register_reminders(application)
    matches_cover_ask.register(application)
    register_kind(application, matches.DIGEST_KIND, prepare_digest)
    application.add_handler(CommandHandler("match", matches_flow.match_command))
    application.add_handler(CommandHandler("activity", matches_flow.activity_command))
    application.add_handler(CommandHandler("matches", matches_command))
    application.add_handler(CommandHandler("endmatch", endmatch_command))
    application.add_handler(CommandHandler("cover", matches_cover.cover_command))
    application.add_handler(CommandHandler("meetings", matches_schedule.meetings_command))
    application.add_handler(CallbackQueryHandler(BUTTONS.dispatch, pattern=BUTTONS.pattern))
    application.add_handler(
        CallbackQueryHandler(REMINDER_BUTTONS.dispatch, pattern=REMINDER_BUTTONS.pattern)
    )
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE
            & filters.TEXT
            & ~filters.COMMAND
            & conversation.AwaitingText(
                application,
                {
                    matches_flow.NewMatch: matches_flow.TEXT_STEPS,
                    matches_schedule.MoveMeeting: None,
                    matches_schedule.NewRhythm: None,
                },
            ),
            on_text,
        )
    )
    add_section(
        services,
        Section(N_("My meeting reminders"), REMINDER_BUTTONS.encode(ReminderAction.SETTINGS)),
    )
    services.on("pause_ended", matches_cover.on_pause_ended)
