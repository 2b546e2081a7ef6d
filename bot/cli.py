"""`peerbot` / `python -m bot`: run, demo, migrate, check, groups, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from bot.config import Settings, load_settings, problems_for_running, problems_for_webhook
from bot.logging_setup import configure_logging, redacting_excepthook


def _settings_or_exit(**overrides: object) -> Settings:
    settings, problems = load_settings(**overrides)
    if settings is None:
        for problem in problems:
            print(problem, file=sys.stderr)
        raise SystemExit(2)
    return settings


def groups_in_database(settings: Settings) -> int | None:
    """How many groups the database holds (0 for a database not made yet), or None when it
    cannot be read; never creates nor changes it."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from storage.db import Database

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not os.path.exists(url.database or ""):
        return 0

    async def _count() -> int | None:
        database = Database(settings.database_url)
        try:
            async with database.engine.connect() as connection:
                return int((await connection.execute(text("SELECT COUNT(*) FROM groups"))).scalar())
        except Exception:  # not made yet, unreachable: the start will tell more
            return None
        finally:
            await database.dispose()

    return asyncio.run(_count())


def cmd_check(args: argparse.Namespace) -> int:
    settings, problems = load_settings()
    if settings is not None:
        problems = problems_for_running(settings, groups_in_database(settings))
        if not problems:
            _print_groups_found(settings)
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
    from sqlalchemy.exc import InterfaceError, OperationalError
    from telegram.error import InvalidToken

    from bot.domain.instance import AnotherInstanceRunning
    from bot.runner import DatabaseUnusable, run_polling, run_webhook

    settings = _settings_or_exit()
    # The database is looked at only when the one-group shortcut is not used.
    counted = groups_in_database(settings) if settings.group_chat_id is None else None
    problems = problems_for_running(settings, counted)
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
    except (OperationalError, InterfaceError) as error:
        # At start-up (migrating, taking the lease): e.g. another process holds SQLite's
        # write lock, or the disk refuses writes. One line, not SQLAlchemy's traceback, and
        # the same exit code as when it happens later, so a supervisor tries again.
        original = getattr(error, "orig", None) or error
        reason = f"{type(original).__name__}: {str(original).splitlines()[0][:120]}"
        print(
            f"PeerBot cannot use its database at start-up ({reason}); exit code "
            f"{DatabaseUnusable.exit_code}, so a supervisor tries again.",
            file=sys.stderr,
        )
        return DatabaseUnusable.exit_code
    except InvalidToken:
        print(
            "Telegram refused TELEGRAM_BOT_TOKEN: it is wrong or was revoked. Copy it again "
            "from @BotFather (/mybots -> API Token).",
            file=sys.stderr,
        )
        return 2
    return 0


def _print_groups_found(settings: Settings) -> None:
    if settings.group_chat_id is not None:
        print(f"One group from GROUP_CHAT_ID ({settings.group_chat_id}); more: `peerbot groups`.")


async def _in_migrated_database(settings: Settings, work: Any) -> Any:
    """Run `work(session)` in one transaction of the up-to-date database."""
    from storage.db import Database
    from storage.migrate import upgrade

    database = Database(settings.database_url)
    try:
        await upgrade(database.engine)
        async with database.transaction() as session:
            return await work(session)
    finally:
        await database.dispose()


def cmd_groups(args: argparse.Namespace) -> int:
    """`peerbot groups add|list|remove`: the groups this PeerBot serves."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from bot.clock import clock_from_environment
    from bot.config import SUPPORTED_LANGUAGES
    from bot.domain import groups

    settings = _settings_or_exit()
    now = clock_from_environment().now()
    if args.groups_command == "list":
        views = asyncio.run(_in_migrated_database(settings, groups.overview))
        if not views:
            print("No group yet: `peerbot groups add <chat id> --coordinator <user id>`.")
        for view in views:
            coordinators = ", ".join(str(c) for c in view.coordinator_ids) or "none"
            named = f" ({view.title})" if view.title else ""
            print(
                f"{view.chat_id}{named}  time zone {view.timezone}, language {view.language}, "
                f"coordinators {coordinators}, {view.members} members"
            )
        return 0
    if args.chat_id >= 0:
        print(f"{args.chat_id} is not a group's chat id (those are negative)", file=sys.stderr)
        return 2
    if args.groups_command == "add":
        try:
            coordinators = groups.parse_user_ids(args.coordinator)
            if args.timezone:
                ZoneInfo(args.timezone)
        except (ValueError, ZoneInfoNotFoundError) as error:
            text = str(error) if isinstance(error, ValueError) and str(error) else ""
            print(text or f"unknown time zone {args.timezone!r}", file=sys.stderr)
            return 2
        if args.language and args.language not in SUPPORTED_LANGUAGES:
            print(f"--language must be one of {', '.join(SUPPORTED_LANGUAGES)}", file=sys.stderr)
            return 2
        if not coordinators:
            print("name at least one coordinator: --coordinator <user id>", file=sys.stderr)
            return 2

        async def _add(session: Any) -> None:
            known = await groups.find_group(session, args.chat_id)
            await groups.add_group(
                session,
                args.chat_id,
                now,
                coordinator_ids=coordinators,
                timezone=args.timezone or (None if known else settings.timezone),
                language=args.language or (None if known else settings.language),
                title=args.title,
            )

        asyncio.run(_in_migrated_database(settings, _add))
        named = ", ".join(map(str, coordinators))
        print(f"Group {args.chat_id} is served, coordinated by {named}.")
        return 0
    # remove
    if args.chat_id == settings.group_chat_id:
        print(
            "That is GROUP_CHAT_ID: remove GROUP_CHAT_ID and COORDINATOR_IDS from the "
            "configuration first, or it comes back at the next start.",
            file=sys.stderr,
        )
        return 2
    if not args.yes:
        print(
            f"This deletes group {args.chat_id} and everything PeerBot keeps about it "
            "(people, pauses, matches, minutes, broadcasts). Add --yes to do it.",
            file=sys.stderr,
        )
        return 2

    async def _remove(session: Any) -> bool:
        return await groups.remove_group(session, args.chat_id)

    if not asyncio.run(_in_migrated_database(settings, _remove)):
        print(f"No group {args.chat_id} is registered.", file=sys.stderr)
        return 1
    print(f"Group {args.chat_id} and everything about it are deleted.")
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
    group_parser = commands.add_parser("groups", help="the groups this PeerBot serves")
    group_parser.set_defaults(func=cmd_groups)
    group_commands = group_parser.add_subparsers(dest="groups_command", required=True)
    add = group_commands.add_parser("add", help="serve a group (or change one already served)")
    add.add_argument("chat_id", type=int, help="the group's chat id (a negative number)")
    add.add_argument(
        "--coordinator", action="append", default=[], help="a coordinator's Telegram user id"
    )
    add.add_argument("--timezone", help="e.g. Europe/Copenhagen (default: TIMEZONE)")
    add.add_argument("--language", help="the group's language: da or en (default: LANGUAGE)")
    add.add_argument(
        "--title",
        help="how the group is named in private to someone in several groups "
        "(default: its Telegram title, once the bot sees the group)",
    )
    group_commands.add_parser("list", help="the groups served, with their coordinators")
    remove = group_commands.add_parser("remove", help="stop serving a group, deleting its data")
    remove.add_argument("chat_id", type=int)
    remove.add_argument("--yes", action="store_true", help="really delete everything about it")
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
