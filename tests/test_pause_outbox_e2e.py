"""The pause's notices go through the outbox: a notice of over 5,000 characters (a long
name, five activities, a note as long as Telegram lets anyone type) arrives whole; a stop
between the pause's commit and the send means it is sent after the restart, once (the
note waits sealed, and opens only with the bot's own token); and while a volunteer is on
a pause, what a feature marked pausable waits for her return."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from bot.domain import matches as match_rules
from bot.domain import outbox, people
from bot.domain import pause as pauses
from bot.sandbox import Cast, Sandbox
from handlers import delivery
from handlers.pause import notices

LIMIT = 4096


async def anna_with_five_activities(box: Sandbox, cast: Cast) -> int:
    anna = cast.volunteers[0]
    async with box.services.db.transaction() as session:
        row = await people.find_person(session, box.services.group_id, anna.id)
        assert row is not None
        row.first_name = "Anna-" + "Marie" * 11
        for weekday in range(5):
            await match_rules.create_match(
                session,
                box.services.group_id,
                kind="activity",
                label=f"Aktivitet nummer {weekday + 1} med et langt navn",
                volunteer_ids=[row.id],
                plan=match_rules.Plan(rhythm="weekly", weekday=weekday, at=time(16, 0)),
                place=None,
                now=box.clock.now(),
                tz=box.services.tz,
            )
        return row.id


def long_note() -> str:
    """As long as Telegram lets anyone type (4,096), each line ending in its own number."""
    words = "jeg har brug for ro og tid til min familie. " * 2
    note = "\n".join(f"Linje {n:02d}: {words}{n:02d}" for n in range(60))
    return note[:4090].rsplit("\n", 1)[0]


async def pause_with_note(box: Sandbox, cast: Cast, note: str) -> None:
    anna = cast.volunteers[0]
    await box.say(anna, "/pause")
    await box.tap(anna, box.fake.messages_to(anna.id)[-1], "pause:len:1m")
    await box.say(anna, note)
    await box.tap(anna, box.fake.messages_to(anna.id)[-1], "pause:ok")


async def stored_note(box: Sandbox, person_id: int) -> str | None:
    async with box.services.db.transaction() as session:
        pause = await people.current_pause(session, person_id, box.clock.now())
        assert pause is not None
        return pause.note_for_coordinator


async def test_a_5000_character_pause_notice_arrives_whole_and_the_note_is_let_go(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    await box.say(mette, "/start")
    await box.say(anna, "/start")
    anna_id = await anna_with_five_activities(box, cast)
    note = long_note()
    assert len(note) > 4000
    before = len(box.texts_to(mette.id))
    await pause_with_note(box, cast, note)
    notice = "\n".join(box.texts_to(mette.id)[before:])
    assert len(notice) > 5000
    assert "har bedt om en pause" in notice
    assert all(notice.count(line) == 1 for line in note.splitlines())  # whole, and once
    assert "Aktivitet nummer 5 med et langt navn" in notice
    assert all(len(m.text or "") <= LIMIT for m in box.fake.messages_to(mette.id))
    assert "Jeg har givet koordinatoren besked." in box.last_text_to(anna.id)
    assert await stored_note(box, anna_id) is None  # delivered: nothing keeps it


async def test_a_stop_between_the_pause_and_the_notice_sends_it_after_the_restart_once(
    group: tuple[Sandbox, Cast], monkeypatch: pytest.MonkeyPatch
):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    await box.say(mette, "/start")
    await box.say(anna, "/start")
    async with box.services.db.transaction() as session:
        anna_id = (await people.find_person(session, box.services.group_id, anna.id)).id  # type: ignore[union-attr]

    # The process dies right after the pause committed, before the notice went out.
    monkeypatch.setattr(notices, "start_sending", lambda *args, **kwargs: None)
    before = len(box.texts_to(mette.id))
    await pause_with_note(box, cast, "Tak fordi du forstår. Hilsen Anna")
    assert box.texts_to(mette.id)[before:] == []
    waiting = await stored_note(box, anna_id)
    assert waiting and "Hilsen" not in waiting  # waiting for the restart, never readable
    services = box.services
    async with services.db.transaction() as session:  # ...or just after claiming it
        claim = await outbox.claim_next(session, services.group_id, box.clock.now(), "gone")
        assert claim is not None and claim.kind == pauses.STARTED
    monkeypatch.undo()
    await box.restart_bot()  # its catch-up pass takes over the dead process's claim
    await box.run_due()
    await box.run_due()
    arrived = [t for t in box.texts_to(mette.id)[before:] if "har bedt om en pause" in t]
    assert len(arrived) == 1 and "Tak fordi du forstår. Hilsen Anna" in arrived[0]
    assert await stored_note(box, anna_id) is None


async def test_pausable_items_wait_for_the_end_of_the_pause_and_are_asked_again(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna = cast.volunteers[0]
    await box.say(anna, "/start")
    asked: list[str] = []

    async def prepare(context, session, claim, now) -> delivery.Outgoing | None:
        asked.append(claim.kind)
        if claim.kind == "test_past":  # e.g. the reminder of a meeting that is over
            return None
        return delivery.Outgoing(anna.id, f"Her er {claim.kind}")

    async def important(session, claim) -> bool:
        return claim.subject_id != 99  # marked important: never held

    assert box.app is not None
    for kind in ("test_copy", "test_past"):
        delivery.register_kind(box.app, kind, prepare, pausable=True)
    delivery.register_kind(box.app, "test_news", prepare, pausable=important)
    await box.say(anna, "/pause")
    await box.tap(anna, box.fake.messages_to(anna.id)[-1], "pause:len:2w")
    await box.tap(anna, box.fake.messages_to(anna.id)[-1], "pause:note:none")
    await box.tap(anna, box.fake.messages_to(anna.id)[-1], "pause:ok")
    services, now = box.services, box.clock.now()
    async with services.db.transaction() as session:
        anna_id = (await people.find_person(session, services.group_id, anna.id)).id  # type: ignore[union-attr]
        for kind, subject in (("test_copy", 1), ("test_past", 2), ("test_news", 3)):
            await outbox.enqueue(session, services.group_id, kind, subject, anna_id, now)
        await outbox.enqueue(session, services.group_id, "test_news", 99, anna_id, now)
    await box.advance(timedelta(days=1))
    texts = box.texts_to(anna.id)
    assert texts.count("Her er test_news") == 1  # only the important one
    assert "Her er test_copy" not in texts and asked.count("test_copy") == 0
    await box.say(anna, "/resume")
    await box.run_due()
    texts = box.texts_to(anna.id)
    assert texts.count("Her er test_copy") == 1 and texts.count("Her er test_news") == 2
    assert "Her er test_past" not in texts and asked.count("test_past") == 1


def test_a_sealed_note_opens_only_with_its_key():
    from bot.sealing import derive_key, seal, unseal

    key, other = derive_key("123:abc", "pause note"), derive_key("123:abd", "pause note")
    note = "Jeg har brug for ro 🌿 æøå\n" * 200
    sealed = seal(key, note)
    assert "brug for" not in sealed and sealed != seal(key, note)  # a fresh nonce each time
    assert unseal(key, sealed) == note
    assert unseal(other, sealed) is None
    assert unseal(key, sealed[:-4] + "AAAA") is None
    assert unseal(key, "not base64 at all!") is None
