"""One periodic pass that sends whatever is due.

Due times are database rows owned by each feature; nothing lives only in memory. Every
`interval` seconds (and once at start, to catch up after downtime) the JobQueue runs
`run_due`, which calls each feature's pass in turn, for every group served (each pass
sees its group as `services.group_id`, `services.tz`...: `bot.context.current_group`).
Rounds never overlap. Within a round each pass serves the groups in order, `side_by_side`
of them at a time (the next group goes to whichever finishes first), so a group with much
to send delays only its own turn; one group's passes always run one after another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.context import PeerContext

log = logging.getLogger(__name__)

DuePass = Callable[["PeerContext"], Awaitable[None]]


class Scheduler:
    def __init__(self) -> None:
        self._passes: list[tuple[str, DuePass, bool]] = []
        self._lock = asyncio.Lock()
        self._rounds_done = 0
        self._round_finished = asyncio.Event()
        self.running_pass: str | None = None  # for a report when a round takes too long
        self.side_by_side = 1  # groups served at once by a pass (see the module's doc)
        # The groups a round serves (set by the application); None: passes run once each.
        self.groups: Callable[[Application], Awaitable[list[Any]]] | None = None

    def add(self, name: str, due_pass: DuePass, *, per_group: bool = True) -> None:
        """A pass run for each group in turn, or (`per_group=False`) once for all."""
        self._passes.append((name, due_pass, per_group))

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self._passes]

    async def run_due(self, application: Application) -> None:
        """Run every feature's pass once for every group. A failing pass is logged and the
        others still run."""
        context = application.context_types.context(application=application)
        async with self._lock:
            served: list[Any] = [None]
            if self.groups is not None:
                try:
                    served = await self.groups(application)
                except Exception:
                    log.exception("the groups could not be read; the next round tries again")
                    served = []
            for name, due_pass, per_group in self._passes:
                self.running_pass = name
                if not per_group:
                    await self._run_pass(context, name, due_pass, None)
                    continue
                waiting = iter(served)  # shared: each server takes the next group in order
                servers = min(max(1, self.side_by_side), len(served))
                await asyncio.gather(
                    *(self._serve(context, name, due_pass, waiting) for _ in range(servers))
                )
            self.running_pass = None
            self._rounds_done += 1
            self._round_finished.set()

    async def _serve(
        self, context: PeerContext, name: str, due_pass: DuePass, waiting: Iterator[Any]
    ) -> None:
        """Run the pass for the next group waiting, until none is left."""
        for group in waiting:
            await self._run_pass(context, name, due_pass, group)

    async def _run_pass(
        self, context: PeerContext, name: str, due_pass: DuePass, group: Any
    ) -> None:
        """One pass for one group (None: once for all); a failure is logged, not raised."""
        from bot.context import current_group

        token = current_group.set(group)
        try:
            await due_pass(context)
        except Exception:
            log.exception(
                "scheduled pass %s failed for group row %s; it will run again next time",
                name,
                group.id if group is not None else "-",
            )
        finally:
            current_group.reset(token)

    async def wait_for_rounds(self, count: int) -> None:
        """Until `count` rounds of passes have finished since start (the catch-up round at
        start is the first): tests wait for it, so it can't land inside their next step."""
        while self._rounds_done < count:
            self._round_finished.clear()
            await self._round_finished.wait()

    def arm(self, application: Application, interval: float) -> None:
        """Arm the JobQueue: a catch-up round at start, then one every `interval` seconds.
        APScheduler would silently drop a run more than 1 s late, so the grace is
        unlimited and late runs are merged into one."""

        async def _job(context: PeerContext) -> None:
            await self.run_due(context.application)

        assert application.job_queue is not None, "install python-telegram-bot[job-queue]"
        job_kwargs = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
        # The catch-up round is a job of its own, due at once. As the repeating job's
        # `first` it was lost whenever starting took longer than that `first`: APScheduler
        # fixes a job's first run only when the JobQueue starts (after post_init, where this
        # runs, and after the updater's start), and an interval whose start has passed by
        # then begins at its next interval. Run once, the round is due at start however
        # late the JobQueue starts. Rounds never overlap: run_due holds a lock.
        application.job_queue.run_once(
            _job, when=0, name="run_due_at_start", job_kwargs=dict(job_kwargs)
        )
        application.job_queue.run_repeating(
            _job, interval=interval, first=interval, name="run_due", job_kwargs=job_kwargs
        )
