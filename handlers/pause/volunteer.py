"""The volunteer's private `/pause` flow: a `PauseFlow` (handlers/conversation.py, memory
only) driven by buttons and, where asked, a typed date or message; `/resume`,
"a little longer" and "let's talk". The message to the coordinator is passed on, kept
only until it is delivered."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING

from telegram import Update

from bot.context import PeerContext
from bot.domain import pause as pauses
from bot.domain import people
from bot.domain.matches import matches_for_person
from bot.i18n import N_, Translate
from bot.sealing import seal
from handlers import conversation
from handlers.callbacks import acknowledge, choice
from handlers.common import (
    NOT_REGISTERED,
    Button,
    current_person,
    keyboard,
    private_only,
    reply,
    texts_for,
)
from handlers.delivery import send_private
from handlers.pause import several
from handlers.pause.notices import kick_after_commit
from handlers.pause_buttons import BUTTONS, PauseAction
from handlers.start import register_from_private_chat

if TYPE_CHECKING:
    from storage.models import Person

from handlers.pause.common import (
    COVER_SELF,
    COVER_YES,
    DATE,
    LENGTHS,
    NO_NOTE,
    TYPED_STEPS,
    PauseFlow,
    announce_end,
    ask_length,
    citizens_text,
    date_example,
    day_text,
    length_keyboard,
    note_key,
    remove_keyboard,
    rhythm,
    stand_ins,
    started_text,
    until_text,
)

log = logging.getLogger(__name__)


async def begin(update: Update, context: PeerContext, person: Person) -> None:
    """First step: warm words, the crisis help, and how long."""
    _ = context.texts(person.language)
    now = context.services.clock.now()
    running = await people.current_pause(context.session, person.id, now)
    if running is not None:
        conversation.finish(context, PauseFlow)
        markup = keyboard(
            (_("A little longer"), BUTTONS.encode(PauseAction.MORE)),
            (_("Yes, I'm back"), BUTTONS.encode(PauseAction.BACK)),
        )
        await reply(
            update,
            _(
                "You are already on a pause ({until}). Would you like to change the date, "
                "or are you ready to come back? Both are completely fine."
            ).format(until=_period(context, _, running.until, person.language)),
            reply_markup=markup,
        )
        return
    flow = conversation.start(context, PauseFlow, mode="new")
    if not await several.ask_scope(update, context, person, flow):
        await ask_length(update, context, person)


def _period(context: PeerContext, _: Translate, until: datetime | None, language: str) -> str:
    """The end of a running pause as "til og med søndag 28. februar" or "ingen slutdato
    endnu": a bare day in parentheses reads as the day the pause began."""
    if until is None:
        return until_text(context, None, language)
    return _("until {day}").format(day=until_text(context, until, language))


@private_only
async def pause_command(update: Update, context: PeerContext) -> None:
    """`/pause` in private (the group variant is `pause_in_group`)."""
    person = await current_person(context, update)
    if person is None or not person.started_bot:
        person = await register_from_private_chat(update, context)
        if person is None:
            return
    await begin(update, context, person)


async def start_pause_link(update: Update, context: PeerContext) -> None:
    """`/start pause` from the deep link: register like /start, then open the flow."""
    person = await register_from_private_chat(update, context)
    if person is not None:
        await begin(update, context, person)


async def ask_for_date(update: Update, context: PeerContext, _: Translate) -> None:
    await reply(
        update,
        _("Which date are you thinking of? Write it like {example}.").format(
            example=date_example(context)
        ),
    )


async def length_chosen(
    update: Update, context: PeerContext, person: Person, flow: PauseFlow, until_day: date | None
) -> None:
    """A duration is known: go on (new pause) or apply it (a little longer)."""
    if flow.mode == "extend":
        await extend(update, context, person, until_day)
        return
    flow.until = until_day
    _ = context.texts(person.language)
    now = context.services.clock.now()
    matches = await matches_for_person(context.session, context.services.group_id, person.id, now)
    citizens = [m.label for m in matches if m.kind == "match"]
    if flow.everywhere:
        citizens += await several.citizens_elsewhere(context, person)
    if citizens:
        flow.citizens = citizens
        flow.step = "cover"
        markup = keyboard(
            (_("Please find a temporary volunteer"), BUTTONS.encode(PauseAction.COVER, COVER_YES)),
            (
                _("I'll tell {citizens} myself").format(citizens=citizens_text(citizens, _)),
                BUTTONS.encode(PauseAction.COVER, COVER_SELF),
            ),
        )
        await reply(
            update,
            _(
                "Should the coordinator find a temporary volunteer for {citizens} while you are "
                "on a pause, or would you rather tell {citizens} yourself?"
            ).format(citizens=citizens_text(citizens, _)),
            reply_markup=markup,
        )
        return
    flow.wants_cover = False
    await ask_for_note(update, context, person, flow)


async def ask_for_note(
    update: Update, context: PeerContext, person: Person, flow: PauseFlow
) -> None:
    flow.step = "note"
    _ = context.texts(person.language)
    await reply(
        update,
        _(
            "Would you like to send a few words to the coordinator? Just write them here. "
            "They are passed on, and deleted as soon as the coordinator has them."
        ),
        reply_markup=keyboard((_("No message"), BUTTONS.encode(PauseAction.NOTE, NO_NOTE))),
    )


async def show_summary(
    update: Update, context: PeerContext, person: Person, flow: PauseFlow
) -> None:
    flow.step = "confirm"
    _ = context.texts(person.language)
    until_day = flow.until
    lines = [_("Here is what I will do if you say yes:")]
    if where := await several.summary_line(context, person, flow, _):
        lines.append("• " + where)
    if until_day is None:
        lines.append("• " + _("A pause from today, with no end date yet."))
    else:
        lines.append(
            "• "
            + _("A pause from today until {until}.").format(
                until=day_text(context, until_day, person.language)
            )
        )
    if flow.cover_asked:
        if flow.wants_cover:
            lines.append(
                "• "
                + _(
                    "The coordinator finds a temporary volunteer for {citizens} while you are "
                    "on a pause."
                ).format(citizens=citizens_text(flow.citizens, _))
            )
        else:
            lines.append(
                "• "
                + _("You tell {citizens} yourself.").format(
                    citizens=citizens_text(flow.citizens, _)
                )
            )
    note = flow.note
    if note:
        lines.append("• " + _('Your message to the coordinator: "{message}"').format(message=note))
    else:
        lines.append("• " + _("No message to the coordinator."))

    def button(label: str, action: PauseAction) -> Button:
        return (label, BUTTONS.encode(action))

    buttons = [button(_("Yes, start my pause"), PauseAction.CONFIRM)]
    # The coordinator is away: say who reads it, and offer to let it wait (a pause is
    # private, and the stand-in may be a peer).
    names, back = await stand_ins(context, person)
    if names is not None:
        lines.append(
            "• "
            + _(
                "The coordinator is away until and including {day}. Meanwhile {name} reads "
                "what you tell the coordinator. If you prefer, it can wait for the coordinator."
            ).format(day=back, name=names)
        )
    elsewhere = await several.away_lines(context, person, flow, _)  # "all my groups"
    lines += elsewhere
    if names is not None or elsewhere:
        buttons.append(button(_("Yes, but wait for the coordinator"), PauseAction.CONFIRM_WAIT))
    lines += ["", _("Shall I go ahead?")]
    buttons.append(button(_("Not now"), PauseAction.CANCEL))
    await reply(update, "\n".join(lines), reply_markup=keyboard(*buttons))


async def confirm(
    update: Update, context: PeerContext, person: Person, flow: PauseFlow, *, wait: bool = False
) -> None:
    """Start the pause; the coordinators' notice (with the message) is enqueued with it, sent
    once it has committed (or after a restart), and the volunteer is told whether it arrived.
    The message waits on the pause only until it is delivered."""
    conversation.finish(context, PauseFlow)
    note, until_day, wants_cover = flow.note, flow.until, flow.wants_cover
    flow.note = None
    services = context.services
    now = services.clock.now()
    _ = context.texts(person.language)
    try:
        pause = await pauses.start_pause(
            context.session,
            services.group_id,
            person.id,
            now,
            until_day=until_day,
            wants_cover=wants_cover,
            rhythm=rhythm(services),
            tz=services.tz,
            note=seal(note_key(services), note) if note else None,
            notify=services.coordinator_ids,
            wait_for_coordinator=wait,
        )
    except pauses.AlreadyPaused:
        await reply(update, _("You are already on a pause. Take good care of yourself."))
        return
    # "All my groups": the same pause in each other group, told there only.
    elsewhere = (
        await several.start_elsewhere(context, person, flow, note, wait=wait)
        if flow.everywhere
        else []
    )
    # Who reads it now: a stand-in (named to the volunteer), or, when it waits, nobody yet.
    stand_in, back = await stand_ins(context, person)
    back = back if wait else None
    del note  # from here on only the pause row has it, sealed, until the coordinators do
    log.info("pause %s started for person %s", pause.id, person.id)
    await services.emit("pause_started", context, person=person, pause=pause)
    pause_id, user_id = pause.id, person.telegram_user_id
    until = until_text(context, pause.until, person.language) if pause.until else None

    async def tell_volunteer(later: PeerContext) -> None:
        """Once the notice went (or not): whether the coordinator has it."""
        await several.send_elsewhere(later, elsewhere)
        async with later.services.db.transaction() as session:
            told = True
            for one in (pause_id, *(p for _g, p in elsewhere)):
                told = told and await pauses.notice_reached(session, pauses.STARTED, one)
        text = started_text(later, _, told, until, stand_in=stand_in, waits_until=back)
        delivery = await send_private(later.bot, user_id, text)
        if not delivery.sent:
            log.warning("pause %s: the confirmation did not reach the volunteer", pause_id)

    # After the commit: the pause stands whatever Telegram answers (a 502 here never rolls
    # it back, so the coordinator is never told twice).
    kick_after_commit(context, then=tell_volunteer)


async def extend(
    update: Update, context: PeerContext, person: Person, until_day: date | None
) -> None:
    """ "A little longer": a new planned date, and the coordinator is told."""
    conversation.finish(context, PauseFlow)
    services = context.services
    _ = context.texts(person.language)
    try:
        pause = await pauses.extend_pause(
            context.session,
            person.id,
            services.clock.now(),
            until_day=until_day,
            rhythm=rhythm(services),
            tz=services.tz,
            notify=services.coordinator_ids,
        )
    except pauses.NotPaused:
        await reply(update, _("You are not on a pause right now."))
        return
    kick_after_commit(context)
    if pause.until is None:
        text = _(
            "That is completely fine. Your pause goes on, and I will ask you again in a few weeks."
        )
    else:
        text = _("That is completely fine. Your pause now runs until {until}.").format(
            until=until_text(context, pause.until, person.language)
        )
    await reply(update, text)


async def come_back(
    update: Update, context: PeerContext, person: Person, *, everywhere: bool | None = None
) -> None:
    """End the pause (from /resume or "Yes, I'm back"); in several groups, here or in all
    (asked when a pause is going on elsewhere too)."""
    conversation.finish(context, PauseFlow)
    if everywhere is None and await several.ask_resume_scope(update, context, person):
        return
    services = context.services
    _ = context.texts(person.language)
    elsewhere = await several.end_elsewhere(context, person) if everywhere else []
    try:
        pause = await pauses.end_pause(
            context.session,
            person.id,
            services.clock.now(),
            notify=services.coordinator_ids,
        )
    except pauses.NotPaused:
        if not elsewhere:
            await reply(update, _("You are not on a pause right now."))
        else:
            await reply(update, _("Welcome back! I have told the coordinators."))
        return
    kick_after_commit(context)
    welcome = _(
        "Welcome back, {name}! It is good to have you here again. I have told the "
        "coordinator, and your reminders start again."
    ).format(name=person.first_name)
    # With retries and never raising: a 502 here must not leave the pause ended but the
    # update failed (a second /resume then only heard "you are not on a pause").
    if not (await send_private(context.bot, person.telegram_user_id, welcome)).sent:
        log.warning("pause %s: the welcome back did not reach the volunteer", pause.id)
    # After the welcome: listeners may write to them too (e.g. minutes that waited).
    await announce_end(context, person, pause)


async def want_to_talk(update: Update, context: PeerContext, person: Person) -> None:
    _ = context.texts(person.language)
    services = context.services
    now = services.clock.now()
    if not await pauses.want_to_talk(context.session, person.id, now, services.coordinator_ids):
        await reply(update, _("You are not on a pause right now."))
        return
    kick_after_commit(context)
    await reply(
        update,
        _(
            "I have told the coordinator that you would like to talk. They will get in touch "
            "with you."
        ),
    )


async def typed(update: Update, context: PeerContext) -> None:
    message = update.effective_message
    person = await current_person(context, update)
    flow = conversation.get(context, PauseFlow, *TYPED_STEPS)
    if message is None or not message.text or flow is None:
        return
    if person is None:
        conversation.finish(context, PauseFlow)
        return
    _ = context.texts(person.language)
    if flow.step == "note":
        # Whole: Telegram lets nobody type more than 4,096 characters, and the notice
        # to the coordinator is sent in parts when it is long.
        flow.note = message.text.strip()
        await show_summary(update, context, person, flow)
        return
    today = pauses.local_day(context.services.clock.now(), context.services.tz)
    parsed = pauses.parse_end_date(message.text, today)
    if isinstance(parsed, pauses.DateProblem):
        await reply(update, _(DATE_PROBLEMS[parsed]).format(example=date_example(context)))
    else:
        await length_chosen(update, context, person, flow, parsed)


DATE_PROBLEMS = {
    pauses.DateProblem.UNREADABLE: N_(
        "I couldn't read that as a date, no problem. Please write it like {example}."
    ),
    pauses.DateProblem.NOT_IN_FUTURE: N_(
        "That date is not after today. Please write a later date, e.g. {example}."
    ),
    pauses.DateProblem.TOO_FAR: N_(
        "Let's choose a date within the next two years, e.g. {example}. You can always make "
        "the pause longer later."
    ),
}


async def tapping_person(update: Update, context: PeerContext) -> Person | None:
    """The registered volunteer who tapped a button of their own flow, or a kind pointer."""
    person = await current_person(context, update)
    if person is None or not person.started_bot:
        await reply(update, texts_for(context, update)(NOT_REGISTERED))
        return None
    return person


async def answered(update: Update, *, keep_keyboard: bool = False) -> None:
    """Acknowledge the tap; take the buttons off an answered question."""
    query = await acknowledge(update)
    if not keep_keyboard:
        await remove_keyboard(query.message)


@BUTTONS.route(PauseAction.BEGIN)
async def on_begin(update: Update, context: PeerContext) -> None:
    await answered(update, keep_keyboard=True)
    if person := await tapping_person(update, context):
        await begin(update, context, person)


@BUTTONS.route(PauseAction.CANCEL)
async def on_cancel(update: Update, context: PeerContext) -> None:
    await answered(update)
    if person := await tapping_person(update, context):
        conversation.finish(context, PauseFlow)
        _ = context.texts(person.language)
        await reply(
            update,
            _("All right, nothing has changed. The door is always open: just write /pause."),
        )


@BUTTONS.route(PauseAction.BACK)
async def on_back(update: Update, context: PeerContext) -> None:
    await answered(update)
    if person := await tapping_person(update, context):
        await come_back(update, context, person)


@BUTTONS.route(PauseAction.TALK)
async def on_talk(update: Update, context: PeerContext) -> None:
    await answered(update, keep_keyboard=True)
    if person := await tapping_person(update, context):
        await want_to_talk(update, context, person)


@BUTTONS.route(PauseAction.MORE)
async def on_more(update: Update, context: PeerContext) -> None:
    await answered(update)
    person = await tapping_person(update, context)
    if person is None:
        return
    _ = context.texts(person.language)
    now = context.services.clock.now()
    if await people.current_pause(context.session, person.id, now) is None:
        await reply(update, _("You are not on a pause right now."))
        return
    conversation.start(context, PauseFlow, mode="extend")
    await reply(
        update,
        _("Of course. Until when, roughly? You can also just write a date, e.g. {example}.").format(
            example=date_example(context)
        ),
        reply_markup=length_keyboard(_, PauseAction.LENGTH),
    )


async def flow_of(update: Update, context: PeerContext, person: Person) -> PauseFlow | None:
    """The running flow; without one (a restart, finished, or let go) start again kindly."""
    flow = conversation.get(context, PauseFlow)
    if flow is None:
        _ = context.texts(person.language)
        await reply(update, _("Sorry, I lost track of where we were. Let's start again."))
        await begin(update, context, person)
    return flow


@BUTTONS.route(PauseAction.LENGTH, choice(*LENGTHS, DATE))
async def on_length(update: Update, context: PeerContext, length: str) -> None:
    await answered(update)
    person = await tapping_person(update, context)
    if person is None or (flow := await flow_of(update, context, person)) is None:
        return
    if length == DATE:
        flow.step = "date"
        await ask_for_date(update, context, context.texts(person.language))
        return
    today = pauses.local_day(context.services.clock.now(), context.services.tz)
    until_day = pauses.planned_end(pauses.Length(length), today)
    await length_chosen(update, context, person, flow, until_day)


@BUTTONS.route(PauseAction.COVER, choice(COVER_YES, COVER_SELF))
async def on_cover(update: Update, context: PeerContext, answer: str) -> None:
    await answered(update)
    person = await tapping_person(update, context)
    if person is None or (flow := await flow_of(update, context, person)) is None:
        return
    flow.wants_cover = answer == COVER_YES
    flow.cover_asked = True
    await ask_for_note(update, context, person, flow)


@BUTTONS.route(PauseAction.NOTE, choice(NO_NOTE))
async def on_no_note(update: Update, context: PeerContext, _none: str) -> None:
    await answered(update)
    person = await tapping_person(update, context)
    if person is None or (flow := await flow_of(update, context, person)) is None:
        return
    flow.note = None
    await show_summary(update, context, person, flow)


@BUTTONS.route(PauseAction.CONFIRM)
async def on_confirm(update: Update, context: PeerContext) -> None:
    await answered(update)
    person = await tapping_person(update, context)
    if person is None or (flow := await flow_of(update, context, person)) is None:
        return
    if flow.step == "confirm":
        await confirm(update, context, person, flow)


@BUTTONS.route(PauseAction.CONFIRM_WAIT)
async def on_confirm_wait(update: Update, context: PeerContext) -> None:
    """Start the pause; its notice waits for the coordinator, never to the stand-in."""
    await answered(update)
    person = await tapping_person(update, context)
    if person is None or (flow := await flow_of(update, context, person)) is None:
        return
    if flow.step == "confirm":
        await confirm(update, context, person, flow, wait=True)


@private_only
async def resume_command(update: Update, context: PeerContext) -> None:
    person = await current_person(context, update)
    if person is None or not person.started_bot:
        await reply(update, texts_for(context, update)(NOT_REGISTERED))
        return
    await come_back(update, context, person)
