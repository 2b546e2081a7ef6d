"""The benchmark scripts still run (tiny sizes; the figures themselves are not checked)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import groups, latency, run, scale
from bench.common import ROOT, percentile
from bot.clock import FakeClock
from bot.fake_telegram import FakeTelegram
from storage.db import Database
from storage.migrate import upgrade


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 50) == 0.0


async def test_the_floor_answers_ping_poll_answers_and_taps(tmp_path: Path):
    sizes = latency.Sizes(people=12, greetings=10, polls=5, taps=4, tappers=2, baseline=5)
    figures = await latency.measure(latency.Floor(), sizes, tmp_path)
    assert figures.start_seconds > 0
    assert figures.rss_start_mb > 0
    assert len(figures.greeting.seconds) == 10
    assert len(figures.poll.seconds) == 5
    assert len(figures.tap.seconds) == 4
    assert figures.updates >= 10 + 5 + 5 * 3 + 4


async def test_scale_seeds_the_real_models_and_runs_a_scheduling_pass(tmp_path: Path):
    database = tmp_path / "scale.sqlite3"
    db = Database(f"sqlite+aiosqlite:///{database}")
    await upgrade(db.engine)
    clock = FakeClock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    counts = await scale.seed(db, volunteers=30, matches=10, now=clock.now())
    await db.dispose()
    assert counts["people"] == 31 and counts["matches"] == 10
    assert counts["match_occurrences"] > 10 * 50  # a year of weekly meetings
    async with FakeTelegram() as fake:
        scale.populate(fake, 30)
        first, usual, _sent = await scale.scheduling_passes(fake, database, clock)
    assert first > 0 and usual > 0


def test_the_pass_comparison_seeds_once_and_times_first_and_usual_passes(tmp_path: Path):
    database = tmp_path / "passes.sqlite3"
    command = [sys.executable, str(ROOT / "bench" / "passes.py"), "--database", str(database)]
    command += ["--volunteers", "30", "--matches", "10", "--usual", "1"]
    for _ in range(2):  # seeded the first time, copied the second
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
        assert done.stdout.startswith("first ") and ", usual " in done.stdout
    assert database.exists()


async def test_the_groups_bench_runs_every_part_on_postgresql(postgres_server: str | None):
    if postgres_server is None:
        pytest.skip("PostgreSQL could not be started here (see the warning above)")
    figures = await groups.run(count=3, volunteers=2, samples=4, database_url=postgres_server)
    assert figures["many_groups"]["start"]["count"] == figures["one_group"]["start"]["count"] == 4
    minute = figures["poll_minute"]
    assert minute["polls_out"] == 3 and minute["too_many_requests"] == 0
    sent = figures["broadcasts"]
    assert sent["copies"] == 6 and sent["lost"] == 0 and sent["duplicated"] == 0


def test_the_summary_names_every_target():
    floor = {
        "start_seconds": 0.3,
        "rss_start_mb": 45,
        "rss_end_mb": 46,
        "updates_handled": 1700,
        **{
            key: {"count": 10, "p50_ms": 5.0, "p99_ms": 20.0}
            for key in (
                "greeting",
                "poll_answer",
                "poll_answer_alone_estimate",
                "button_tap",
                "follow_up_alone",
            )
        },
    }
    scale_figures = {
        "volunteers": 10,
        "matches": 5,
        "rows": {"people": 11},
        "database_mb": 1.0,
        "seed_seconds": 0.1,
        "start_seconds": 1.0,
        "rss_start_mb": 90,
        "rss_end_mb": 95,
        "peak_rss_mb": 96,
        "first_pass_seconds": 0.5,
        "usual_pass_seconds": 0.01,
        "meetings": {"count": 3, "p50_ms": 10.0, "p99_ms": 12.0},
        "mydata": {"count": 3, "p50_ms": 40.0, "p99_ms": 300.0},
        "matches_overview": {
            "first_ms": 50.0,
            "messages": 1,
            "watched_seconds": 8,
            "matches_in_first_message": 5,
            "messages_needed": 1,
            "volunteer_meanwhile_ms": None,
        },
    }
    text = run.summary(
        {
            "machine": run.machine(datetime(2026, 12, 4, 12, 0, tzinfo=UTC)),
            "side_by_side": {
                "pace_per_second": 25,
                "sizes": {"people": 1000},
                "floor": floor,
                "peerbot": floor,
            },
            "broadcast": [],
            "scale": scale_figures,
        }
    )
    assert "`/mydata` p50 / p99" in text and "**no**" in text  # 300 ms misses 200 ms
    assert "poll answer" in text and "button tap" in text


async def test_an_up_to_date_database_is_recognised_without_alembic(tmp_path: Path):
    """The bot's start skips Alembic (about 15 MiB resident) when nothing is due."""
    from alembic.script import ScriptDirectory

    from storage.migrate import alembic_config, is_up_to_date, script_heads

    expected = set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
    assert script_heads() == expected
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}")
    assert not await is_up_to_date(db.engine)  # a new database
    await upgrade(db.engine)
    assert await is_up_to_date(db.engine)
    await db.dispose()


def test_the_start_of_an_up_to_date_bot_does_not_load_alembic(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}"
    db = Database(url)
    asyncio.run(upgrade(db.engine))
    asyncio.run(db.dispose())
    check = (
        "import asyncio, sys\n"
        "from storage.db import Database\n"
        "from storage.migrate import upgrade\n"
        f"db = Database({url!r})\n"
        "asyncio.run(upgrade(db.engine))\n"
        "print('alembic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "False"


def test_danish_holidays_are_the_days_the_holidays_package_knows():
    import holidays

    from bot.domain.meeting_dates import danish_holidays

    for year in range(1950, 2101):
        assert danish_holidays(year) == set(holidays.Denmark(years=year)), year
