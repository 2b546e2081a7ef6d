"""Cover by suggestion: the suggestions under the coordinator's pause notice ("Ask Dennis",
"I'll find someone myself"), the private question to the volunteer (Yes / No, thanks), and
what the outbox sends about it (`bot/domain/matches/asks.py` holds the rules).

Every button carries a single-use token (`bot/domain/confirmations.py`) naming exactly whom
and which match (a suggestion) or which ask (an answer), shown to exactly one person in
exactly one chat: only the coordinator who got the notice can ask, only the one asked can
answer. The one asked hears that the regular volunteer can't come for a while, never why.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler

from bot.context import PeerContext
from bot.domain import away, confirmations, outbox, people, rows
from bot.domain import matches as match_rules
from bot.domain.matches import asks
from bot.i18n import N_
from handlers.callbacks import STALE, TOKEN, Callbacks, Who, take_confirmation
from handlers.callbacks import answer as toast
from handlers.common import Button, keyboard, reply, texts_for
from handlers.delivery import Outcome, Outgoing, register_kind, send_due, start_sending
from handlers.matches_common import rhythm_text, when
from handlers.matches_cover import cover_text

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.models import Pause, Person

log = logging.getLogger(__name__)


class CoverAction(StrEnum):
    """The `cover:` buttons."""

    ASK = "ask"  # the coordinator: ask this volunteer (token)
    SELF = "self"  # the coordinator: I'll find someone myself
    YES = "yes"  # the one asked (token)
    NO = "no"


BUTTONS: Callbacks[CoverAction] = Callbacks("cover", CoverAction)

ASK_PROBLEMS = {
    asks.AskProblem.NOT_FOUND: N_("That match has already ended."),
    asks.AskProblem.NOT_NEEDED: N_(
        "That match needs no temporary volunteer any more: the pause has ended, or someone "
        "already takes the meetings."
    ),
    asks.AskProblem.WAITING: N_(
        "I am still waiting for an answer from the one you asked about that match. I will tell "
        "you as soon as it comes."
    ),
    asks.AskProblem.NOT_FREE: N_(
        "{name} can't be asked right now (no longer in the group, on a pause, or already on the "
        "match). Perhaps ask one of the others?"
    ),
}


# The suggestions ---------------------------------------------------------------------------


async def suggestion_offer(
    context: PeerContext,
    session: AsyncSession,
    coordinator: Person,
    pause: Pause,
    now: datetime,
    language: str,
    *,
    match_id: int | None = None,
    intro: bool = True,
) -> tuple[list[str], InlineKeyboardMarkup | None]:
    """Lines and buttons under a pause notice (or after a no, for `match_id`): up to three
    volunteers per match that needs a temporary volunteer, each button with its own token
    for this coordinator, and "I'll find someone myself"."""
    services = context.services
    _ = context.texts(language)
    paused = await rows.find_person(session, pause.person_id)
    wanted = [
        m
        for m in await asks.uncovered_matches(session, pause, now)
        if match_id is None or m.id == match_id
    ]
    if paused is None or not wanted:
        return [], None
    lines: list[str] = []
    buttons: list[Button] = []
    for match in wanted:
        if await asks.open_ask(session, match.id, now) is not None:
            continue  # someone was asked and has not answered yet
        found = await asks.suggestions(
            session,
            services.group_id,
            match,
            pause.id,
            now,
            coordinators=services.coordinator_ids,
        )
        if not found:
            lines.append(
                _(
                    "I have no one to suggest for {label} right now. When you have found a "
                    "temporary volunteer, write /cover."
                ).format(label=match.label)
            )
        for suggestion in found:
            token = await confirmations.offer(
                session,
                services.group_id,
                confirmations.Kind.COVER_SUGGESTION,
                actor_user_id=coordinator.telegram_user_id,
                chat_id=coordinator.telegram_user_id,
                now=now,
                person_id=suggestion.person.id,
                subject_id=match.id,
            )
            text = _("Ask {name}").format(name=suggestion.person.first_name)
            if len(wanted) > 1:
                text = f"{match.label}: {text}"
            buttons.append((text, BUTTONS.encode(CoverAction.ASK, token)))
    if not buttons:
        return lines, None
    if intro:
        lines.insert(
            0,
            _(
                "Who could take over? My suggestions have room at that time, those waiting "
                "longest for a match first. The one you ask hears only that {name} can't come "
                "for a while, not why."
            ).format(name=paused.first_name),
        )
    else:
        lines.insert(0, _("Would you like to ask someone else?"))
    buttons.append((_("I'll find someone myself"), BUTTONS.encode(CoverAction.SELF)))
    return lines, keyboard(*buttons)


async def _drop_buttons(update: Update) -> None:
    """Take the buttons off the tapped message (its text stays)."""
    query = update.callback_query
    if query is not None:
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(reply_markup=None)


def _kick(context: PeerContext) -> None:
    application = context.application
    context.after_commit(lambda: start_sending(application, asks.KINDS))


@BUTTONS.route(CoverAction.ASK, TOKEN, who=Who.COORDINATOR)
async def on_ask(update: Update, context: PeerContext, token: str) -> None:
    """The coordinator tapped "Ask Dennis": the question is promised to Dennis."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None and query.message is not None
    services = context.services
    session = context.session
    now = services.clock.now()
    kind = confirmations.Kind.COVER_SUGGESTION
    taken = await take_confirmation(update, context, token, kind, keep_message=True)
    if taken is None:
        return
    if taken.subject_id is None or taken.subject_person_id is None:
        await toast(update, context, STALE)
        return
    _ = texts_for(context, update)
    coordinator = await people.find_person(session, services.group_id, user.id)
    result = await asks.ask(
        session,
        services.group_id,
        taken.subject_id,
        taken.subject_person_id,
        coordinator.id if coordinator is not None else None,
        now,
    )
    with contextlib.suppress(TelegramError):
        await query.answer()
    if isinstance(result, asks.AskProblem):
        person = await rows.find_person(session, taken.subject_person_id)
        name = person.first_name if person is not None else "?"
        await reply(update, _(ASK_PROBLEMS[result]).format(name=name))
        return
    seen = await asks.view(session, result.id)
    assert seen is not None
    await _drop_buttons(update)
    language = coordinator.language if coordinator else services.language
    await reply(
        update,
        _(
            "I have asked {name} privately about the meetings with {label}, and I will tell "
            "you the answer, or write on {day} if none has come by then."
        ).format(
            name=seen.person.first_name,
            label=seen.match.label,
            day=when(context, result.expires_at, language),
        ),
    )
    log.info("cover ask %s: match %s, person %s", result.id, result.match_id, result.person_id)
    _kick(context)


@BUTTONS.route(CoverAction.SELF, who=Who.COORDINATOR)
async def on_self(update: Update, context: PeerContext) -> None:
    assert update.callback_query is not None
    with contextlib.suppress(TelegramError):
        await update.callback_query.answer()
    await _drop_buttons(update)
    _ = texts_for(context, update)
    await reply(
        update,
        _(
            "All right. When you have found a temporary volunteer, write /cover and I will give "
            "them the meetings and the reminders."
        ),
    )


# The question to the volunteer, and the answer ----------------------------------------------

ANSWER_PROBLEMS = {
    asks.AnswerProblem.TOO_LATE: N_(
        "Thank you for answering! More than two days have passed, so I have told the "
        "coordinator, who may have asked someone else. If you would still like to help, "
        "write to the coordinator."
    ),
    asks.AnswerProblem.ANSWERED: N_("You have already answered this question. Thank you!"),
    asks.AnswerProblem.NOT_NEEDED: N_(
        "Thank you! It has been sorted out in the meantime, so there is nothing more for you to do."
    ),
}


async def _answered(update: Update, context: PeerContext, token: str, yes: bool) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None and query.message is not None
    services = context.services
    session = context.session
    now = services.clock.now()
    kind = confirmations.Kind.COVER_ANSWER
    taken = await take_confirmation(update, context, token, kind, keep_message=True)
    if taken is None:
        return
    if taken.subject_id is None:
        await toast(update, context, STALE)
        return
    result = await asks.answer(session, taken.subject_id, yes, now, services.tz)
    _ = texts_for(context, update)
    with contextlib.suppress(TelegramError):
        await query.answer()
    if isinstance(result, asks.AnswerProblem):
        text = _(ANSWER_PROBLEMS[result])
    elif result.cover is not None:
        cover = result.cover
        upcoming = await match_rules.next_occurrences(session, cover.match.id, now, limit=3)
        text = cover_text(context, cover.match, cover.volunteer, [o.starts_at for o in upcoming])
        log.info("cover ask %s: yes; match %s covered", result.ask.id, cover.match.id)
    else:
        text = _("That is completely fine. Thank you for answering!")
        log.info("cover ask %s: no", result.ask.id)
    with contextlib.suppress(TelegramError):
        await query.edit_message_text(text)
    _kick(context)


@BUTTONS.route(CoverAction.YES, TOKEN)
async def on_yes(update: Update, context: PeerContext, token: str) -> None:
    await _answered(update, context, token, True)


@BUTTONS.route(CoverAction.NO, TOKEN)
async def on_no(update: Update, context: PeerContext, token: str) -> None:
    await _answered(update, context, token, False)


# What the outbox sends ----------------------------------------------------------------------


async def prepare_ask(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, now: datetime
) -> Outgoing | None:
    """The question to the volunteer, while it is open and still needed; its buttons get
    fresh tokens for exactly this person and this ask."""
    seen = await asks.view(session, claim.subject_id)
    if seen is None or seen.ask.state != asks.ASKED or seen.ask.expires_at <= now:
        return None
    person = seen.person
    # Gone, on a pause of their own since, or sorted out meanwhile: not asked after all.
    on_pause = await people.current_pause(session, person.id, now) is not None
    if not person.is_member or on_pause or not await asks.still_needed(session, seen.ask, now):
        await asks.void(session, seen.ask.id, now)
        return None
    services = context.services
    language = person.language or services.language
    _ = context.texts(language)
    match = seen.match
    lines = [
        _(
            "Hi {name}! Would you take the meetings with {label} ({rhythm}) for a while, while "
            "{paused} can't come?"
        ).format(
            name=person.first_name,
            label=match.label,
            rhythm=rhythm_text(match, _, language),
            paused=seen.paused.first_name,
        )
    ]
    if match.place:
        lines.append(_("Place: {place}").format(place=match.place))
    upcoming = await match_rules.next_occurrences(session, match.id, now, limit=3)
    if upcoming:
        lines += ["", _("The next meetings:")]
        lines += [f"• {when(context, o.starts_at, language)}" for o in upcoming]
    lines += [
        "",
        _("It is completely fine to say no. Please answer by {day}.").format(
            day=when(context, seen.ask.expires_at, language)
        ),
    ]
    tokens = [
        await confirmations.offer(
            session,
            services.group_id,
            confirmations.Kind.COVER_ANSWER,
            actor_user_id=person.telegram_user_id,
            chat_id=person.telegram_user_id,
            now=now,
            person_id=person.id,
            subject_id=seen.ask.id,
        )
        for _answer in (CoverAction.YES, CoverAction.NO)
    ]
    markup = keyboard(
        [
            (_("Yes"), BUTTONS.encode(CoverAction.YES, tokens[0])),
            (_("No, thanks"), BUTTONS.encode(CoverAction.NO, tokens[1])),
        ]
    )
    return Outgoing(person.telegram_user_id, "\n".join(lines), markup)


async def after_ask(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, outcome: Outcome
) -> None:
    """A question that could not be delivered: the coordinator is told (and may pick the
    next suggestion)."""
    if outcome is not Outcome.SENT:
        log.warning("cover ask %s: the question was not delivered (%s)", claim.subject_id, outcome)
        await asks.unreached(session, claim.subject_id, context.services.clock.now())


async def prepare_answered(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, now: datetime
) -> Outgoing | None:
    """The coordinator's one line: yes (the cover is set), or no / no answer / not
    reachable, with the next suggestions while the match still needs someone."""
    seen = await asks.view(session, claim.subject_id)
    asker = await rows.find_person(session, claim.person_id or 0)
    if seen is None or asker is None:
        return None
    services = context.services
    # A coordinator, or the stand-in of a period running when it was promised; an answer
    # that comes after the stand-in's period goes to the coordinator who is back.
    coordinator = await away.reader(
        session, services.group_id, asker, services.coordinator_ids, claim.due_at, now
    )
    if coordinator is None:
        return None
    language = coordinator.language or services.language
    _ = context.texts(language)
    state = seen.ask.state
    names = {"name": seen.person.first_name, "label": seen.match.label}
    intro = []
    if coordinator.id != asker.id:
        intro = [
            _(
                "While you were away, {stand_in} asked {name} to take the meetings with {label} "
                "for a while."
            ).format(stand_in=asker.first_name, **names)
        ]
    if state == asks.YES:
        text = _(
            "{name} said yes and takes the meetings with {label} as a temporary volunteer until "
            "{paused} is back from the pause."
        ).format(paused=seen.paused.first_name, **names)
        return Outgoing(coordinator.telegram_user_id, "\n".join([*intro, text]))
    if not await asks.still_needed(session, seen.ask, now):
        return None  # the pause or the match ended, or someone took it meanwhile
    if state == asks.NO:
        text = _("{name} can't take the meetings with {label} this time.").format(**names)
    elif state == asks.EXPIRED:
        text = _(
            "{name} hasn't answered about the meetings with {label} within two days, so I have "
            "let the question go."
        ).format(**names)
    elif state == asks.UNREACHED:
        text = _(
            "I couldn't ask {name} about the meetings with {label}: {name} hasn't started a chat "
            "with me yet, or has blocked me."
        ).format(**names)
    else:
        return None
    lines, markup = await suggestion_offer(
        context,
        session,
        coordinator,
        seen.pause,
        now,
        language,
        match_id=seen.match.id,
        intro=False,
    )
    return Outgoing(coordinator.telegram_user_id, "\n".join([*intro, text, *lines]), markup)


async def prepare_partner(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, now: datetime
) -> Outgoing | None:
    """A word to the match's other volunteer: someone joins for a while (not who is away,
    nor why)."""
    seen = await asks.view(session, claim.subject_id)
    partner = await rows.find_person(session, claim.person_id or 0)
    if seen is None or partner is None or not partner.is_member:
        return None
    if seen.ask.state != asks.YES or not await asks.is_covering(session, seen.ask):
        return None
    language = partner.language or context.services.language
    _ = context.texts(language)
    text = _(
        "{name} will take part in the meetings with {label} for a while, as a temporary volunteer."
    ).format(name=seen.person.first_name, label=seen.match.label)
    return Outgoing(partner.telegram_user_id, text)


# The scheduler pass and the wiring ------------------------------------------------------------


async def run_due(context: PeerContext) -> None:
    """Asks left unanswered for two days: let go, and the coordinator who asked is told."""
    services = context.services
    async with services.db.transaction() as session:
        expired = await asks.expire_due(session, services.group_id, services.clock.now())
    if expired:
        log.info("%s cover ask(s) expired unanswered", expired)
        await send_due(context, asks.KINDS)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    register_kind(application, asks.ASK, prepare_ask, after_ask)
    register_kind(application, asks.ANSWERED, prepare_answered)
    register_kind(application, asks.PARTNER, prepare_partner, pausable=True)
    application.add_handler(CallbackQueryHandler(BUTTONS.dispatch, pattern=BUTTONS.pattern))
