"""`peerbot` / `python -m bot`: run, demo, migrate, check, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from bot.config import Settings, load_settings, problems_for_running, problems_for_webhook
from bot.logging_setup import configure_logging, redacting_excepthook


def _settings_or_exit(**overrides: object) -> Settings:
    settings, problems = load_settings(**overrides)
    if settings is None:
        for problem in problems:
            print(problem, file=sys.stderr)
        raise SystemExit(2)
    return settings


def cmd_check(args: argparse.Namespace) -> int:
    settings, problems = load_settings()
    if settings is not None:
        problems = problems_for_running(settings)
        if args.webhook or settings.webhook_url:
            problems += problems_for_webhook(settings)
    from bot.clock import FAKE_CLOCK_FILE_ENV

    if os.environ.get(FAKE_CLOCK_FILE_ENV):
        # A test hook: the bot would read its time from a file instead of the real clock.
        print(f"Warning: {FAKE_CLOCK_FILE_ENV} is set; it is for tests only, unset it.")
    if problems:
        for problem in problems:
            print(problem)
        return 2
    print("The configuration looks good.")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from storage.db import Database
    from storage.migrate import upgrade

    settings = _settings_or_exit()

    async def _migrate() -> None:
        database = Database(settings.database_url)
        try:
            await upgrade(database.engine)
        finally:
            await database.dispose()

    asyncio.run(_migrate())
    print("The database is up to date.")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from telegram.error import InvalidToken

    from bot.domain.instance import AnotherInstanceRunning
    from bot.runner import DatabaseUnusable, run_polling, run_webhook

    settings = _settings_or_exit()
    problems = problems_for_running(settings)
    if args.webhook:
        problems += problems_for_webhook(settings)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 2
    configure_logging()
    try:
        (run_webhook if args.webhook else run_polling)(settings)
    except AnotherInstanceRunning as refusal:
        print(refusal, file=sys.stderr)
        return 3
    except DatabaseUnusable as failure:
        print(failure, file=sys.stderr)
        return failure.exit_code
    except InvalidToken:
        print(
            "Telegram refused TELEGRAM_BOT_TOKEN: it is wrong or was revoked. Copy it again "
            "from @BotFather (/mybots -> API Token).",
            file=sys.stderr,
        )
        return 2
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from bot.backup import BackupError, backup

    settings = _settings_or_exit()
    try:
        asyncio.run(backup(settings.database_url, args.file))
    except BackupError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"Backup written to {args.file}.")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from bot.backup import BackupError, restore
    from bot.clock import clock_from_environment

    settings = _settings_or_exit()
    try:
        now = clock_from_environment().now()
        asyncio.run(restore(settings.database_url, args.file, now=now))
    except BackupError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"Restored from {args.file}.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return asyncio.run(run_demo(verbose=args.verbose))


def main(argv: list[str] | None = None) -> int:
    # Whatever escapes (a start-up failure included) is printed without the token.
    sys.excepthook = redacting_excepthook
    parser = argparse.ArgumentParser(prog="peerbot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve the real group (long polling)")
    run.add_argument(
        "--webhook", action="store_true", help="serve through a webhook (WEBHOOK_* settings)"
    )
    run.set_defaults(func=cmd_run)
    demo = commands.add_parser("demo", help="a scripted scene on a local Telegram stand-in")
    demo.add_argument("--verbose", action="store_true", help="also show the bot's log")
    demo.set_defaults(func=cmd_demo)
    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        func=cmd_migrate
    )
    check = commands.add_parser("check", help="validate the configuration")
    check.add_argument("--webhook", action="store_true", help="also for `run --webhook`")
    check.set_defaults(func=cmd_check)
    backup = commands.add_parser("backup", help="copy the database to a file (safe while running)")
    backup.add_argument("file")
    backup.set_defaults(func=cmd_backup)
    restore = commands.add_parser("restore", help="replace the database with a backup")
    restore.add_argument("file")
    restore.set_defaults(func=cmd_restore)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
