"""Buttons tried as a careful attacker and a clumsy user would: hand-made callback data,
buttons tapped where they were never sent, and a volunteer's forged move/rhythm data.

Nothing reaches the error path, nothing is written, nothing is posted in the group."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

import bot.sandbox
from bot.domain import groups
from bot.domain import matches as match_rules
from bot.i18n import texts
from bot.ratelimit import PeerRateLimiter
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Cast, Sandbox, sandbox
from handlers import pause_buttons
from handlers.callbacks import STALE, Callbacks
from storage.models import Base, MatchOccurrence, Person

START = datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN)
# Every feature's buttons as of this writing; `features` finds any added since by itself.
KNOWN_PREFIXES = {
    "away",
    "broadcast",
    "cover",
    "groupset",
    "grp",
    "matches",
    "meeting",
    "minutes",
    "pause",
    "privacy",
    "reminders",
}
# Written by every update (each is handled once); not a change anyone could notice.
BOOKKEEPING = {"handled_updates"}


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, Cast]]:
    async with sandbox(tmp_path / "peerbot.sqlite3", START) as running:
        yield running
        assert running[0].fake.spec_violations == []


async def snapshot(box: Sandbox) -> dict[str, list[tuple]]:
    """Every row of every table the features write (after the scheduler's pass, which
    writes on its own: the retention run, the digest slot)."""
    await box.run_due()
    rows: dict[str, list[tuple]] = {}
    async with box.services.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in BOOKKEEPING:
                continue
            result = await session.execute(select(table))
            rows[table.name] = sorted((tuple(map(repr, r)) for r in result), key=repr)
    return rows


def features(app: Application) -> list[Callbacks[Any]]:
    """The buttons of every feature the running application answers, found from its
    handlers (each feature registers `BUTTONS.dispatch`), so a new feature is tried too."""
    found = {
        handler.callback.__self__.prefix: handler.callback.__self__
        for handlers_ in app.handlers.values()
        for handler in handlers_
        if isinstance(handler, CallbackQueryHandler)
        and isinstance(getattr(handler.callback, "__self__", None), Callbacks)
    }
    assert set(found) >= KNOWN_PREFIXES, "a feature's buttons are no longer found"
    return [found[prefix] for prefix in sorted(found)]


def malformed(count: int, features_: list[Callbacks[Any]]) -> list[str]:
    """`count` callback strings no `encode` could have written: wrong arity, wrong types,
    unknown actions, ids too large for any column, and plain garbage; every feature's
    prefix gets its share."""
    bad_values = ["abc", "-1", "0", "01", "1.5", "9" * 23, "١٢", " 1", "", "zzz", "%00", "😀"]
    per_feature: dict[str, set[str]] = {}
    for feature in features_:
        found = per_feature.setdefault(feature.prefix, set())
        found |= {
            feature.prefix,
            f"{feature.prefix}:",
            f"{feature.prefix}::",
            f"{feature.prefix}:nope",
        }
        for action, route in feature.routes.items():
            base = f"{feature.prefix}:{action.value}"
            good = ["1"] * len(route.args)
            found.add(":".join([base, *good, "1"]))  # one argument too many
            if route.args:
                found.add(":".join([base, *good[:-1]]))  # one too few
                for value in bad_values:
                    for position in range(len(good)):
                        args = list(good)
                        args[position] = value
                        found.add(":".join([base, *args]))
    general = {"", ":", "x" * 64, "pause:len:" + "2w" * 30, "privacy:forget:1:" + "9" * 40}
    # Marked for a group (the suffix a button made for someone in several groups carries)
    # with keys no group has, and a good-looking button with a broken mark.
    general |= {f"pause:begin{groups.KEY_MARK}{key}" for key in ("", "x", "zzzzzzzz", "😀")}

    def undecodable(data: str) -> bool:
        return len(data.encode()) <= 64 and all(f.decode(data) is None for f in features_)

    rng = random.Random(14)
    pools = [sorted(filter(undecodable, found)) for found in per_feature.values()]
    pools.append(sorted(filter(undecodable, general)))
    share = count // len(pools)
    chosen = [data for pool in pools for data in rng.sample(pool, min(share, len(pool)))]
    rest = sorted({data for pool in pools for data in pool} - set(chosen))
    return chosen + rng.sample(rest, count - len(chosen))


def error_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "handlers.errors"]


async def test_a_hundred_malformed_buttons_change_nothing_and_never_fail(
    box: tuple[Sandbox, Cast], caplog: pytest.LogCaptureFixture
):
    sandbox_, cast = box
    mette, anna = cast.coordinator, cast.volunteers[0]
    for user in (mette, anna):
        await sandbox_.say(user, "/start")
    await sandbox_.say(anna, "/pause", in_group=True)  # the bot answers in the group
    group_message = sandbox_.fake.last_message_to(GROUP_CHAT_ID)
    assert group_message is not None
    targets = [
        (mette, sandbox_.fake.last_message_to(mette.id)),
        (anna, sandbox_.fake.last_message_to(anna.id)),
        (anna, group_message),
    ]
    caplog.set_level(logging.ERROR)
    before = await snapshot(sandbox_)
    in_group = len(sandbox_.fake.messages_to(GROUP_CHAT_ID))
    private = {u.id: len(sandbox_.fake.messages_to(u.id)) for u in (mette, anna)}
    answers = len(sandbox_.fake.calls_to("answerCallbackQuery"))
    data = malformed(100, features(sandbox_.app))
    assert len(set(data)) == 100
    assert {d.split(":")[0] for d in data} >= KNOWN_PREFIXES, "every feature is tried"
    for number, callback_data in enumerate(data):
        user, message = targets[number % len(targets)]
        await sandbox_.forge_tap(user, message, callback_data)
    assert error_records(caplog) == []
    assert await snapshot(sandbox_) == before
    assert len(sandbox_.fake.messages_to(GROUP_CHAT_ID)) == in_group
    assert {u.id: len(sandbox_.fake.messages_to(u.id)) for u in (mette, anna)} == private
    calls = sandbox_.fake.calls_to("answerCallbackQuery")[answers:]
    assert len(calls) == len(data), "every tap gets its kind answer"
    stale = texts("da")(STALE)
    assert all(c.params.get("text") == stale for c in calls)


def well_formed(feature: Callbacks[Any]) -> list[str]:
    """For every action of `feature`, data its `decode` accepts: what a tap on a real button
    (or a careful forger) sends."""
    candidates = ["A" * 22, "2w", "1m", "date", "yes", "self", "none", "one", "all", "1"]
    found = []
    for action, route in feature.routes.items():
        args = []
        for parse in route.args:
            for value in candidates:
                try:
                    parse(value)
                except ValueError:
                    continue
                args.append(value)
                break
        data = ":".join([feature.prefix, action.value, *args])
        assert feature.decode(data) is not None, data
        found.append(data)
    return found


async def test_forged_pause_buttons_on_a_group_message_post_nothing_in_the_group(
    box: tuple[Sandbox, Cast],
):
    sandbox_, cast = box
    mette, anna = cast.coordinator, cast.volunteers[0]
    for user in (mette, anna):
        await sandbox_.say(user, "/start")
    await sandbox_.say(anna, "/pause", in_group=True)
    group_message = sandbox_.fake.last_message_to(GROUP_CHAT_ID)
    assert group_message is not None
    in_group = len(sandbox_.fake.messages_to(GROUP_CHAT_ID))
    before = await snapshot(sandbox_)
    forged = well_formed(pause_buttons.BUTTONS)
    assert len(forged) == len(pause_buttons.PauseAction), "every pause button is tried"
    for user in (anna, mette):  # a volunteer's buttons, and the coordinator's
        for data in forged:
            await sandbox_.forge_tap(user, group_message, data)
    assert len(sandbox_.fake.messages_to(GROUP_CHAT_ID)) == in_group
    assert await snapshot(sandbox_) == before


async def activity_with(sandbox_: Sandbox, *users: Any, kind: str = "activity") -> tuple[int, int]:
    """A weekly activity (or match) on Tuesdays 10:00 with these volunteers: (match id,
    next occurrence)."""
    async with sandbox_.services.db.transaction() as session:
        ids = [
            (await session.scalar(select(Person.id).where(Person.telegram_user_id == u.id)))
            for u in users
        ]
        match = await match_rules.create_match(
            session,
            sandbox_.services.group_id,
            kind=kind,
            label="Recovery-café" if kind == "activity" else "K.L.",
            volunteer_ids=[i for i in ids if i is not None],
            plan=match_rules.Plan(rhythm="weekly", weekday=1, at=time(10, 0)),
            place=None,
            now=sandbox_.services.clock.now(),
            tz=sandbox_.services.tz,
        )
        occurrence = await session.scalar(
            select(MatchOccurrence.id)
            .where(MatchOccurrence.match_id == match.id)
            .order_by(MatchOccurrence.starts_at)
        )
        assert occurrence is not None
        return match.id, occurrence


async def test_a_volunteer_cannot_move_an_activity_or_change_its_rhythm(
    box: tuple[Sandbox, Cast],
):
    sandbox_, cast = box
    anna, bo = cast.volunteers[0], cast.volunteers[1]
    for user in (anna, bo):
        await sandbox_.say(user, "/start")
    match_id, occurrence_id = await activity_with(sandbox_, anna, bo)
    await sandbox_.say(anna, "/meetings")
    menu = sandbox_.fake.last_message_to(anna.id)
    assert menu is not None
    offered = [b["callback_data"] for b in menu.buttons]
    assert not any(d.startswith(("matches:mv:", "matches:rh:")) for d in offered)
    before = await snapshot(sandbox_)
    bo_before = len(sandbox_.fake.messages_to(bo.id))

    await sandbox_.forge_tap(anna, menu, f"matches:mv:{occurrence_id}")
    assert "koordinatoren" in sandbox_.last_text_to(anna.id)
    await sandbox_.say(anna, "10.12 14:00")
    await sandbox_.forge_tap(anna, menu, f"matches:rh:{match_id}")
    await sandbox_.forge_tap(anna, menu, f"matches:rw:{match_id}:w")
    await sandbox_.say(anna, "fre 18:00")

    assert await snapshot(sandbox_) == before
    assert len(sandbox_.fake.messages_to(bo.id)) == bo_before, "nobody was told of a change"


async def test_a_volunteer_cannot_move_or_change_someone_elses_match(
    box: tuple[Sandbox, Cast],
):
    """Anna may move her own match's meetings; Dennis, not in it, forges her buttons."""
    sandbox_, cast = box
    mette, anna, dennis = cast.coordinator, cast.volunteers[0], cast.volunteers[3]
    for user in (mette, anna, dennis):
        await sandbox_.say(user, "/start")
    match_id, occurrence_id = await activity_with(sandbox_, anna, kind="match")
    await sandbox_.say(dennis, "/meetings")
    menu = sandbox_.fake.last_message_to(dennis.id)
    assert menu is not None
    before = await snapshot(sandbox_)
    anna_before = len(sandbox_.fake.messages_to(anna.id))
    mette_before = len(sandbox_.fake.messages_to(mette.id))

    await sandbox_.forge_tap(dennis, menu, f"matches:mv:{occurrence_id}")
    assert "ikke" in sandbox_.last_text_to(dennis.id)
    await sandbox_.say(dennis, "10.12 14:00")
    for data in (f"matches:rh:{match_id}", f"matches:rw:{match_id}:b"):
        await sandbox_.forge_tap(dennis, menu, data)
    await sandbox_.say(dennis, "fre 18:00")
    # Cancel it, answer whether the citizen knows, say "I'm coming", ask for a talk.
    for action in ("cx", "cy", "cn", "ok", "talk"):
        data = f"matches:{action}:{occurrence_id}"
        await sandbox_.forge_tap(dennis, menu, data)

    assert await snapshot(sandbox_) == before
    assert len(sandbox_.fake.messages_to(anna.id)) == anna_before, "Anna was told nothing"
    assert len(sandbox_.fake.messages_to(mette.id)) == mette_before, "nor the coordinator"


# Commands -----------------------------------------------------------------------------------

# Free text is these commands' content (a broadcast, the minutes, a poll question, the
# group's crisis help), so there is no malformed argument to them; everything else is tried.
CONTENT_COMMANDS = {"broadcast", "minutes", "poll", "crisishelp"}
# Commands whose arguments a volunteer's message takes another way than the coordinator's.
VOLUNTEER_PATHS = {"mydata", "forgetme", "pause", "resume", "meetings", "pausevolunteer"}
GARBAGE = [
    "9" * 23,
    "-1",
    "0",
    "@",
    "@nobody_at_all",
    "@" + "x" * 80,
    "9999-12-31 23:30",
    "0001-01-01 00:00",
    "2026-02-30 10:00",
    "2062-12-09 17:00",
    "2026-11-29 10:00",
    "31.02",
    "32/13",
    "99:99",
    "tue 25:00",
    "until",
    "until 9999-12-31",
    "until 0001-01-01",
    '"',
    "“”",
    "K.L.",
    "Karen_Larsen weekly tue 10:00",
    "'; DROP TABLE people; --",
    "\u200b",
    "١٢٣",
    "²",
    "--5",
    "+5",
    "1_000",
    "😀",
    "x" * 300,
    "@" + "y" * 4000,  # near Telegram's 4,096 characters: an echo of it would not fit
    "a b c d e f g h i j k l m n o p",
    "--help",
    "slots",
    "slots 99",
    "leads -5",
]


def malformed_arguments(count: int = 50) -> list[str]:
    """`count` arguments no command understands: huge and negative numbers, impossible and
    far dates, unknown names, stray quotes, other scripts, and pairs of these."""
    rng = random.Random(1414)
    found = list(GARBAGE)
    short = [g for g in GARBAGE if len(g) < 1000]  # a pair within one message
    while len(found) < count:
        pair = f"{rng.choice(short)} {rng.choice(short)}"
        if pair not in found:
            found.append(pair)
    return found[:count]


# The association admin, here also the coordinator: /setup and /overview are theirs.
ADMIN_IDS = "1001"


@pytest.fixture
async def roomy_box(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Sandbox, Cast]]:
    """The sandbox without Telegram's one-message-a-second per private chat (and twenty a
    minute in the group, where /setup answers): a thousand answers to one person would
    otherwise take a quarter of an hour."""
    monkeypatch.setattr(
        bot.sandbox,
        "sandbox_rate_limiter",
        lambda: PeerRateLimiter(
            private_per_second=10_000.0,
            private_burst=10_000.0,
            group_per_minute=600_000.0,
            group_burst=10_000.0,
            overall_per_second=10_000,
        ),
    )
    async with sandbox(tmp_path / "peerbot.sqlite3", START, admin_ids=ADMIN_IDS) as running:
        yield running


def registered_commands(app: Application) -> set[str]:
    """Every command the application answers, also those in no menu (/setup, /overview,
    /group)."""
    return {
        command
        for handlers_ in app.handlers.values()
        for handler in handlers_
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    }


# Answered in the group they are written in (by the admin), never in private.
GROUP_COMMANDS = {"setup"}


async def test_fifty_malformed_arguments_per_command_change_nothing_and_never_fail(
    roomy_box: tuple[Sandbox, Cast], caplog: pytest.LogCaptureFixture
):
    sandbox_, cast = roomy_box
    mette, anna = cast.coordinator, cast.volunteers[0]
    for user in (mette, anna):
        await sandbox_.say(user, "/start")
    # The bot stores the group's title the first time it sees a message there: before the
    # snapshot, so that bookkeeping is not taken for /setup's doing.
    sandbox_.fake.send_text(mette, GROUP_CHAT_ID, "Hej alle")
    await sandbox_.settle()
    commands = sorted(registered_commands(sandbox_.app) - CONTENT_COMMANDS)
    assert {
        "setmeeting",
        "mydata",
        "forgetme",
        "pausevolunteer",
        "match",
        "group",
        "away",
        "digest",
        "setup",
        "overview",
    } <= set(commands)
    caplog.set_level(logging.ERROR)
    before = await snapshot(sandbox_)
    in_group = len(sandbox_.fake.messages_to(GROUP_CHAT_ID))
    arguments = malformed_arguments()
    tried: dict[str, int] = {}
    for command in commands:
        # The coordinator reaches every branch; a volunteer those of their own commands.
        users = (mette, anna) if command in VOLUNTEER_PATHS else (mette,)
        for user in users:
            chat = GROUP_CHAT_ID if command in GROUP_COMMANDS else user.id
            answered = len(sandbox_.fake.messages_to(chat))
            for argument in arguments:
                sandbox_.fake.send_text(user, chat, f"/{command} {argument}")
            await sandbox_.settle(timeout=60)
            assert error_records(caplog) == [], f"/{command}"
            # Never silence: each gets its one answer (an explanation, or what the
            # command shows when it takes no arguments).
            answers = len(sandbox_.fake.messages_to(chat)) - answered
            assert answers == len(arguments), f"/{command} by {user.first_name}"
            tried[command] = tried.get(command, 0) + len(arguments)
    assert await snapshot(sandbox_) == before
    assert all(count >= 50 for count in tried.values()) and set(tried) == set(commands)
    # Only /setup answers in the group, and only with how to use it.
    setup_answers = sandbox_.fake.messages_to(GROUP_CHAT_ID)[in_group:]
    assert len(setup_answers) == len(arguments)
    assert all("/setup" in m.text for m in setup_answers)
