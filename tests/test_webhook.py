"""Production mode: the webhook server refuses updates without the secret token, and the
configuration refuses a webhook without one."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import aiohttp
import pytest

from bot.clock import FakeClock
from bot.config import problems_for_webhook
from bot.fake_telegram import FakeTelegram
from bot.runner import running_bot
from bot.sandbox import populate, sandbox_settings
from tests.test_config_and_cli import run_cli

SECRET = "s3cret_Token-for-tests"
PUBLIC_URL = "https://peerbot.example.org/telegram/hook"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_updates_without_the_secret_token_are_refused(tmp_path: Path, start_time):
    async with FakeTelegram() as fake:
        cast = populate(fake)
        port = free_port()
        settings = sandbox_settings(
            tmp_path / "hook.sqlite3",
            fake,
            webhook_url=PUBLIC_URL,
            webhook_port=port,
            webhook_secret=SECRET,
        )
        async with running_bot(settings, FakeClock(start_time), webhook=True) as app:
            # The bot told Telegram where to post, with the secret and the update types.
            [call] = fake.calls_to("setWebhook")
            assert call.params["url"] == PUBLIC_URL
            assert call.params["secret_token"] == SECRET
            assert "chat_member" in call.params["allowed_updates"]
            assert fake.calls_to("getUpdates") == []  # no polling beside the webhook

            anna = cast.volunteers[0]
            fake.send_text(anna, anna.id, "/start")
            update = fake.pending_updates[-1]
            local = f"http://127.0.0.1:{port}/telegram/hook"
            async with aiohttp.ClientSession() as http:
                for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guessed"}):
                    async with http.post(local, json=update, headers=headers) as response:
                        assert response.status == 403
                await asyncio.sleep(0.2)
                assert fake.messages_to(anna.id) == []  # nothing was handled

                headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                async with http.post(local, json=update, headers=headers) as response:
                    assert response.status == 200
            # Telegram hears "200" only once the update was handled: a crash before that
            # makes Telegram deliver it again instead of losing it.
            welcome = fake.last_message_to(anna.id)
            assert welcome is not None and "Velkommen, Anna" in welcome.text
            assert app.updater is not None and app.updater.running
        assert fake.spec_violations == []


def test_the_secret_must_use_telegrams_alphabet():
    from bot.config import load_settings

    settings, problems = load_settings(_env_file=None, webhook_secret="has spaces!")
    assert settings is None and problems[0].startswith("WEBHOOK_SECRET:")
    settings, problems = load_settings(_env_file=None, webhook_secret="x" * 257)
    assert settings is None
    settings, _ = load_settings(_env_file=None, webhook_url="http://plain.example.org/")
    assert settings is not None
    found = problems_for_webhook(settings)
    assert any("https://" in p for p in found) and any("WEBHOOK_SECRET" in p for p in found)


GOOD_ENV = (
    "TELEGRAM_BOT_TOKEN=123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678\nGROUP_CHAT_ID=-100123\n"
    "COORDINATOR_IDS=42\n"
)


@pytest.mark.parametrize("command", [["check", "--webhook"], ["run", "--webhook"]])
def test_check_and_run_refuse_a_webhook_without_a_secret(tmp_path: Path, command: list[str]):
    (tmp_path / ".env").write_text(GOOD_ENV + f"WEBHOOK_URL={PUBLIC_URL}\n")
    result = run_cli(command, tmp_path, {"WEBHOOK_SECRET": ""})
    assert result.returncode == 2
    assert "WEBHOOK_SECRET is missing" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_check_notices_a_webhook_url_without_a_secret_even_without_the_flag(tmp_path: Path):
    (tmp_path / ".env").write_text(GOOD_ENV + f"WEBHOOK_URL={PUBLIC_URL}\n")
    assert run_cli(["check"], tmp_path, {"WEBHOOK_SECRET": ""}).returncode == 2
    (tmp_path / ".env").write_text(GOOD_ENV + f"WEBHOOK_URL={PUBLIC_URL}\nWEBHOOK_SECRET=ok-1\n")
    assert run_cli(["check", "--webhook"], tmp_path).returncode == 0


async def raw_post(port: int, headers: dict[str, str], body: bytes = b"") -> int:
    """POST with the given headers and (part of) a body; the status line's code. The
    Content-Length header may promise far more than is sent: a server that reads the body
    before answering would never answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "POST /telegram/hook HTTP/1.1\r\nHost: localhost\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), timeout=5)
    writer.close()
    return int(status.split()[1])


async def test_the_webhook_checks_the_secret_before_the_body_and_caps_its_size(
    tmp_path: Path, start_time, caplog: pytest.LogCaptureFixture
):
    async with FakeTelegram() as fake:
        populate(fake)
        port = free_port()
        settings = sandbox_settings(
            tmp_path / "hook.sqlite3",
            fake,
            webhook_url=PUBLIC_URL,
            webhook_port=port,
            webhook_secret=SECRET,
        )
        async with running_bot(settings, FakeClock(start_time), webhook=True) as app:
            huge = {"Content-Type": "application/json", "Content-Length": str(90 * 1024 * 1024)}
            # 90 MB announced, 1 KB sent: answered at once, without waiting for the rest.
            assert await raw_post(port, huge, b"x" * 1024) == 403
            assert await raw_post(port, {**huge, "X-Telegram-Bot-Api-Secret-Token": "no"}) == 403
            with_secret = {**huge, "X-Telegram-Bot-Api-Secret-Token": SECRET}
            assert await raw_post(port, with_secret, b"x" * 1024) == 413
            # A body that says nothing of its length is cut off at 1 MB as well.
            local = f"http://127.0.0.1:{port}/telegram/hook"
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

            async def chunks():
                for _ in range(3):
                    yield b" " * (512 * 1024)

            async with aiohttp.ClientSession() as http:
                async with http.post(local, data=chunks(), headers=headers) as response:
                    assert response.status == 413
                # An update PTB cannot read: logged by its id, never its content.
                caplog.set_level(logging.DEBUG)
                broken = {
                    "update_id": 777001,
                    "message": {"message_id": 1, "text": "kanarie-hemmelig", "chat": "garbage"},
                }
                async with http.post(local, json=broken, headers=headers) as response:
                    assert response.status == 200
            logged = "\n".join(r.getMessage() for r in caplog.records)
            assert "update 777001 could not be read" in logged
            assert "kanarie-hemmelig" not in logged and "garbage" not in logged
            assert app.updater is not None and app.updater.running
