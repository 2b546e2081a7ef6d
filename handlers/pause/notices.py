"""What the pause promises to send, rendered when the outbox sends it: each coordinator's
notice (a new pause with the volunteer's few words, a little longer, back, "let's talk",
the check-in reminder) and the volunteer's "are you ready?" question. The domain enqueues
them in the transaction that changes the pause; they are about the pause, so a pause never
holds them. A notice over Telegram's limit is split by the sender."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.context import PeerContext
from bot.domain import away, outbox, rows
from bot.domain import pause as pauses
from bot.domain.matches import matches_for_person
from bot.i18n import Translate, format_day
from bot.sealing import unseal
from handlers.delivery import Outcome, Outgoing, register_kind, start_sending
from handlers.matches_cover_ask import suggestion_offer
from handlers.pause.checkins import readiness_question
from handlers.pause.common import coordinator_notice, note_key, until_text

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.models import Pause, Person

log = logging.getLogger(__name__)


def kick_after_commit(
    context: PeerContext, then: Callable[[PeerContext], Awaitable[None]] | None = None
) -> None:
    """Once the update's transaction (which enqueued them) has committed, send the pause's
    messages in the background (the scheduler pass would, a little later); then `then`."""
    application = context.application
    context.after_commit(lambda: start_sending(application, pauses.KINDS, then=then))


def _render(
    context: PeerContext, pause: Pause, person: Person, kind: str, matches: list[Any]
) -> Any:
    """`render(_, language)` for a coordinator's notice of `kind`."""
    name = person.first_name
    if kind == pauses.STARTED:
        sealed = pause.note_for_coordinator
        note = unseal(note_key(context.services), sealed) if sealed else None
        if sealed and note is None:
            log.warning("pause %s: the note could not be opened (another token?)", pause.id)
        return coordinator_notice(
            context, person, pause, matches, note, note_lost=bool(sealed) and note is None
        )

    def render(_: Translate, language: str) -> str:
        if kind == pauses.LONGER and pause.until is None:
            return _("{name} would like a little longer pause, with no end date yet.").format(
                name=name
            )
        if kind == pauses.LONGER:
            return _("{name} would like a little longer pause, now until {until}.").format(
                name=name, until=until_text(context, pause.until, language)
            )
        if kind == pauses.BACK:
            return _("{name} is back from the pause and ready again.").format(name=name)
        if kind == pauses.TALK:
            return _(
                "{name} would like to talk with you about the pause. Perhaps give them a call "
                "or write to them?"
            ).format(name=name)
        since = format_day(
            pause.started_at, context.services.tz, language, now=context.services.clock.now()
        )
        return _(
            "A gentle reminder: {name} has been on a pause since {since}. Perhaps it is "
            "a good time to check in and hear how things are?"
        ).format(name=name, since=since)

    return render


async def prepare_notice(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, now: datetime
) -> Outgoing | None:
    """A coordinator's notice, in their language; not wanted once the volunteer is
    forgotten, a check-in once the pause is over, or when the recipient is no coordinator
    (nor a stand-in)."""
    services = context.services
    pause = await pauses.find_pause(session, claim.subject_id)
    coordinator = await rows.find_person(session, claim.person_id)
    if pause is None or coordinator is None:
        return None
    # A coordinator, or the stand-in of a period running when it was promised.
    if not await away.may_receive(session, coordinator, services.coordinator_ids, claim.due_at):
        return None
    person = await rows.find_person(session, pause.person_id)
    if person is None:
        return None
    if claim.kind == pauses.CHECKIN and (pause.ended_at is not None or not person.is_member):
        return None
    matches: list[Any] = []
    if claim.kind == pauses.STARTED:
        matches = await matches_for_person(
            session,
            services.group_id,
            person.id,
            claim.due_at,
            horizon=pauses.affected_horizon(claim.due_at, pause.until, services.tz),
        )
    language = coordinator.language or services.language
    text = _render(context, pause, person, claim.kind, matches)(context.texts(language), language)
    markup = None
    if claim.kind == pauses.STARTED and pause.wants_cover and pause.ended_at is None:
        # Who could take over, as buttons: one tap asks that volunteer privately.
        lines, markup = await suggestion_offer(context, session, coordinator, pause, now, language)
        if lines:
            text += "\n\n" + "\n".join(lines)
    return Outgoing(coordinator.telegram_user_id, text, markup)


async def after_notice(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, outcome: Outcome
) -> None:
    if outcome is not Outcome.SENT:
        log.warning("pause %s: a coordinator's %s was not delivered", claim.subject_id, claim.kind)
    if claim.kind == pauses.STARTED:
        await pauses.notice_done(session, claim.subject_id)


async def prepare_question(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, now: datetime
) -> Outgoing | None:
    """The "are you ready?" question, while the pause runs and the volunteer is here."""
    pause = await pauses.find_pause(session, claim.subject_id)
    person = await rows.find_person(session, claim.person_id)
    if pause is None or pause.ended_at is not None or person is None:
        return None
    if not person.is_member or not person.reachable:
        return None
    text, markup = readiness_question(context, person, pause)
    return Outgoing(person.telegram_user_id, text, markup)


def register_kinds(application: Any) -> None:
    for kind in (pauses.STARTED, pauses.LONGER, pauses.BACK, pauses.TALK, pauses.CHECKIN):
        register_kind(application, kind, prepare_notice, after_notice)
    register_kind(application, pauses.QUESTION, prepare_question)
