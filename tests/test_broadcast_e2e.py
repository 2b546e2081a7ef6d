"""End to end: `/broadcast` against the fake Bot API with its flood limits and faults on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update

from bot.domain import broadcast as broadcasts
from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox
from storage.models import Pause, Person
from storage.models.outbox import OutboxItem

DONE = "Din besked er sendt."


async def eventually(predicate: Callable[[], Any], within: float = 15.0) -> Any:
    """Poll until `predicate()` is truthy: the sender works in the background."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = predicate()
        if value:
            return value
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def copies_to(box: Sandbox, chat_id: int) -> list[Any]:
    return [m for m in box.fake.messages_to(chat_id) if m.method == "copyMessage"]


def control_message(box: Sandbox, coordinator_id: int, since: int = 0) -> Any:
    """The newest message with the broadcast's choices, sent after `since` messages."""
    for message in reversed(box.fake.messages_to(coordinator_id)[since:]):
        if any(b.get("callback_data", "").startswith("broadcast:") for b in message.buttons):
            return message
    return None


async def add_started_volunteers(box: Sandbox, count: int, first_id: int = 3000) -> list[Any]:
    """More members who all opened the private chat (their /start all at once)."""
    users = []
    for n in range(count):
        user = box.fake.add_user(first_id + n, f"Frivillig{n}")
        box.fake.set_member(GROUP_CHAT_ID, user.id, "member")
        users.append(user)
    for user in users:
        box.fake.send_text(user, user.id, "/start")
    # Until every /start was handled: handled side by side, they can wait for each other's
    # database writes without any call to Telegram (the fake alone would look idle).
    await box.settle(timeout=60)
    return users


async def broadcast(
    box: Sandbox,
    coordinator: Any,
    text: str,
    audience: str,
    important: bool | None = None,
    *,
    wait: bool = True,
) -> Any:
    """The coordinator writes `/broadcast <text>` and goes through the choices; returns the
    control message (it becomes the report) once "Send now" was tapped."""
    before = len(box.fake.messages_to(coordinator.id))
    await box.say(coordinator, f"/broadcast {text}")
    control = await eventually(lambda: control_message(box, coordinator.id, before))
    await choose(box, coordinator, control, audience, important, wait=wait)
    return control


async def choose(
    box: Sandbox,
    coordinator: Any,
    control: Any,
    audience: str,
    important: bool | None,
    *,
    wait: bool = True,
) -> None:
    await box.tap(coordinator, control, button(control, "broadcast:aud:", f":{audience}"))
    if important is not None:
        await box.tap(coordinator, control, button(control, "broadcast:imp:", f":{int(important)}"))
    assert "Klar til at sende" in control.text
    if wait:
        await box.tap(coordinator, control, button(control, "broadcast:send:"))
    else:  # tap and go on at once, while the copies are on their way
        box.fake.tap_button(coordinator, control, button(control, "broadcast:send:"))


def button(message: Any, prefix: str, suffix: str = "") -> str:
    return next(
        b["callback_data"]
        for b in message.buttons
        if b["callback_data"].startswith(prefix) and b["callback_data"].endswith(suffix)
    )


async def finished(box: Sandbox, control: Any) -> str:
    await eventually(lambda: control.text.startswith(DONE), within=30)
    await box.fake.wait_until_idle()
    return control.text


async def start_everyone(box: Sandbox, cast: Cast, *, but: tuple[Any, ...] = ()) -> None:
    for person in [cast.coordinator, *cast.volunteers]:
        if person not in but:
            await box.say(person, "/start")


# The tests ----------------------------------------------------------------------------------


async def test_a_volunteers_broadcast_is_refused_politely(group: tuple[Sandbox, Cast]):
    box, cast = group
    anna = cast.volunteers[0]
    await box.say(anna, "/start")
    await box.say(anna, "/broadcast Hej alle")
    assert "kun koordinatoren" in box.last_text_to(anna.id)
    assert box.fake.calls_to("copyMessage") == []
    assert box.texts_to(GROUP_CHAT_ID) == []


async def test_everyone_reachable_gets_exactly_one_copy_with_limits_and_errors_on(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna, bo, camilla, dennis = cast.coordinator, *cast.volunteers
    await start_everyone(box, cast)
    eva = box.fake.add_user(2005, "Eva")
    box.fake.join(GROUP_CHAT_ID, eva)  # she joins but never opens the private chat
    extra = await add_started_volunteers(box, 16)
    box.fake.block(camilla)  # the bot doesn't know yet: Telegram will say so
    # Telegram's limits, tighter than the bot assumes (so it meets 429s), and bad days.
    box.fake.enforce_rate_limits(global_per_second=8)
    box.fake.fail_next("copyMessage", error_code=500, count=2)
    box.fake.fail_next("copyMessage", error_code=502, chat_id=bo.id)
    box.fake.fail_next("copyMessage", retry_after=1, chat_id=extra[3].id)
    box.fake.timeout_next("copyMessage", delay=0.3, chat_id=extra[5].id)  # a slow answer
    control = await broadcast(box, mette, "Førstehjælpskursus på tirsdag kl. 17", "both", False)
    report = await finished(box, control)

    reachable = [anna, bo, dennis, *extra]
    for person in reachable:
        copies = copies_to(box, person.id)
        assert len(copies) == 1, person.first_name
        assert copies[0].text == "Førstehjælpskursus på tirsdag kl. 17"
    assert copies_to(box, eva.id) == [] and copies_to(box, camilla.id) == []
    assert copies_to(box, mette.id) == []  # she has her preview
    assert [m.text for m in copies_to(box, GROUP_CHAT_ID)] == [
        "Førstehjælpskursus på tirsdag kl. 17"
    ]
    assert any(c.status == 429 for c in box.fake.calls), "the limits were not reached"
    assert "Gruppen: sendt" in report
    assert f"Leveret privat: {len(reachable)} af {len(reachable) + 2}" in report
    assert "Har ikke startet en chat med mig endnu: 1" in report
    assert "Har blokeret mig: 1" in report
    assert control.buttons == []  # nothing to try again
    async with box.services.db.transaction() as session:
        camilla_row = await session.scalar(
            select(Person).where(Person.telegram_user_id == camilla.id)
        )
    assert camilla_row is not None and camilla_row.blocked_bot


async def test_a_copy_whose_fate_is_unknown_is_not_resent_until_the_coordinator_asks(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    await start_everyone(box, cast)
    box.fake.timeout_next("copyMessage", delay=0.2, perform=False, chat_id=anna.id)  # dropped
    control = await broadcast(box, mette, "Husk julefrokosten", "volunteers", False)
    report = await finished(box, control)
    assert "Ikke kommet frem endnu, kan sendes igen: 1" in report
    assert copies_to(box, anna.id) == [] and len(copies_to(box, bo.id)) == 1
    await box.tap(mette, control, button(control, "broadcast:retry:"))
    await eventually(lambda: "prøves igen" not in control.text)
    await finished(box, control)
    assert [len(copies_to(box, v.id)) for v in cast.volunteers] == [1, 1, 1, 1]
    assert "Leveret privat: 4 af 4" in control.text


async def test_stopped_halfway_it_continues_after_a_restart_with_no_duplicates(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    await start_everyone(box, cast)
    extra = await add_started_volunteers(box, 36)
    everyone = [*cast.volunteers, *extra]
    # Each copy takes a while, so stopping soon after the start leaves most of them.
    box.fake.timeout_next("copyMessage", count=len(everyone), delay=0.25)
    control = await broadcast(
        box, mette, "Nyt mødested: Café Backstage", "volunteers", False, wait=False
    )
    await eventually(lambda: len(box.fake.calls_to("copyMessage")) >= 3)
    await box.stop_bot()
    sent_before = sum(len(copies_to(box, p.id)) for p in everyone)
    assert 0 < sent_before < len(everyone)
    # A harder stop than this one: the process died after claiming a copy, before sending.
    async with _database(box) as session:
        # A copy of this broadcast (the digest and the meeting's poll wait there too).
        lost = await session.scalar(
            select(OutboxItem.id)
            .where(OutboxItem.kind == broadcasts.KIND, OutboxItem.state == "pending")
            .limit(1)
        )
        await session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == lost)
            .values(state="claimed", claim_token="gone", attempts=1)
        )

    await box.start_bot()  # its first scheduler pass continues the broadcast
    report = await finished(box, control)
    counts = [len(copies_to(box, p.id)) for p in everyone]
    assert counts.count(1) == len(everyone) - 1 and counts.count(0) == 1 and max(counts) == 1
    assert "Ikke kommet frem endnu, kan sendes igen: 1" in report
    await box.tap(mette, control, button(control, "broadcast:retry:"))
    await eventually(lambda: "prøves igen" not in control.text)
    await finished(box, control)
    assert [len(copies_to(box, p.id)) for p in everyone] == [1] * len(everyone)


async def test_only_important_broadcasts_reach_a_volunteer_on_a_pause(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    await start_everyone(box, cast)
    async with box.services.db.transaction() as session:
        bo_row = await session.scalar(select(Person).where(Person.telegram_user_id == bo.id))
        assert bo_row is not None
        session.add(
            Pause(group_id=bo_row.group_id, person_id=bo_row.id, started_at=box.clock.now())
        )

    control = await broadcast(box, mette, "Ny kaffemaskine i lokalet", "volunteers", False)
    report = await finished(box, control)
    assert "Holder pause, ikke sendt (ikke vigtig): 1" in report
    assert copies_to(box, bo.id) == [] and len(copies_to(box, anna.id)) == 1

    control = await broadcast(box, mette, "Mødet er flyttet til torsdag", "volunteers", True)
    await finished(box, control)
    assert [m.text for m in copies_to(box, bo.id)] == ["Mødet er flyttet til torsdag"]
    assert len(copies_to(box, anna.id)) == 2
    assert box.texts_to(GROUP_CHAT_ID) == []  # nothing about pauses, nothing in the group


async def test_a_document_is_previewed_and_copied_faithfully_and_cancel_sends_nothing(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    await start_everyone(box, cast)
    await box.say(mette, "/broadcast")
    prompt = box.fake.last_message_to(mette.id)
    assert "Hvad vil du gerne sende?" in prompt.text
    await box.tap(mette, prompt, button(prompt, "broadcast:cancel:"))
    assert prompt.text == "Annulleret. Der er ikke sendt noget."
    await box.say(mette, "Hej, er der nogen, der kan hjælpe på lørdag?")
    assert box.fake.calls_to("copyMessage") == []  # an ordinary message is not a broadcast

    await box.say(mette, "/broadcast")
    before = len(box.fake.messages_to(mette.id))
    box.fake.send_document(mette, mette.id, b"%PDF-1.4 kursus", "kursus.pdf", caption="Tilmelding")
    await box.fake.wait_until_idle()
    control = await eventually(lambda: control_message(box, mette.id, before))
    preview = box.fake.messages_to(mette.id)[before]
    assert preview.document is not None and preview.text == "Tilmelding"
    await choose(box, mette, control, "group", None)
    await finished(box, control)
    [copy] = copies_to(box, GROUP_CHAT_ID)
    assert copy.document["file_name"] == "kursus.pdf" and copy.text == "Tilmelding"
    assert copies_to(box, anna.id) == []
    assert box.fake.calls_to("copyMessage")[0].params["from_chat_id"] == mette.id


def _database(box: Sandbox) -> Any:
    """A transaction on the sandbox's database while the bot is stopped."""
    from storage.db import Database

    @contextlib.asynccontextmanager
    async def transaction() -> Any:
        database = Database(box.settings.database_url)
        try:
            async with database.transaction() as session:
                yield session
        finally:
            await database.dispose()

    return transaction()
