"""Pause commands typed in the group: never echoed. The message is deleted if we may, and
answered like every other private-only command (`talk_privately_instead`), so nothing
singles out a pause."""

from __future__ import annotations

from telegram import Update

from bot.context import PeerContext
from handlers.common import talk_privately_instead


async def pause_in_group(update: Update, context: PeerContext) -> None:
    """`/pause` written in the group: removed if we may, answered neutrally."""
    await talk_privately_instead(update, context)


async def resume_in_group(update: Update, context: PeerContext) -> None:
    """`/resume`, `/pausevolunteer @anna`, `/resumevolunteer @anna` in the group would tell
    everyone about a pause: removed and answered like `/pause`."""
    await talk_privately_instead(update, context)
