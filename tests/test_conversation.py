"""Typed conversation state (handlers/conversation.py): a question the bot let go of never
takes the person's next message, the person is told so once, and typed fields stay typed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

from sqlalchemy import func, select

from bot.sandbox import COPENHAGEN, Cast, Sandbox
from handlers import conversation
from handlers.matches_create import Request
from handlers.matches_flow import NewMatch
from handlers.matches_schedule import MoveMeeting, NewRhythm
from handlers.pause.common import PauseFlow
from storage.models import Pause
from tests.e2e import guided_match_waiting_for_the_label

LATE = "Det er et stykke tid siden, jeg spurgte"


def _context(now: datetime) -> SimpleNamespace:
    """What the helpers read of a PeerContext: the person's user_data and the clock."""
    clock = SimpleNamespace(now=lambda: now)
    return SimpleNamespace(user_data={}, services=SimpleNamespace(clock=clock))


def test_typed_fields_survive_the_round_trip_and_one_flow_replaces_another():
    now = datetime(2026, 12, 1, 9, 0, tzinfo=COPENHAGEN)
    context = _context(now)
    request = Request(kind="activity", start=date(2027, 1, 5), dates=[(date(2027, 1, 5), time(10))])
    conversation.start(context, NewMatch, request=request)
    flow = conversation.get(context, NewMatch)
    assert flow is not None and flow.step == "pick" and flow.restart == "/activity"
    assert type(flow.request.start) is date and flow.request.dates == [(date(2027, 1, 5), time(10))]
    assert flow.started_at == now

    # Moving a meeting ends the half-made activity: the last question is the one answered.
    conversation.start(context, MoveMeeting, occurrence_id=7)
    assert conversation.get(context, NewMatch) is None
    move = conversation.get(context, MoveMeeting)
    assert move is not None and move.occurrence_id == 7 and move.restart == "/meetings"
    assert conversation.get(context, NewRhythm) is None

    conversation.finish(context, NewRhythm)  # not the running flow: nothing happens
    assert conversation.get(context, MoveMeeting) is move
    conversation.finish(context)
    assert conversation.get(context, MoveMeeting) is None


def test_a_flow_lives_its_lifetime_after_the_last_answer_and_the_sweep_keeps_no_state():
    start = datetime(2026, 12, 1, 9, 0, tzinfo=COPENHAGEN)
    context = _context(start)
    conversation.start(context, NewRhythm, match_id=3, rhythm="weekly")
    later = start + NewRhythm.lifetime - timedelta(minutes=1)
    context.services.clock.now = lambda: later
    assert conversation.get(context, NewRhythm) is not None  # an answer: its lifetime restarts
    much_later = later + NewRhythm.lifetime - timedelta(minutes=1)
    context.services.clock.now = lambda: much_later
    assert conversation.get(context, NewRhythm) is not None
    abandoned = much_later + NewRhythm.lifetime + timedelta(seconds=1)
    context.services.clock.now = lambda: abandoned
    assert conversation.get(context, NewRhythm) is None

    application = SimpleNamespace(user_data={42: context.user_data})
    assert conversation.sweep(application, abandoned) == 1
    held = conversation.current(application, 42)
    assert held == conversation.Abandoned("/meetings", abandoned)  # no match id, no text
    conversation.sweep(application, abandoned + conversation.NOTE_WINDOW + timedelta(seconds=1))
    assert conversation.current(application, 42) is None


async def _waiting_for_the_label(box: Sandbox, cast: Cast) -> None:
    for user in (cast.coordinator, cast.volunteers[0]):
        await box.say(user, "/start")
    await guided_match_waiting_for_the_label(box, cast)


async def test_an_abandoned_flow_does_not_take_the_next_message(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette = cast.coordinator
    await _waiting_for_the_label(box, cast)
    await box.advance(timedelta(hours=3))  # the scheduler's sweep drops the flow
    sent_before = len(box.fake.messages_to(mette.id))
    await box.say(mette, "K.L.")
    # One kind line that says how to start again; the label is not taken.
    assert box.texts_to(mette.id)[sent_before:] == [
        "Det er et stykke tid siden, jeg spurgte, så jeg har ladet spørgsmålet ligge og ikke "
        "brugt det, du skrev. Skriv /match, hvis du vil starte forfra."
    ]
    await box.say(mette, "K.L.")
    assert "forstod jeg ikke" in box.last_text_to(mette.id)  # told once, then a text is a text
    await box.say(mette, "/matches")
    assert "K.L." not in box.last_text_to(mette.id)


async def test_an_expired_flow_is_ignored_before_any_sweep_and_a_command_moves_on(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    await _waiting_for_the_label(box, cast)
    box.clock.advance(timedelta(hours=3))  # no scheduler pass: found expired on access
    await box.say(mette, "K.L.")
    assert LATE in box.last_text_to(mette.id)

    await _waiting_for_the_label(box, cast)
    box.clock.advance(timedelta(hours=3))
    await box.say(mette, "/help")  # the coordinator moved on: no word about the old question
    await box.say(mette, "K.L.")
    assert LATE not in "".join(box.texts_to(mette.id)[-3:])
    assert "forstod jeg ikke" in box.last_text_to(mette.id)


async def test_a_setting_value_is_awaited_until_a_command_or_its_lifetime(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    await box.say(mette, "/start")
    await box.say(mette, "/settings")
    await box.tap(mette, box.fake.messages_to(mette.id)[-1], "meeting:settings")
    view = next(
        m for m in reversed(box.fake.messages_to(mette.id)) if "Indstillinger for" in m.text
    )
    await box.tap(mette, view, "meeting:edit:place")
    await box.say(mette, "/help")  # she moved on: the next text is not the new place
    await box.say(mette, "Biblioteket")
    assert "forstod jeg ikke" in box.last_text_to(mette.id)

    await box.tap(mette, view, "meeting:edit:place")
    box.clock.advance(timedelta(hours=3))
    await box.say(mette, "Biblioteket")
    assert LATE in box.last_text_to(mette.id) and "/meetingsettings" in box.last_text_to(mette.id)
    await box.say(mette, "/settings")
    await box.tap(mette, box.fake.messages_to(mette.id)[-1], "meeting:settings")
    assert "Biblioteket" not in box.last_text_to(mette.id)


async def test_a_pause_note_typed_after_the_flow_was_let_go_reaches_nobody(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    for user in (mette, anna):
        await box.say(user, "/start")
    await box.say(anna, "/pause")
    await box.tap(anna, box.fake.messages_to(anna.id)[-1], "pause:len:2w")
    flow = conversation.current(box.app, anna.id)
    assert isinstance(flow, PauseFlow) and flow.step == "note"
    assert flow.until == date(2026, 12, 14)  # a date, not a string to parse back
    told_mette = len(box.fake.messages_to(mette.id))
    await box.advance(timedelta(hours=3))
    await box.say(anna, "Jeg har det svært for tiden")
    assert LATE in box.last_text_to(anna.id) and "/pause" in box.last_text_to(anna.id)
    await box.advance(timedelta(minutes=5))
    assert len(box.fake.messages_to(mette.id)) == told_mette  # no notice, no message
    async with box.services.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Pause)) == 0
