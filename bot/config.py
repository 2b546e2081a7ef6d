"""Configuration from the environment and `.env` (documented key by key in `.env.example`)."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import annotated_types
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SUPPORTED_LANGUAGES = ("da", "en")
TELEGRAM_BASE_URL = "https://api.telegram.org/bot"
# Telegram's alphabet for a webhook's secret_token.
WEBHOOK_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# A bot token exactly as @BotFather gives it: the bot's id, a colon, 35 characters.
TOKEN_FORMAT = re.compile(r"[0-9]{5,20}:[A-Za-z0-9_-]{35}")
# Telegram's ids are signed 64-bit numbers.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Local times typed as 9:00, 09:00 or 09.00.
LOCAL_TIME = re.compile(r"([01]?[0-9]|2[0-3])[:.]([0-5][0-9])")


class Settings(BaseSettings):
    """Everything PeerBot reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: str = Field(default="", repr=False)
    telegram_base_url: str = TELEGRAM_BASE_URL
    database_url: str = "sqlite+aiosqlite:///data/peerbot.sqlite3"
    group_chat_id: int | None = Field(default=None, ge=INT64_MIN, lt=0)
    coordinator_ids: Annotated[tuple[int, ...], NoDecode] = ()
    # Association admins: may register a new group with /setup there and see /overview
    # (counts per group, never names). Comma-separated Telegram user ids.
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    timezone: str = "Europe/Copenhagen"
    language: str = "da"
    # Where to get help at once; shown gently in the pause flow.
    crisis_help_text: str = ""
    # Seconds between passes of the scheduler that sends whatever is due.
    scheduler_interval_seconds: float = Field(default=30.0, ge=0.1, le=3600)
    # A reminder found late (the bot was down) is still sent within this grace.
    reminder_grace_minutes: int = Field(default=120, ge=0, le=7 * 24 * 60)
    minutes_retention_months: int = Field(default=12, ge=1, le=120)
    # Matches
    # The coordinator's weekly digest: volunteers without a match for this many weeks, and
    # matches whose last meetings were all cancelled (this many in a row).
    unmatched_weeks: int = Field(default=6, ge=1, le=104)
    cancelled_in_a_row: int = Field(default=3, ge=1, le=52)
    # When the digest is sent: weekday (0 = Monday) and local time HH:MM.
    digest_weekday: int = Field(default=0, ge=0, le=6)
    digest_time: time = time(9, 0)

    # Pause
    # The coordinator is reminded to check in with a paused volunteer every this many weeks.
    pause_checkin_weeks: int = Field(default=3, ge=1, le=52)
    # A pause without an end date: the volunteer is gently asked after this many weeks.
    pause_open_ended_ask_weeks: int = Field(default=6, ge=1, le=52)

    # Monthly meeting: defaults the coordinator can change in /settings (handlers/meeting.py).
    meeting_candidate_slots: str = "tue 17:00, wed 17:00, thu 16:30"
    meeting_place: str = ""
    meeting_candidate_count: int = Field(default=4, ge=1, le=11)
    meeting_poll_opens: str = "15 10:00"
    meeting_poll_days: int = Field(default=5, ge=1, le=28)
    meeting_reminders: str = "1d@10:00, 2h"
    meeting_duration_minutes: int = Field(default=120, ge=15, le=24 * 60)

    @field_validator("meeting_candidate_slots", "meeting_poll_opens", "meeting_reminders")
    @classmethod
    def _meeting_schedule(cls, value: str, info: ValidationInfo) -> str:
        # The same rules the coordinator's /settings use (bot/domain/meeting_dates.py).
        from bot.domain import meeting_dates

        parse, example = {
            "meeting_candidate_slots": (meeting_dates.parse_slots, "tue 17:00, thu 16:30"),
            "meeting_poll_opens": (meeting_dates.parse_poll_opening, "15 10:00"),
            "meeting_reminders": (meeting_dates.parse_leads, "1d@10:00, 2h"),
        }[str(info.field_name)]
        try:
            parse(value)  # type: ignore[operator]
        except ValueError as exc:
            raise ValueError(f"not understood: {value!r} (e.g. {example})") from exc
        return value

    # Privacy and retention: how long things are kept before the daily job deletes them
    # (README, "Privatliv / Privacy"). Minutes use MINUTES_RETENTION_MONTHS above.
    # Poll answers and meeting attendance, in months.
    retention_answers_months: int = Field(default=12, ge=1, le=120)
    # Ended matches (and a volunteer's ended place on a match), in months after they ended.
    retention_ended_matches_months: int = Field(default=6, ge=1, le=120)
    # Finished pauses, in months after they ended.
    retention_pauses_months: int = Field(default=12, ge=1, le=120)
    # People who left the group: everything about them, in days after they left.
    retention_left_days: int = Field(default=30, ge=1, le=3650)

    # Production: a webhook instead of long polling (`peerbot run --webhook`). Telegram
    # posts updates to WEBHOOK_URL (public https, usually a reverse proxy) which forwards
    # to WEBHOOK_LISTEN:WEBHOOK_PORT; requests without WEBHOOK_SECRET in the
    # X-Telegram-Bot-Api-Secret-Token header are refused.
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_secret: str = Field(default="", repr=False)

    @field_validator("webhook_secret")
    @classmethod
    def _secret_token_alphabet(cls, value: str) -> str:
        if value and not WEBHOOK_SECRET_PATTERN.fullmatch(value):
            raise ValueError("must be 1-256 characters: A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_format(cls, value: str) -> str:
        # Never echo the value: it is a secret (and the message goes to the terminal).
        if value and not TOKEN_FORMAT.fullmatch(value):
            hint = " (it has spaces)" if value != value.strip() or " " in value else ""
            raise ValueError(
                "does not look like a bot token from @BotFather: digits, a colon and 35 "
                f"characters A-Z a-z 0-9 _ -{hint}"
            )
        return value

    @field_validator("digest_time", mode="before")
    @classmethod
    def _local_time(cls, value: object) -> object:
        if isinstance(value, str):
            found = LOCAL_TIME.fullmatch(value.strip())
            if found is None:
                raise ValueError(f"must be a local time 00:00-23:59 (e.g. 09:00), not {value!r}")
            return time(int(found.group(1)), int(found.group(2)))
        return value

    @field_validator("coordinator_ids", "admin_ids")
    @classmethod
    def _user_ids(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for user_id in value:
            if not 0 < user_id <= INT64_MAX:
                raise ValueError(
                    f"{user_id} is not a person's Telegram user id (a positive number; "
                    "group ids are negative)"
                )
        return value

    @field_validator("coordinator_ids", "admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            try:
                return tuple(int(p) for p in parts)
            except ValueError as exc:
                raise ValueError("must be comma-separated Telegram user ids (numbers)") from exc
        if isinstance(value, int):
            return (value,)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Copenhagen)") from exc
        return value

    @field_validator("language")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Accept the plain forms people copy from elsewhere and pick the async driver.
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        if value.startswith(("postgres://", "postgresql://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must be an sqlite:/// or postgresql:// URL")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_coordinator(self, user_id: int) -> bool:
        return user_id in self.coordinator_ids

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admin_ids


def problems_for_running(settings: Settings, groups_in_database: int | None = None) -> list[str]:
    """What stops `peerbot run` from serving real groups, one line each. Groups come from
    the database (`peerbot groups add`, `/setup`) and, as the one-group shortcut, from
    GROUP_CHAT_ID + COORDINATOR_IDS; `groups_in_database` None: not looked at."""
    problems = []
    if not settings.telegram_bot_token:  # its format is checked as it is read
        problems.append("TELEGRAM_BOT_TOKEN is missing (get one from @BotFather)")
    if settings.group_chat_id is None and settings.coordinator_ids:
        problems.append("GROUP_CHAT_ID is missing (the volunteers' group id, a negative number)")
    if settings.group_chat_id is not None and not settings.coordinator_ids:
        problems.append("COORDINATOR_IDS is missing (comma-separated Telegram user ids)")
    no_shortcut = settings.group_chat_id is None and not settings.coordinator_ids
    if no_shortcut and groups_in_database == 0 and not settings.admin_ids:
        problems.append(
            "GROUP_CHAT_ID is missing and no group is registered: set GROUP_CHAT_ID and "
            "COORDINATOR_IDS for one group, or add groups with `peerbot groups add`"
        )
    if not settings.telegram_base_url.startswith(("http://", "https://")):
        problems.append("TELEGRAM_BASE_URL must start with http:// or https://")
    return problems


def problems_for_webhook(settings: Settings) -> list[str]:
    """What stops `peerbot run --webhook`, one line each."""
    problems = []
    if not settings.webhook_url:
        problems.append("WEBHOOK_URL is missing (the public https:// address Telegram posts to)")
    elif not settings.webhook_url.startswith("https://"):
        problems.append("WEBHOOK_URL must start with https:// (Telegram only posts to HTTPS)")
    if not settings.webhook_secret:
        problems.append(
            "WEBHOOK_SECRET is missing (1-256 characters A-Z a-z 0-9 _ -); without it anyone "
            "who finds the address could send the bot fake updates"
        )
    return problems


# Pydantic's errors for a number outside its bounds or not a number at all: reported with
# the whole allowed range (its own message names only the bound that was crossed).
OUT_OF_RANGE = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "int_parsing",
    "int_from_float",
    "float_parsing",
}


def allowed_range(name: str) -> tuple[float, float] | None:
    """The smallest and largest value a bounded number setting allows (None: no bounds)."""
    field = Settings.model_fields.get(name)
    if field is None:
        return None
    whole = field.annotation is int or int in get_args(field.annotation)
    step = 1 if whole else 0
    low = high = None
    for bound in field.metadata:
        if isinstance(bound, annotated_types.Ge):
            low = bound.ge
        elif isinstance(bound, annotated_types.Gt):
            low = bound.gt + step
        elif isinstance(bound, annotated_types.Le):
            high = bound.le
        elif isinstance(bound, annotated_types.Lt):
            high = bound.lt - step
    if low is None or high is None:
        return None
    return low, high  # type: ignore[return-value]


def _range_problem(name: str, value: object) -> str | None:
    """'must be a whole number from 1 to 104, not '-1'' for a bounded number setting."""
    found = allowed_range(name)
    if found is None:
        return None
    low, high = found
    if isinstance(low, int) and isinstance(high, int):
        return f"must be a whole number from {low} to {high}, not {str(value)!r}"
    return f"must be a number from {low:g} to {high:g}, not {str(value)!r}"


def load_settings(**overrides: object) -> tuple[Settings | None, list[str]]:
    """Load settings; on failure return the problems as one line per key, never a traceback."""
    try:
        return Settings(**overrides), []  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]).upper() or "configuration"
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] in OUT_OF_RANGE and len(err["loc"]) == 1:
                message = _range_problem(str(err["loc"][0]), err.get("input")) or message
            lines.append(f"{key}: {message}")
        return None, lines
    except UnicodeDecodeError as exc:
        return None, [f".env: not UTF-8 text (byte {exc.start}); save it as UTF-8"]
    except OSError as exc:
        name = Path(exc.filename).name if exc.filename else ".env"
        return None, [f"{name}: cannot be read ({exc.strerror or type(exc).__name__})"]
