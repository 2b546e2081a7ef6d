"""The single-instance guard: a second PeerBot on the same database refuses to start."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.domain import instance
from bot.fake_telegram import FakeTelegram
from bot.runner import running_bot
from bot.sandbox import populate, sandbox_settings
from storage.db import Database
from storage.migrate import upgrade

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def lease_of(url: str) -> instance.LeaseInfo | None:
    database = Database(url)
    try:
        async with database.transaction() as session:
            return await instance.current_lease(session)
    finally:
        await database.dispose()


async def test_a_second_bot_on_the_same_database_refuses_then_starts_after(tmp_path: Path):
    async with FakeTelegram() as fake:
        populate(fake)
        settings = sandbox_settings(tmp_path / "one.sqlite3", fake)
        clock = FakeClock(START)
        async with running_bot(settings, clock):
            with pytest.raises(instance.AnotherInstanceRunning, match="Another PeerBot is running"):
                async with running_bot(settings, clock):
                    pytest.fail("two bots served the same database")
            # The refused one released nothing: the first still holds the lease.
            assert await lease_of(settings.database_url) is not None
        # After a clean stop the lease is free and a new bot starts at once.
        assert await lease_of(settings.database_url) is None
        async with running_bot(settings, clock) as app:
            assert app.running


async def test_renewal_keeps_the_lease_and_a_stale_one_is_taken_over(tmp_path: Path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'lease.sqlite3'}")
    await upgrade(database.engine)
    clock = FakeClock(START)
    # A holder on another host: we cannot see its process, only its heartbeat.
    other = "elsewhere/4242/abcd1234"
    async with database.transaction() as session:
        await instance.acquire(session, other, clock.now())
    clock.advance(timedelta(seconds=60))
    async with database.transaction() as session:
        assert await instance.renew(session, other, clock.now())
    clock.advance(timedelta(seconds=80))  # 80 s since the last heartbeat: still alive
    with pytest.raises(instance.AnotherInstanceRunning):
        async with database.transaction() as session:
            await instance.acquire(session, "here/1/new", clock.now())
    clock.advance(timedelta(seconds=11))  # 91 s: the holder is presumed dead
    async with database.transaction() as session:
        await instance.acquire(session, "here/1/new", clock.now())
    async with database.transaction() as session:
        lease = await instance.current_lease(session)
        assert lease is not None and lease.holder == "here/1/new"
        # The old holder finds out at its next renewal and stops serving.
        assert not await instance.renew(session, other, clock.now())
    await database.dispose()


async def test_a_crashed_bot_on_this_host_is_taken_over_at_once(tmp_path: Path):
    """SIGKILL then restart: the holder's process is gone, so no 90 s wait."""
    import os
    import socket
    import subprocess

    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'lease.sqlite3'}")
    await upgrade(database.engine)
    gone = subprocess.Popen(["true"])  # noqa: ASYNC220  (a pid that is surely gone after wait)
    gone.wait()
    dead_holder = f"{socket.gethostname()}/{gone.pid}/deadbeef"
    clock = FakeClock(START)
    async with database.transaction() as session:
        await instance.acquire(session, dead_holder, clock.now())
    async with database.transaction() as session:
        await instance.acquire(session, instance.new_holder_id(), clock.now())
    # A SIGKILLed child its parent has not reaped yet (a zombie) counts as gone too.
    import signal

    zombie = subprocess.Popen(["sleep", "30"])  # noqa: ASYNC220
    zombie.send_signal(signal.SIGKILL)
    for _ in range(100):
        with open(f"/proc/{zombie.pid}/stat") as stat:  # noqa: ASYNC230
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        await asyncio.sleep(0.01)
    assert instance.holder_is_gone(f"{socket.gethostname()}/{zombie.pid}/cafe0000")
    zombie.wait()
    # An earlier life of this very process id (PID 1 in a container) counts as gone too,
    # but a live holder in this process does not.
    async with database.transaction() as session:
        lease = await instance.current_lease(session)
        assert lease is not None and lease.holder.split("/")[1] == str(os.getpid())
        with pytest.raises(instance.AnotherInstanceRunning):
            await instance.acquire(session, instance.new_holder_id(), clock.now())
    await database.dispose()


async def test_the_running_bot_renews_its_lease_from_the_job_queue(tmp_path: Path):
    async with FakeTelegram() as fake:
        populate(fake)
        settings = sandbox_settings(tmp_path / "one.sqlite3", fake)
        clock = FakeClock(START)
        async with running_bot(settings, clock) as app:
            jobs = [j.name for j in app.job_queue.jobs()]
            assert "instance_lease" in jobs
            clock.advance(timedelta(minutes=5))
            [job] = app.job_queue.get_jobs_by_name("instance_lease")
            await job.run(app)
            async with app.bot_data["services"].db.transaction() as session:
                lease = await instance.current_lease(session)
            assert lease is not None and lease.heartbeat_at == clock.now()


async def test_a_second_peerbot_run_process_refuses_and_the_webhook_process_serves(
    tmp_path: Path,
):
    """As real processes: `peerbot run --webhook` serves; a second `peerbot run` on the same
    database exits at once saying why; after SIGTERM the lease is free again."""
    import signal

    import aiohttp

    from tests.processes import bot_env, spawn

    async with FakeTelegram() as fake:
        cast = populate(fake)
        port = free_port()
        env = bot_env(
            fake,
            cast,
            f"sqlite:///{tmp_path / 'run.sqlite3'}",
            WEBHOOK_URL="https://peerbot.example.org/hook",
            WEBHOOK_PORT=str(port),
            WEBHOOK_SECRET="process-secret",
        )

        async def peerbot(*args: str) -> asyncio.subprocess.Process:
            return await spawn(env, tmp_path, "-m", "bot", *args)

        first = await peerbot("run", "--webhook")
        try:
            hooked = await fake.wait_for(lambda c: c.method == "setWebhook", timeout=30)
            assert hooked.params["secret_token"] == "process-secret"
            anna = cast.volunteers[0]
            fake.send_text(anna, anna.id, "/start")
            update = fake.pending_updates[-1]
            async with aiohttp.ClientSession() as http:
                for attempt in range(50):  # the server listens a moment after setWebhook
                    try:
                        async with http.post(
                            f"http://127.0.0.1:{port}/hook",
                            json=update,
                            headers={"X-Telegram-Bot-Api-Secret-Token": "process-secret"},
                        ) as response:
                            assert response.status == 200
                            break
                    except aiohttp.ClientConnectorError:
                        assert attempt < 49
                        await asyncio.sleep(0.1)
            await fake.wait_for(
                lambda c: c.method == "sendMessage" and c.params.get("chat_id") == anna.id,
                timeout=15,
            )
            assert "Velkommen, Anna" in fake.last_message_to(anna.id).text

            second = await peerbot("run")
            output, _ = await asyncio.wait_for(second.communicate(), timeout=60)
            assert second.returncode == 3
            assert "Another PeerBot is running on this database" in output.decode()
            assert "Traceback" not in output.decode()
        finally:
            first.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(first.communicate(), timeout=30)
        assert first.returncode == 0, output.decode()
        assert await lease_of(f"sqlite+aiosqlite:///{tmp_path / 'run.sqlite3'}") is None
