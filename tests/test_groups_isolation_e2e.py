"""Two groups in one PeerBot, with a volunteer in both: a coordinator of group A never sees,
changes or is told anything of group B (commands, hand-made buttons with B's ids,
`/mydata @name`, broadcasts, pause notices), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain import groups
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Cast, Sandbox, sandbox
from storage.models import Pause, Person
from tests.postgres import create_database
from tests.test_broadcast_e2e import (
    broadcast,
    button,
    control_message,
    copies_to,
    eventually,
)

START = datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN)
B_CHAT_ID = -1002000000002


class GroupB:
    """Group B: Jonas coordinates, Freja volunteers, and Anna (of group A) is in it too."""

    def __init__(self, box: Sandbox, anna: Any) -> None:
        fake = box.fake
        fake.add_group(B_CHAT_ID, "Frivillige Vest", supergroup=True)
        fake.set_bot_status(B_CHAT_ID, "administrator")
        self.jonas = fake.add_user(1101, "Jonas", username="jonas_koordinator")
        self.freja = fake.add_user(2101, "Freja", username="freja")
        self.anna = anna
        fake.set_member(B_CHAT_ID, self.jonas.id, "administrator")
        fake.set_member(B_CHAT_ID, self.freja.id, "member")


@pytest.fixture(params=["sqlite", "postgresql"])
async def two_groups(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server: str | None
) -> AsyncIterator[tuple[Sandbox, Cast, GroupB]]:
    overrides: dict[str, str] = {}
    if request.param == "postgresql":
        if postgres_server is None:
            pytest.skip("PostgreSQL could not be started here (see the warning above)")
        overrides["database_url"] = await create_database(
            postgres_server, f"t_{uuid.uuid4().hex[:12]}"
        )
    async with sandbox(tmp_path / "peerbot.sqlite3", START, **overrides) as (box, cast):
        b = GroupB(box, cast.volunteers[0])
        async with box.services.db.transaction() as session:
            await groups.add_group(
                session, B_CHAT_ID, START, coordinator_ids=[b.jonas.id], language="da"
            )
        for user in (cast.coordinator, *cast.volunteers, b.jonas, b.freja):
            await box.say(user, "/start")
        # Anna joins B too (Telegram tells the bot, as administrator of B).
        box.fake.join(B_CHAT_ID, b.anna)
        await box.settle()
        yield box, cast, b
        assert box.fake.spec_violations == [], "the bot broke the Bot API spec"


async def person_ids(box: Sandbox, user_id: int) -> dict[int, int]:
    """{group chat id: people row id} of one Telegram user."""
    async with box.services.db.transaction() as session:
        found = {}
        for group in await groups.all_groups(session):
            row = await session.scalar(
                select(Person.id).where(
                    Person.group_id == group.id, Person.telegram_user_id == user_id
                )
            )
            if row is not None:
                found[group.chat_id] = row
        return found


def private_texts(box: Sandbox, user: Any, since: int = 0) -> str:
    return "\n".join(box.texts_to(user.id)[since:])


async def test_each_group_has_its_own_people_and_the_overlapping_volunteer_is_in_both(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, b = two_groups
    mette = cast.coordinator
    assert set(await person_ids(box, b.anna.id)) == {GROUP_CHAT_ID, B_CHAT_ID}
    assert set(await person_ids(box, b.freja.id)) == {B_CHAT_ID}
    assert set(await person_ids(box, cast.volunteers[1].id)) == {GROUP_CHAT_ID}

    await box.say(mette, "/volunteers")
    a_list = box.last_text_to(mette.id)
    assert "Anna" in a_list and "Bo" in a_list and "Freja" not in a_list
    await box.say(b.jonas, "/volunteers")
    b_list = box.last_text_to(b.jonas.id)
    assert "Freja" in b_list and "Anna" in b_list
    assert "Bo" not in b_list and "Camilla" not in b_list and "Dennis" not in b_list


async def test_a_coordinator_cannot_reach_the_other_groups_people_by_name(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, b = two_groups
    mette = cast.coordinator
    before_freja = len(box.texts_to(b.freja.id))
    before_jonas = len(box.texts_to(b.jonas.id))
    await box.say(mette, "/mydata @freja")
    assert box.fake.messages_to(mette.id)[-1].document is None
    assert "Freja" not in box.last_text_to(mette.id)
    await box.say(mette, "/forgetme @freja")
    assert "kender ingen" in box.last_text_to(mette.id)
    await box.say(mette, "/pausevolunteer @freja")
    assert "Jeg kender ikke @freja" in box.last_text_to(mette.id)
    # And the other way round.
    await box.say(b.jonas, "/mydata @bo_frivillig")
    assert box.fake.messages_to(b.jonas.id)[-1].document is None
    await box.say(b.jonas, "/pausevolunteer @bo_frivillig")
    assert "Jeg kender ikke @bo_frivillig" in box.last_text_to(b.jonas.id)
    async with box.services.db.transaction() as session:
        assert list(await session.scalars(select(Pause))) == []
    assert len(box.texts_to(b.freja.id)) == before_freja
    assert "Bo" not in private_texts(box, b.jonas, before_jonas)


async def test_hand_made_buttons_with_the_other_groups_ids_do_nothing(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    """Mette (A) taps, on a message of her own, the buttons of Jonas's draft in B: its id
    and its single-use Send token. Nothing of B changes and nobody hears of it."""
    box, cast, b = two_groups
    mette = cast.coordinator
    await box.say(b.jonas, "/broadcast Kun for Vest")
    control = await eventually(lambda: control_message(box, b.jonas.id))
    aud_all = next(
        x["callback_data"] for x in control.buttons if x["callback_data"].endswith(":volunteers")
    )
    await box.say(mette, "/start")
    own = box.fake.last_message_to(mette.id)
    assert own is not None
    mette_before = len(box.texts_to(mette.id))
    await box.forge_tap(mette, own, aud_all)
    assert "Klar til at sende" not in control.text  # Jonas's draft did not move on
    # Jonas goes on to "ready to send"; Mette taps his Send token.
    await box.tap(b.jonas, control, aud_all)
    await box.tap(b.jonas, control, button(control, "broadcast:imp:", ":0"))
    send = button(control, "broadcast:send:")
    await box.forge_tap(mette, own, send)
    await box.settle()
    for user in (b.freja, b.anna, *cast.volunteers[1:]):
        assert copies_to(box, user.id) == []
    assert "Klar til at sende" in control.text  # still waiting for Jonas's own tap
    assert "Vest" not in private_texts(box, mette, mette_before)
    # Jonas's own tap still works: the forged one did not use up his token.
    await box.tap(b.jonas, control, send)
    await eventually(lambda: copies_to(box, b.freja.id))


async def test_a_broadcast_reaches_only_its_own_group(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, b = two_groups
    anna, bo = cast.volunteers[0], cast.volunteers[1]
    mette = cast.coordinator
    mette_before = len(box.texts_to(mette.id))
    await broadcast(box, b.jonas, "Husk grillaften i Vest", "volunteers", False)
    await eventually(lambda: copies_to(box, b.freja.id) and copies_to(box, anna.id))
    await box.settle()
    assert len(copies_to(box, b.freja.id)) == 1
    assert len(copies_to(box, anna.id)) == 1  # in B too
    for outsider in (bo, *cast.volunteers[2:], mette):
        assert copies_to(box, outsider.id) == []
    assert "Vest" not in private_texts(box, mette, mette_before)
    assert box.fake.messages_to(GROUP_CHAT_ID) == []


async def test_a_pause_in_one_group_is_told_to_that_groups_coordinator_only(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, b = two_groups
    mette = cast.coordinator
    mette_before, jonas_before = len(box.texts_to(mette.id)), len(box.texts_to(b.jonas.id))
    await box.say(b.jonas, "/pausevolunteer @freja until 2027-01-15")
    assert "Freja holder nu pause" in box.last_text_to(b.jonas.id)
    await box.run_due()
    assert "Freja" not in private_texts(box, mette, mette_before)
    assert len(box.texts_to(mette.id)) == mette_before
    assert "Freja" in private_texts(box, b.jonas, jonas_before)
    assert box.fake.messages_to(GROUP_CHAT_ID) == []
    assert box.fake.messages_to(B_CHAT_ID) == []


async def test_each_groups_coordinator_sets_their_own_groups_settings_only(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    from bot.domain import meeting as meeting_rules
    from tests.test_away_e2e import ask_for_pause

    box, cast, b = two_groups
    mette, bo = cast.coordinator, cast.volunteers[1]
    await box.say(b.jonas, "/crisishelp Ring til Vest-vagten: 11 22 33 44.")
    assert "Gemt." in box.last_text_to(b.jonas.id)
    await box.say(b.jonas, "/digest torsdag 8.30")
    assert "hver torsdag kl. 08.30" in box.last_text_to(b.jonas.id)
    await box.say(b.jonas, "/meetingsettings sted Vesthuset")
    assert "Vesthuset" in box.last_text_to(b.jonas.id)

    # Group A is as it was.
    await box.say(mette, "/crisishelp")
    assert "Det er standardteksten." in box.last_text_to(mette.id)
    await box.say(mette, "/digest")
    assert "hver mandag kl. 09.00" in box.last_text_to(mette.id)
    await box.say(mette, "/meetingsettings")
    assert "Vesthuset" not in box.last_text_to(mette.id)
    await ask_for_pause(box, bo, note=None, wait=False)
    assert "Vest-vagten" not in box.last_text_to(bo.id)
    assert "Livslinien" in box.last_text_to(bo.id)

    # Group A's coordinator changes A's; B keeps its own.
    await box.say(mette, "/crisishelp Ring til Øst-vagten: 55 66 77 88.")
    await ask_for_pause(box, b.freja, note=None, wait=False)
    assert "Vest-vagten: 11 22 33 44." in box.last_text_to(b.freja.id)
    assert "Øst-vagten" not in box.last_text_to(b.freja.id)
    async with box.services.db.transaction() as session:
        found = {g.chat_id: g for g in await groups.all_groups(session)}
        a_group, b_group = found[GROUP_CHAT_ID], found[B_CHAT_ID]
        assert a_group.crisis_help_text == "Ring til Øst-vagten: 55 66 77 88."
        assert b_group.crisis_help_text == "Ring til Vest-vagten: 11 22 33 44."
        assert (a_group.digest_weekday, a_group.digest_time) == (None, None)
        assert (b_group.digest_weekday, b_group.digest_time) == (3, "08:30")
        defaults = {k: "x" for k in meeting_rules.SETTING_KEYS}
        a_values = await meeting_rules.setting_values(session, a_group.id, defaults)
        b_values = await meeting_rules.setting_values(session, b_group.id, defaults)
        assert a_values["place"] == "x" and b_values["place"] == "Vesthuset"
    assert box.fake.messages_to(GROUP_CHAT_ID) == []
    assert box.fake.messages_to(B_CHAT_ID) == []


async def test_a_stand_in_reads_only_the_pauses_of_the_group_whose_coordinator_is_away(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    from tests.test_away_e2e import ask_for_pause, button

    box, cast, b = two_groups
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    # Jonas (B) is away; Anna, in both groups, stands in for him in B only.
    await box.say(b.jonas, "/away 30.11 4.12 @anna")
    question = box.fake.messages_to(b.jonas.id)[-1]
    await box.tap(b.jonas, question, button(question, "Ja, sæt det op"))
    assert "Så er det på plads." in box.last_text_to(b.jonas.id)
    before = {u.id: len(box.texts_to(u.id)) for u in (mette, anna, b.jonas)}

    summary = await ask_for_pause(box, b.freja, note="Privat ord.", wait=False)
    assert "Imens læser Anna det, du fortæller koordinatoren" in summary
    await box.run_due()
    to_anna = private_texts(box, anna, before[anna.id])
    assert "Freja har bedt om en pause" in to_anna and "Privat ord." in to_anna
    assert "Freja" not in private_texts(box, mette, before[mette.id])
    assert "Freja" not in private_texts(box, b.jonas, before[b.jonas.id])

    # In group A nobody is away: Bo's pause goes to Mette, never to B's stand-in.
    summary = await ask_for_pause(box, bo, note=None, wait=False)
    assert "Imens læser" not in summary
    await box.run_due()
    assert "Bo har bedt om en pause" in private_texts(box, mette, before[mette.id])
    assert "Bo" not in private_texts(box, anna, before[anna.id])
    assert "Bo" not in private_texts(box, b.jonas, before[b.jonas.id])

    # Gustav (B) lets his pause wait for Jonas: Anna never reads it, Jonas gets it when
    # he is back, and Mette never.
    gustav = box.fake.add_user(2102, "Gustav", username="gustav")
    box.fake.set_member(B_CHAT_ID, gustav.id, "member")
    await box.say(gustav, "/start")
    await ask_for_pause(box, gustav, note="Kun til Jonas.", wait=True)
    await box.advance_to(datetime(2026, 12, 4, 23, 0, tzinfo=COPENHAGEN))
    assert "Gustav" not in private_texts(box, anna, before[anna.id])
    assert "Gustav" not in private_texts(box, b.jonas, before[b.jonas.id])
    await box.advance_to(datetime(2026, 12, 5, 0, 5, tzinfo=COPENHAGEN))
    back = private_texts(box, b.jonas, before[b.jonas.id])
    assert back.count("Gustav har bedt om en pause") == 1 and "Kun til Jonas." in back
    assert "Gustav" not in private_texts(box, anna, before[anna.id])
    assert "Gustav" not in private_texts(box, mette, before[mette.id])
    assert box.fake.messages_to(GROUP_CHAT_ID) == []
    assert box.fake.messages_to(B_CHAT_ID) == []
