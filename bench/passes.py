"""The scheduling pass over `bench/scale.py`'s data, for comparing two versions of the code.

Seeds the scale database once (a fixed clock, so a seeded file can be reused), then, on a
copy of it, times the first `Scheduler.run_due` (plans eight weeks for every match, arms
their reminders, runs the daily retention) and a few usual ones (30 s apart, nothing due),
wall time and the process's CPU time. On a shared machine the CPU time is the steadier
figure; run the old and the new code alternately, several times, and compare medians:

    git worktree add /tmp/old e0f261c
    python bench/passes.py --root /tmp/old --database /tmp/old.sqlite3
    python bench/passes.py --database /tmp/new.sqlite3

`--root` runs another checkout's code (its own bench/scale.py seeds its own schema), so
each version needs its own `--database`; run it as a file, as above, so the package
`bench` comes from that checkout too. `--sql` prints the statements that took longest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

NOW = datetime(2026, 12, 4, 10, 0, 7, tzinfo=ZoneInfo("Europe/Copenhagen"))


def statement_timer(engine: Any) -> tuple[Counter[str], Counter[str]]:
    """Counts and seconds per statement (its first 150 characters), from engine events."""
    from sqlalchemy import event

    counts: Counter[str] = Counter()
    seconds: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["began"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        key = " ".join(statement.split())[:150]
        counts[key] += 1
        seconds[key] += time.perf_counter() - conn.info["began"]

    return counts, seconds


async def passes(database: Path, usual: int, sql: bool, volunteers: int) -> list[str]:
    from bench import scale
    from bot.app import build_application
    from bot.clock import FakeClock
    from bot.fake_telegram import FakeTelegram

    clock = FakeClock(NOW)
    figures = []
    async with FakeTelegram() as fake:
        scale.populate(fake, volunteers)
        application = build_application(scale.settings_for(fake, database), clock=clock)
        await application.initialize()
        try:
            assert application.post_init is not None
            await application.post_init(application)
            services = application.bot_data["services"]
            counts, seconds = statement_timer(services.db.engine.sync_engine)
            for n in range(1 + usual):
                if n:
                    clock.advance(timedelta(seconds=30))
                counts.clear()
                seconds.clear()
                began, cpu = time.perf_counter(), time.process_time()
                await services.scheduler.run_due(application)
                wall, cpu = time.perf_counter() - began, time.process_time() - cpu
                name = "first" if n == 0 else "usual"
                figures.append(f"{name} {wall * 1000:.0f} ms (cpu {cpu * 1000:.0f})")
                if sql and n <= 1:
                    print(f"{name} pass, {sum(counts.values())} statements:", file=sys.stderr)
                    for key, took in seconds.most_common(12):
                        print(f"  {took * 1000:8.1f} ms {counts[key]:5d}x {key}", file=sys.stderr)
        finally:
            if application.post_shutdown is not None:
                await application.post_shutdown(application)
            await application.shutdown()
    return figures


async def main(args: argparse.Namespace, seed: bool) -> None:
    from bench import scale
    from storage.db import Database
    from storage.migrate import upgrade

    seeded = Path(args.database)
    if seed:
        db = Database(f"sqlite+aiosqlite:///{seeded}")
        await upgrade(db.engine)
        await scale.seed(db, args.volunteers, args.matches, NOW)
        await db.dispose()
    with tempfile.TemporaryDirectory(prefix="peerbot-passes-") as folder:
        copy = Path(folder) / "scale.sqlite3"
        shutil.copy(seeded, copy)
        figures = await passes(copy, args.usual, args.sql, args.volunteers)
    print(", ".join(figures), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="the checkout whose code runs (default: this one)")
    parser.add_argument("--database", required=True, help="the seeded file (made if missing)")
    parser.add_argument("--usual", type=int, default=3, help="usual passes after the first")
    parser.add_argument("--sql", action="store_true", help="the slowest statements per pass")
    parser.add_argument("--volunteers", type=int, default=10_000)
    parser.add_argument("--matches", type=int, default=5_000)
    arguments = parser.parse_args()
    root = str(Path(arguments.root or Path(__file__).resolve().parents[1]).resolve())
    sys.path.insert(0, root)
    os.chdir(root)
    asyncio.run(main(arguments, seed=not Path(arguments.database).exists()))
