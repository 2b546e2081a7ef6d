"""The catch-up round of scheduled passes at start: reminders that fell due while the bot
was down go out right after it starts, however long starting took."""

from __future__ import annotations

import asyncio

from telegram.ext import Application

from bot.scheduler import Scheduler


async def test_the_catch_up_round_runs_at_start_even_when_starting_took_a_while():
    # The JobQueue starts only after post_init (where the scheduler is armed) and the
    # updater's start: over a real network, or on an overloaded machine, that takes longer
    # than the 0.1 s the catch-up round was armed for.
    application = Application.builder().token("1:not-used").build()
    assert application.job_queue is not None
    ran: list[str] = []

    async def reminders(context: object) -> None:
        ran.append("reminders")

    scheduler = Scheduler()
    scheduler.add("reminders", reminders)
    scheduler.arm(application, interval=3600)
    await asyncio.sleep(0.3)  # starting the updater
    await application.job_queue.start()
    try:
        await asyncio.wait_for(scheduler.wait_for_rounds(1), timeout=10)
    finally:
        await application.job_queue.stop()
    assert ran == ["reminders"]
