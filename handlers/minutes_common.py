"""What the minutes modules share: the buttons, and how a meeting's day and names read."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from telegram import Update

from bot.context import PeerContext
from bot.domain import people
from bot.i18n import format_day
from handlers.callbacks import ButtonHandler, Callbacks, Parser, Who, acknowledge

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.models.meeting import Meeting


class MinutesAction(StrEnum):
    # A name in the preview: came <-> couldn't come. (The checklist of earlier versions
    # carried three ids here, so its old buttons are answered "no longer valid".)
    TICK = "t"  # draft id, person id
    IS_MINUTES = "yes"  # draft id: "yes, these are the minutes"
    FOR_MEETING = "m"  # draft id, meeting id: "the minutes of this meeting"
    NOT_MINUTES = "no"  # draft id: "no, not the minutes"
    SEND = "send"  # the draft's confirmation token
    CANCEL = "cancel"  # the same token
    SEND_PAUSED = "paused"  # minutes id


BUTTONS: Callbacks[MinutesAction] = Callbacks("minutes", MinutesAction)


def coordinator_button(
    action: MinutesAction, *args: Parser
) -> Callable[[ButtonHandler], ButtonHandler]:
    """Every minutes button is the coordinator's; each answers the tap first."""

    def register(handler: ButtonHandler) -> ButtonHandler:
        async def answered(update: Update, context: PeerContext, *values: Any) -> None:
            await acknowledge(update)
            await handler(update, context, *values)

        BUTTONS.route(action, *args, who=Who.COORDINATOR)(answered)
        return handler

    return register


def session_of(context: PeerContext) -> AsyncSession | None:
    """The update's transaction, or None in a scheduler pass."""
    try:
        return context.session
    except RuntimeError:
        return None


def day(context: PeerContext, meeting: Meeting, language: str) -> str:
    assert meeting.starts_at is not None
    return format_day(
        meeting.starts_at, context.services.tz, language, now=context.services.clock.now()
    )


async def language_of_user(session: AsyncSession, context: PeerContext, user_id: int) -> str:
    person = await people.find_person(session, context.services.group_id, user_id)
    return person.language if person else context.services.language


def names(people_list: list[str]) -> str:
    return ", ".join(people_list)
