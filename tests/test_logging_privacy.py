"""The logs of a run never carry message texts, names or the token."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.logging_setup import RedactTokens, configure_logging
from bot.sandbox import sandbox

NAME = "Kanarieperson"
SECRET_TEXT = "kanarie-besked-7f3a"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_a_run_logs_no_texts_names_or_token(tmp_path: Path):
    configure_logging(logging.DEBUG)
    collect = Collect()
    collect.addFilter(RedactTokens())
    logging.getLogger().addHandler(collect)
    try:
        async with sandbox(tmp_path / "db.sqlite3") as (box, cast):
            person = box.fake.add_user(2222, NAME, username="kanarie_user")
            box.fake.set_member(box.settings.group_chat_id, person.id, "member")
            await box.say(person, "/start")
            await box.say(person, SECRET_TEXT)
            await box.say(person, f"/help {SECRET_TEXT}", in_group=True)
            await box.say(cast.stranger, SECRET_TEXT)
            box.fake.fail_next("sendMessage", error_code=500)
            await box.say(person, "/help")
            token = box.settings.telegram_bot_token
    finally:
        logging.getLogger().removeHandler(collect)
    log = "\n".join(collect.lines)
    assert log, "nothing was logged at all: the test would prove nothing"
    for canary in (NAME, "kanarie_user", SECRET_TEXT, token, token.split(":")[1]):
        assert canary not in log, f"{canary!r} leaked into the log"


def test_tokens_in_urls_are_scrubbed():
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "GET %s",
        ("https://h/bot123456789:AAbbCCddEEffGGhhIIjjKK/getMe",),
        None,
    )
    RedactTokens().filter(record)
    assert "AAbb" not in record.getMessage() and "<token>" in record.getMessage()


async def test_database_errors_do_not_carry_names(tmp_path: Path):
    from datetime import UTC, datetime

    from sqlalchemy.exc import IntegrityError

    from storage.db import Database
    from storage.migrate import upgrade
    from storage.models import Person

    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'e.sqlite3'}")
    await upgrade(database.engine)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        async with database.transaction() as session:
            session.add(
                Person(
                    group_id=12345,
                    telegram_user_id=1,
                    first_name=NAME,
                    language="da",
                    is_member=True,
                    is_coordinator=False,
                    started_bot=False,
                    blocked_bot=False,
                    joined_at=now,
                )
            )
            await session.flush()
    except IntegrityError as error:
        assert NAME not in str(error)
    else:
        raise AssertionError("the foreign key should have refused the row")
    finally:
        await database.dispose()
