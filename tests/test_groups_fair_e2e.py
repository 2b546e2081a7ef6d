"""Many groups due at once share Telegram's limits fairly, end to end against the fake Bot
API with Telegram's flood limits on (30 messages a second overall, 20 a minute per group,
about one a second per private chat): every group's monthly poll goes out within seconds
of the first, none is answered 429, and one group's big broadcast going on at the same
time holds up no one's poll, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.domain import groups
from bot.sandbox import COPENHAGEN, Cast, Sandbox, sandbox
from tests.postgres import create_database
from tests.test_broadcast_e2e import (
    DONE,
    add_started_volunteers,
    broadcast,
    copies_to,
    eventually,
)

# The month's poll opens on the 15th at 10:00 (MEETING_POLL_OPENS' default) in every group.
START = datetime(2026, 12, 15, 9, 30, tzinfo=COPENHAGEN)
POLL_MINUTE = datetime(2026, 12, 15, 10, 0, tzinfo=COPENHAGEN)
OTHER_GROUPS = 29
FIRST_CHAT = -1003000000000


@pytest.fixture(params=["sqlite", "postgresql"])
async def many_groups(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server: str | None
) -> AsyncIterator[tuple[Sandbox, Cast, list[int]]]:
    """The sandbox's group and 29 more, each with its coordinator; returns their chat ids."""
    overrides: dict[str, str] = {}
    if request.param == "postgresql":
        if postgres_server is None:
            pytest.skip("PostgreSQL could not be started here (see the warning above)")
        overrides["database_url"] = await create_database(
            postgres_server, f"t_{uuid.uuid4().hex[:12]}"
        )
    async with sandbox(tmp_path / "peerbot.sqlite3", START, **overrides) as (box, cast):
        chats = [box.settings.group_chat_id]
        async with box.services.db.transaction() as session:
            for n in range(OTHER_GROUPS):
                chat_id = FIRST_CHAT - n
                box.fake.add_group(chat_id, f"Frivillige {n}", supergroup=True)
                box.fake.set_bot_status(chat_id, "administrator")
                coordinator = box.fake.add_user(1200 + n, f"Koordinator {n}")
                box.fake.set_member(chat_id, coordinator.id, "administrator")
                await groups.add_group(session, chat_id, START, coordinator_ids=[coordinator.id])
                chats.append(chat_id)
        yield box, cast, chats
        assert box.fake.spec_violations == [], "the bot broke the Bot API spec"


async def test_thirty_groups_polls_at_once_beside_a_broadcast_all_out_without_a_429(
    many_groups: tuple[Sandbox, Cast, list[int]],
):
    box, cast, chats = many_groups
    await box.say(cast.coordinator, "/start")
    volunteers = await add_started_volunteers(box, 120)
    box.fake.enforce_rate_limits()  # Telegram's limits from here on
    since = len(box.fake.calls)

    # Group A's coordinator sends a broadcast to 120 volunteers (four seconds of Telegram's
    # whole allowance), and the poll minute comes while its copies are on their way.
    control = await broadcast(box, cast.coordinator, "Husk kurset", "volunteers", False, wait=False)
    await eventually(lambda: copies_to(box, volunteers[0].id) or copies_to(box, volunteers[1].id))
    box.clock.set(POLL_MINUTE)
    began = time.monotonic()
    await box.services.scheduler.run_due(box.app)  # type: ignore[arg-type]
    await eventually(lambda: len([c for c in box.fake.calls_to("sendPoll") if c.ok]) >= 30, 60)
    await eventually(lambda: control.text.startswith(DONE), within=60)
    await box.fake.wait_until_idle()

    calls = box.fake.calls[since:]
    polls = [c for c in calls if c.method == "sendPoll" and c.ok]
    assert Counter(c.params["chat_id"] for c in polls) == Counter(chats)  # each group's, once
    assert [c for c in calls if c.status == 429] == []
    out = sorted(c.time for c in polls)
    assert out[-1] - out[0] < 10.0  # 30 groups, none a minute later than the first
    assert out[-1] - began < 15.0
    # The broadcast held up no poll: it was still sending after the last poll went out...
    copies = [c for c in calls if c.method == "copyMessage" and c.ok]
    assert max(c.time for c in copies) > out[-1]
    # ...and it lost and repeated nothing.
    assert sorted(len(copies_to(box, v.id)) for v in volunteers) == [1] * len(volunteers)


async def test_a_send_tapped_in_a_busy_moment_still_sends(tmp_path: Path):
    """200 coordinators tapping Send at once kept the bot busy past Telegram's time for
    answering a tap (about 15 s); the refused answer must not undo the broadcast."""
    async with sandbox(tmp_path / "peerbot.sqlite3", START) as (box, cast):
        for person in (cast.coordinator, *cast.volunteers):
            await box.say(person, "/start")
        box.fake.callback_query_ttl = 0.0  # every tap's answer comes too late from here on
        control = await broadcast(box, cast.coordinator, "Husk kurset", "volunteers", False)
        await eventually(lambda: control.text.startswith(DONE), within=30)
        assert [len(copies_to(box, v.id)) for v in cast.volunteers] == [1] * 4
