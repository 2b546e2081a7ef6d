"""Keeping in touch (the scheduler pass): check-in reminders to the coordinator and the
"are you ready?" question to the volunteer; abandoned flows are forgotten."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import InlineKeyboardMarkup

from bot.context import PeerContext
from bot.domain import pause as pauses
from handlers.common import keyboard
from handlers.delivery import send_due
from handlers.pause_buttons import BUTTONS, PauseAction

if TYPE_CHECKING:
    from storage.models import Pause, Person

from handlers.pause.common import rhythm

log = logging.getLogger(__name__)


async def run_due(context: PeerContext) -> None:
    """Remind the coordinator to check in, and ask paused volunteers whether they are ready.
    Each is claimed (its due time moved on) and enqueued in the outbox in one transaction,
    so it is sent at least once and a restart never repeats it; a late pass sends once, not
    once per missed cycle (`handlers.pause.notices` renders them)."""
    services = context.services
    now = services.clock.now()
    async with services.db.transaction() as session:
        checkins = await pauses.due_checkins(session, services.group_id, now)
        questions = await pauses.due_questions(session, services.group_id, now)
    for pause_id in checkins:
        async with services.db.transaction() as session:
            await pauses.claim_checkin(
                session,
                pause_id,
                now,
                rhythm=rhythm(services),
                tz=services.tz,
                notify=services.coordinator_ids,
            )
    for pause_id in questions:
        async with services.db.transaction() as session:
            await pauses.claim_question(
                session, pause_id, now, rhythm=rhythm(services), tz=services.tz
            )
    await send_due(context, pauses.KINDS)


def readiness_question(
    context: PeerContext, person: Person, pause: Pause
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.texts(person.language)
    if pause.until is not None and pause.until <= context.services.clock.now():
        opening = _("Hi {name}. How are you? Your pause was planned until today.")
    else:
        opening = _("Hi {name}. How are you? It has been a while since your pause began.")
    text = "\n".join(
        [
            opening.format(name=person.first_name),
            _(
                "Are you ready to come back, or would you like a little longer? There is no "
                "hurry, and both are completely fine."
            ),
        ]
    )
    return text, keyboard(
        (_("Yes, I'm back"), BUTTONS.encode(PauseAction.BACK)),
        (_("A little longer"), BUTTONS.encode(PauseAction.MORE)),
        (_("Let's talk"), BUTTONS.encode(PauseAction.TALK)),
    )
