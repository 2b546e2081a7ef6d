"""A pause for someone in several groups: from the group in hand only, or from all of
them. Asked first in the volunteer's `/pause` flow; "all my groups" starts one pause per
group, each told to that group's coordinators (or stand-in) only, each with that group's
matches handled as for one group. The group itself is told nothing, as ever."""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import PeerContext, current_group
from bot.domain import groups, people
from bot.domain import pause as pauses
from bot.domain.matches import matches_for_person
from bot.i18n import Translate
from bot.sealing import seal
from handlers import conversation
from handlers.callbacks import choice
from handlers.common import reply
from handlers.delivery import send_due, start_sending
from handlers.group_names import title_of
from handlers.pause.common import (
    PauseFlow,
    announce_end,
    ask_length,
    citizens_text,
    note_key,
    rhythm,
    stand_ins,
)
from handlers.pause_buttons import BUTTONS, PauseAction

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bot.domain.groups import GroupScope
    from storage.models import Person

ONE, ALL = "one", "all"


async def other_groups(context: PeerContext, person: Person) -> list[tuple[GroupScope, Person]]:
    """The person's other groups (with their row in each), oldest first; none for someone
    in one group, without asking the database (the update's group knows)."""
    scope = context.services.group
    if scope is None or not scope.marks_buttons:
        return []
    session, now = context.session, context.services.clock.now()
    found = []
    for group in await groups.groups_of_member(session, person.telegram_user_id):
        if group.id == scope.id:
            continue
        there = await people.find_person(session, group.id, person.telegram_user_id)
        if there is not None and there.is_member and not there.is_coordinator:
            found.append((await groups.scope_of(session, group, now), there))
    return found


@contextlib.contextmanager
def in_group(scope: GroupScope) -> Iterator[None]:
    """Work for another group of the person: `services.group_id`, `tz`... are its."""
    token = current_group.set(scope)
    try:
        yield
    finally:
        current_group.reset(token)


async def ask_scope(update: Update, context: PeerContext, person: Person, flow: PauseFlow) -> bool:
    """In several groups: ask whether the pause is from this group or all; True if asked."""
    if not await other_groups(context, person):
        return False
    flow.step = "scope"
    _ = context.texts(person.language)
    title = await title_of(context, context.services.group)  # type: ignore[arg-type]
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Only {group}").format(group=title),
                    callback_data=BUTTONS.encode(PauseAction.SCOPE, ONE),
                )
            ],
            [
                InlineKeyboardButton(
                    _("All my groups"), callback_data=BUTTONS.encode(PauseAction.SCOPE, ALL)
                )
            ],
        ]
    )
    await reply(
        update,
        _("Should the pause be from {group} only, or from all your groups?").format(group=title),
        reply_markup=keyboard,
    )
    return True


@BUTTONS.route(PauseAction.SCOPE, choice(ONE, ALL))
async def on_scope(update: Update, context: PeerContext, answer: str) -> None:
    from handlers.pause import volunteer  # the flow's steps; it imports this module

    await volunteer.answered(update)
    person = await volunteer.tapping_person(update, context)
    if person is None:
        return
    flow = conversation.get(context, PauseFlow, "scope")
    if flow is None:
        flow = await volunteer.flow_of(update, context, person)  # starts again kindly
        return
    flow.everywhere = answer == ALL
    flow.step = "length"
    await ask_length(update, context, person)


async def citizens_elsewhere(context: PeerContext, person: Person) -> list[str]:
    """The labels of the person's matches in their other groups."""
    now = context.services.clock.now()
    labels = []
    for scope, there in await other_groups(context, person):
        found = await matches_for_person(context.session, scope.id, there.id, now)
        labels += [m.label for m in found if m.kind == "match"]
    return labels


async def summary_line(context: PeerContext, person: Person, flow: PauseFlow, _: Translate) -> str:
    """Where the pause applies, for the summary ("" for someone in one group)."""
    if flow.everywhere is None:
        return ""
    title = await title_of(context, context.services.group)  # type: ignore[arg-type]
    others = [await title_of(context, g) for g, _p in await other_groups(context, person)]
    if flow.everywhere:
        return _("In all your groups: {groups}.").format(groups=citizens_text([title, *others], _))
    return _("Only in {group}.").format(group=title)


async def away_lines(
    context: PeerContext, person: Person, flow: PauseFlow, _: Translate
) -> list[str]:
    """ "All my groups": for each other group whose coordinator is away, who reads what
    she tells the coordinator there (she may let it wait, as in one group)."""
    if not flow.everywhere:
        return []
    lines = []
    for scope, there in await other_groups(context, person):
        with in_group(scope):
            names, back = await stand_ins(context, there)
        if names is not None:
            lines.append(
                "• "
                + _(
                    "In {group}, the coordinator is away until and including {day}. "
                    "Meanwhile {name} reads what you tell the coordinator there. If you "
                    "prefer, it can wait for the coordinator."
                ).format(group=await title_of(context, scope), day=back, name=names)
            )
    return lines


async def start_elsewhere(
    context: PeerContext, person: Person, flow: PauseFlow, note: str | None, *, wait: bool
) -> list[tuple[GroupScope, int]]:
    """ "All my groups": a pause in each other group, as the one here (a group where one
    already runs keeps it). Returns (group, pause id) of those started."""
    services = context.services
    now = services.clock.now()
    started = []
    for scope, there in await other_groups(context, person):
        with in_group(scope):
            try:
                pause = await pauses.start_pause(
                    context.session,
                    scope.id,
                    there.id,
                    now,
                    until_day=flow.until,
                    wants_cover=flow.wants_cover,
                    rhythm=rhythm(services),
                    tz=scope.tz,
                    note=seal(note_key(services), note) if note else None,
                    notify=scope.coordinator_ids,
                    wait_for_coordinator=wait,
                )
            except pauses.AlreadyPaused:
                continue
            await services.emit("pause_started", context, person=there, pause=pause)
            started.append((scope, pause.id))
    return started


async def paused_elsewhere(context: PeerContext, person: Person) -> list[tuple[GroupScope, Person]]:
    """The person's other groups where a pause of theirs is going on."""
    now = context.services.clock.now()
    return [
        (scope, there)
        for scope, there in await other_groups(context, person)
        if await people.current_pause(context.session, there.id, now) is not None
    ]


async def ask_resume_scope(update: Update, context: PeerContext, person: Person) -> bool:
    """On a pause in other groups too: ask whether they are back here only or everywhere;
    True if asked."""
    if not await paused_elsewhere(context, person):
        return False
    _ = context.texts(person.language)
    title = await title_of(context, context.services.group)  # type: ignore[arg-type]
    rows = []
    if await people.current_pause(context.session, person.id, context.services.clock.now()):
        rows.append(
            [
                InlineKeyboardButton(
                    _("Only {group}").format(group=title),
                    callback_data=BUTTONS.encode(PauseAction.BACK_SCOPE, ONE),
                )
            ]
        )
    rows.append(
        [
            InlineKeyboardButton(
                _("All my groups"), callback_data=BUTTONS.encode(PauseAction.BACK_SCOPE, ALL)
            )
        ]
    )
    await reply(
        update,
        _("You are on a pause in more than one group. Where are you coming back?"),
        reply_markup=InlineKeyboardMarkup(rows),
    )
    return True


@BUTTONS.route(PauseAction.BACK_SCOPE, choice(ONE, ALL))
async def on_back_scope(update: Update, context: PeerContext, answer: str) -> None:
    from handlers.pause import volunteer  # the flow's steps; it imports this module

    await volunteer.answered(update)
    if person := await volunteer.tapping_person(update, context):
        await volunteer.come_back(update, context, person, everywhere=answer == ALL)


async def end_elsewhere(context: PeerContext, person: Person) -> list[str]:
    """ "Back in all my groups": the pauses in the other groups end too, each told to that
    group's coordinators; returns the titles of those groups."""
    services = context.services
    now = services.clock.now()
    application = context.application
    ended = []
    for scope, there in await paused_elsewhere(context, person):
        with in_group(scope):
            try:
                pause = await pauses.end_pause(
                    context.session, there.id, now, notify=scope.coordinator_ids
                )
            except pauses.NotPaused:
                continue
            await announce_end(context, there, pause)
            # Its notices and what its pause held, sent in its group once this committed.
            context.after_commit(functools.partial(_send_in, application, scope))
            ended.append(await title_of(context, scope))
    return ended


def _send_in(application: Any, scope: GroupScope) -> None:
    with in_group(scope):
        start_sending(application)


async def send_elsewhere(later: PeerContext, started: list[tuple[GroupScope, int]]) -> None:
    """Send the other groups' notices now, each in its group (after the commit)."""
    for scope in {scope.id: scope for scope, _pause in started}.values():
        with in_group(scope):
            await send_due(later, pauses.KINDS)
