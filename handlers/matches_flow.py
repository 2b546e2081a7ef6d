"""`/match` and `/activity` (coordinator, private): one line such as
`/match @anna "K.L." weekly tue 10:00`, or a guided flow with buttons that builds the same
`Request` step by step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from telegram import InlineKeyboardMarkup, Update

from bot.context import PeerContext
from bot.domain import matches, people
from bot.domain.schedule import BIWEEKLY, DATES, WEEKLY
from bot.domain.typed_dates import example_day
from bot.i18n import Translate
from handlers import conversation
from handlers.common import Handler, coordinator_only, keyboard, private_only, reply, texts_for
from handlers.matches_common import (
    BUTTONS,
    MatchAction,
    example_moment,
    parse_date,
    parse_date_and_time,
    parse_weekday_and_time,
    today,
)
from handlers.matches_create import (
    ERRORS,
    NO_VOLUNTEERS,
    WHY_A_LABEL,
    ParseError,
    Request,
    create_and_announce,
    error_text,
    example,
    parse_line,
    resolve_people,
)

if TYPE_CHECKING:
    from storage.models import Person


# One line ---------------------------------------------------------------------------------


async def _one_line(update: Update, context: PeerContext, kind: str) -> None:
    _ = texts_for(context, update)
    assert update.message is not None and update.message.text is not None
    _command, _sep, rest = update.message.text.partition(" ")
    try:
        request = parse_line(rest, kind, today(context))
        request.person_ids = await resolve_people(context, request.usernames)
    except ParseError as error:
        await reply(update, error_text(_, error.code, kind, today(context), **error.details))
        return
    await create_and_announce(update, context, request)


def _command(kind: str) -> Handler:
    """`/match` or `/activity`: in one line, or step by step when typed alone."""

    @private_only
    @coordinator_only
    async def command(update: Update, context: PeerContext) -> None:
        if context.args:
            await _one_line(update, context, kind)
        else:
            await start_flow(update, context, kind)

    return command


match_command, activity_command = _command("match"), _command("activity")


# The guided flow ----------------------------------------------------------------------------

Step = Literal["pick", "label", "rhythm", "when", "place", "start", "end", "done"]
TEXT_STEPS: tuple[Step, ...] = ("label", "when", "place", "start", "end")


@dataclass(kw_only=True)
class NewMatch(conversation.Flow):
    """The guided `/match` or `/activity`: the request grows by one answer a step."""

    step: Step = "pick"
    request: Request

    @property
    def restart(self) -> str:  # type: ignore[override]
        return f"/{self.request.kind}"


async def _candidates(context: PeerContext) -> list[Person]:
    services = context.services
    coordinators = set(services.coordinator_ids)
    volunteers = await people.active_volunteers(
        context.session, services.group_id, services.clock.now()
    )
    return [p for p in volunteers if p.telegram_user_id not in coordinators]


def _pick_keyboard(
    candidates: list[Person], chosen: list[int], _: Translate
) -> InlineKeyboardMarkup:
    return keyboard(
        *(
            (
                ("✓ " if p.id in chosen else "") + p.first_name,
                BUTTONS.encode(MatchAction.PICK_VOLUNTEER, p.id),
            )
            for p in candidates
        ),
        (_("Next"), BUTTONS.encode(MatchAction.PICKED)),
    )


async def start_flow(update: Update, context: PeerContext, kind: str) -> None:
    _ = texts_for(context, update)
    candidates = await _candidates(context)
    if not candidates:
        await reply(
            update,
            _(
                "I don't know any volunteers yet. "
                "They appear when they join the group or send me /start."
            ),
        )
        return
    conversation.start(context, NewMatch, request=Request(kind=kind))
    question = (
        _("Who will be the volunteers? Choose one or two, then tap Next.")
        if kind == "match"
        else _("Who will run the activity? Choose one to four, then tap Next.")
    )
    hint = _("(Or next time in one line, for example: {example})").format(
        example=example(_, kind, today(context))
    )
    await reply(update, f"{question}\n{hint}", reply_markup=_pick_keyboard(candidates, [], _))


def _rhythm_keyboard(_: Translate) -> InlineKeyboardMarkup:
    return keyboard(
        (_("Every week"), BUTTONS.encode(MatchAction.RHYTHM, WEEKLY)),
        (_("Every other week"), BUTTONS.encode(MatchAction.RHYTHM, BIWEEKLY)),
        (_("A single date"), BUTTONS.encode(MatchAction.RHYTHM, DATES)),
    )


async def flow_callback(update: Update, context: PeerContext, action: str, value: str) -> None:
    """Buttons of the guided flow: gv (toggle volunteer), gnext, gr (rhythm), gp (no place),
    gs (from today), ge (no end date)."""
    query = update.callback_query
    assert query is not None
    _ = texts_for(context, update)
    flow = conversation.get(context, NewMatch)
    if flow is None:
        await query.answer(_("That question has expired. Please start again."))
        return
    request = flow.request
    await query.answer()
    limit = 2 if request.kind == "match" else 4
    if action == "gv" and flow.step == "pick":
        person_id = int(value)
        if person_id in request.person_ids:
            request.person_ids.remove(person_id)
        elif len(request.person_ids) < limit:
            request.person_ids.append(person_id)
        candidates = await _candidates(context)
        await query.edit_message_reply_markup(_pick_keyboard(candidates, request.person_ids, _))
    elif action == "gnext" and flow.step == "pick":
        if not request.person_ids:
            await reply(update, _(ERRORS[NO_VOLUNTEERS]).replace("@anna", "").strip())
            return
        flow.step = "label"
        if request.kind == "match":
            await reply(update, _(WHY_A_LABEL))
        else:
            await reply(update, _("What is the activity called? For example: Recovery-café"))
    elif action == "gr" and flow.step == "rhythm":
        request.rhythm = value
        flow.step = "when"
        if value == DATES:
            await reply(
                update,
                _("Which date and time? For example: {example}").format(
                    example=example_moment(today(context))
                ),
            )
        else:
            await reply(update, _("Which weekday and time? For example: tue 10:00"))
    elif action == "gp" and flow.step == "place":
        await _after_place(update, context, flow)
    elif action == "gs" and flow.step == "start":
        request.start = today(context)
        await _after_start(update, context, flow)
    elif action == "ge" and flow.step == "end":
        await _finish(update, context, flow)


async def flow_text(update: Update, context: PeerContext, text: str) -> bool:
    """A typed answer in the guided flow; False when no flow is waiting for text."""
    flow = conversation.get(context, NewMatch, *TEXT_STEPS)
    if flow is None:
        return False
    request = flow.request
    _ = texts_for(context, update)
    if flow.step == "label":
        try:
            request.label = matches.check_label(text, request.kind)
        except matches.MatchError as error:
            await reply(update, _(ERRORS[error.code]))
            return True
        flow.step = "rhythm"
        await reply(update, _("How often do you meet?"), reply_markup=_rhythm_keyboard(_))
    elif flow.step == "when":
        if request.rhythm == DATES:
            moment = parse_date_and_time(text, today(context))
            if moment is None:
                await reply(
                    update,
                    _("I didn't catch that. For example: {example}").format(
                        example=example_moment(today(context))
                    ),
                )
                return True
            request.dates = [moment]
        else:
            parsed = parse_weekday_and_time(text)
            if parsed is None:
                await reply(update, _("I didn't catch that. For example: tue 10:00"))
                return True
            request.weekday, request.at = parsed
        flow.step = "place"
        await reply(
            update,
            _("Where do you meet? Write the place, or tap the button to leave it out."),
            reply_markup=keyboard((_("No place"), BUTTONS.encode(MatchAction.NO_PLACE))),
        )
    elif flow.step == "place":
        request.place = text.strip()[:80]
        await _after_place(update, context, flow)
    elif flow.step in ("start", "end"):
        day = parse_date(text, today(context))
        if day is None:
            await reply(
                update,
                _("I didn't catch that date. For example: {example}").format(
                    example=example_day(today(context) + timedelta(days=7))
                ),
            )
            return True
        if flow.step == "start":
            request.start = day
            await _after_start(update, context, flow)
        else:
            request.end = day
            await _finish(update, context, flow)
    return True


async def _after_place(update: Update, context: PeerContext, flow: NewMatch) -> None:
    request = flow.request
    _ = texts_for(context, update)
    if request.rhythm == DATES:
        await _finish(update, context, flow)
        return
    flow.step = "start"
    await reply(
        update,
        _("From which date? Write a date (for example {example}), or tap the button.").format(
            example=example_day(today(context) + timedelta(days=7))
        ),
        reply_markup=keyboard((_("From today"), BUTTONS.encode(MatchAction.FROM_TODAY))),
    )


async def _after_start(update: Update, context: PeerContext, flow: NewMatch) -> None:
    request = flow.request
    _ = texts_for(context, update)
    if request.kind == "match":
        await _finish(update, context, flow)
        return
    flow.step = "end"
    await reply(
        update,
        _(
            "Does the activity have an end date? Write the last date (for example {example}), "
            "or tap the button."
        ).format(example=example_day(today(context) + timedelta(days=120))),
        reply_markup=keyboard((_("No end date"), BUTTONS.encode(MatchAction.NO_END))),
    )


async def _finish(update: Update, context: PeerContext, flow: NewMatch) -> None:
    flow.step = "done"
    await create_and_announce(update, context, flow.request)
    conversation.finish(context, NewMatch)  # made or refused: the coordinator starts anew
