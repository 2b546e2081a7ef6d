"""What a group's own coordinators set for their group in chat: the crisis help its
volunteers are shown in the pause flow (`/crisishelp`) and when the coordinators get the
weekly overview of the matches (`/digest`). The meeting's settings are in
`bot.domain.meeting` (`/meetingsettings`). Each function changes one group's row only, the
group of the work in hand: a coordinator of group A never reaches group B's.
"""

from __future__ import annotations

from datetime import time

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Group

# The crisis help is a line or two in the pause flow's texts, not a page.
MAX_CRISIS_HELP = 500


class TooLong(ValueError):
    """A crisis help text over MAX_CRISIS_HELP characters."""


async def set_crisis_help(session: AsyncSession, group_id: int, text: str | None) -> None:
    """The group's own crisis help from now on; None or blank: back to the default
    (CRISIS_HELP_TEXT, else the built-in Livslinien text)."""
    text = (text or "").strip()
    if len(text) > MAX_CRISIS_HELP:
        raise TooLong(len(text))
    group = await session.get(Group, group_id)
    if group is None:
        return
    group.crisis_help_text = text or None
    await session.flush()


async def set_digest_slot(
    session: AsyncSession, group_id: int, slot: tuple[int, time] | None
) -> None:
    """When the group's weekly overview comes from now on (weekday 0 = Monday, local
    time); None: back to DIGEST_WEEKDAY and DIGEST_TIME. An overview promised for the old
    slot is then no longer wanted; the next scheduler pass promises the new one."""
    group = await session.get(Group, group_id)
    if group is None:
        return
    if slot is None:
        group.digest_weekday, group.digest_time = None, None
    else:
        weekday, at = slot
        if not 0 <= weekday <= 6:
            raise ValueError(weekday)
        group.digest_weekday, group.digest_time = weekday, at.strftime("%H:%M")
    await session.flush()
