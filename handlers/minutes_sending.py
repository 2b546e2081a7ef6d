"""The copies of the minutes and the coordinator's report on them.

Each copy is an outbox item (kind `domain.KIND`); the one sender in `handlers/delivery.py`
sends it with what `prepare` renders here, at least once. A copy for someone on a pause is
held until the pause ends (or the coordinator says "send now anyway"); one Telegram couldn't
deliver goes again on the person's next /start. The report is edited in place as copies go.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError

from bot.context import PeerContext, Services
from bot.domain import minutes as domain
from bot.domain import outbox
from bot.domain import rows as stored
from bot.i18n import Translate, format_day
from handlers.callbacks import ID
from handlers.common import keyboard
from handlers.delivery import (
    HOLD,
    MAX_MESSAGE,
    Delivery,
    Hold,
    Outcome,
    Outgoing,
    register_kind,
    send_document_private,
    send_due,
    send_private,
    start_sending,
)
from handlers.minutes_common import (
    BUTTONS,
    MinutesAction,
    coordinator_button,
    day,
    names,
    session_of,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.models import Person
    from storage.models.minutes import Minutes

log = logging.getLogger(__name__)

# application.bot_data key: minutes whose copies moved since their report was last edited.
TOUCHED = "minutes_touched"

Copy = domain.CopyDetails


def kind_line(context: PeerContext, copy: Copy) -> str:
    _ = context.texts(copy.language)
    return _(
        "Here are the minutes of the volunteer meeting {date}, so you also know what we "
        "talked about."
    ).format(
        date=format_day(
            copy.starts_at, context.services.tz, copy.language, now=context.services.clock.now()
        )
    )


async def send_minutes(context: PeerContext, copy: Copy, line: str) -> Delivery:
    """The minutes, protected: a document by its file id, or the text (`/referat`)."""
    if copy.file_id is not None:
        return await send_document_private(
            context.bot,
            copy.telegram_user_id,
            document=copy.file_id,
            caption=line,
            protect_content=True,
        )
    text = f"{line}\n\n{copy.text or ''}"
    return await send_private(context.bot, copy.telegram_user_id, text, protect_content=True)


# The outbox kind -------------------------------------------------------------------------------


async def prepare(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, now: datetime
) -> Outgoing | Hold | None:
    """A copy as it is sent now; held while its person is on a pause; nothing when the
    minutes (or the person) are gone."""
    _touched(context).add(claim.subject_id)
    copy = await domain.copy_details(session, claim.subject_id, claim.person_id)
    if copy is None:
        return None
    if await domain.waits_for_pause(session, claim.subject_id, claim.person_id, now):
        return HOLD
    line = kind_line(context, copy)
    if copy.file_id is not None:
        return Outgoing(copy.telegram_user_id, line, document=copy.file_id, protect_content=True)
    return Outgoing(copy.telegram_user_id, f"{line}\n\n{copy.text or ''}", protect_content=True)


async def after(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, outcome: Outcome
) -> None:
    """A copy Telegram failed to take goes again on a later pass, a few times."""
    if outcome is Outcome.FAILED:
        await domain.try_again_later(session, claim.item_id, context.services.clock.now())


def _touched(context: PeerContext) -> set[int]:
    """The group's minutes whose copies moved (per group: passes of several groups run
    side by side, and each refreshes its own reports in its own time zone)."""
    by_group: dict[int, set[int]] = context.application.bot_data.setdefault(TOUCHED, {})
    return by_group.setdefault(context.services.group_id, set())


async def refresh_touched(context: PeerContext) -> None:
    """Bring the reports of the minutes whose copies moved up to date."""
    touched = _touched(context)
    while touched:
        await refresh_report(context, touched.pop())


async def send_copies(context: PeerContext) -> None:
    """Send the copies that are due now, then update the reports (a scheduler pass)."""
    await send_due(context, (domain.KIND,))
    await refresh_touched(context)


def kick(context: PeerContext) -> None:
    """Send what was just promised, in the background, once the update has committed."""
    application = context.application
    if session_of(context) is None:
        start_sending(application, (domain.KIND,), then=refresh_touched)
        return
    context.after_commit(lambda: start_sending(application, (domain.KIND,), then=refresh_touched))


# The coordinator's report ----------------------------------------------------------------------


def report_text(_: Translate, when: str, seen: domain.Report, *, limit: int | None = None) -> str:
    """The report; with `limit`, lists too long for it are shortened ("…and 120 more")."""
    text = _report_text(_, when, seen, None)
    shown = max(len(seen.unreachable), len(seen.paused), len(seen.failed))
    while limit is not None and len(text) > limit and shown > 0:
        shown //= 2
        text = _report_text(_, when, seen, shown)
    return text


def _report_text(_: Translate, when: str, seen: domain.Report, shown: int | None) -> str:
    def listed(people_list: list[str]) -> str:
        if shown is None or len(people_list) <= shown:
            return names(people_list)
        return _("{names} and {count} more").format(
            names=names(people_list[:shown]), count=len(people_list) - shown
        )

    lines = [_("The minutes of the volunteer meeting {date}:").format(date=when)]
    total = len(seen.sent) + len(seen.unreachable) + len(seen.paused) + len(seen.failed)
    if total + seen.in_progress == 0:
        lines.append(_("Everyone came, so there was nobody to send them to."))
    lines.append(_("Sent: {count}").format(count=len(seen.sent)))
    if seen.in_progress:
        lines.append(_("On the way: {count}").format(count=seen.in_progress))
    if seen.unreachable:
        lines.append(
            _(
                "Haven't started a chat with me yet, or have blocked me (they get the minutes "
                "when they send me /start): {names}"
            ).format(names=listed(seen.unreachable))
        )
    if seen.paused:
        lines.append(
            _("Waiting until their pause is over: {names}").format(names=listed(seen.paused))
        )
    if seen.failed:
        lines.append(_("Could not be sent: {names}").format(names=listed(seen.failed)))
    return "\n".join(lines)


async def render_report(
    context: PeerContext, session: AsyncSession, minutes_id: int, *, full: bool = False
) -> tuple[Minutes, str, InlineKeyboardMarkup | None]:
    """The report as it fits one message (edited in place); `full`: every name."""
    minutes = await stored.minutes(session, minutes_id)
    meeting = await stored.meeting(session, minutes.meeting_id)
    seen = await domain.report(session, minutes_id)
    author = await stored.find_person(session, minutes.author_id) if minutes.author_id else None
    language = author.language if author else context.services.language
    _ = context.texts(language)
    markup = None
    if seen.paused:
        markup = keyboard(
            (_("Send now anyway"), BUTTONS.encode(MinutesAction.SEND_PAUSED, minutes_id))
        )
    limit = None if full else MAX_MESSAGE
    return minutes, report_text(_, day(context, meeting, language), seen, limit=limit), markup


async def post_report(context: PeerContext, minutes_id: int) -> None:
    """The report, once, to the coordinator who sent the minutes."""
    services = context.services
    async with services.db.transaction() as session:
        minutes, whole, _markup = await render_report(context, session, minutes_id, full=True)
        minutes, text, markup = await render_report(context, session, minutes_id)
        author = await stored.find_person(session, minutes.author_id) if minutes.author_id else None
    if author is None:
        return  # forgotten meanwhile
    if whole != text:
        # Every name once, in as many messages as it takes; the short report below is the
        # one kept up to date.
        await send_private(context.bot, author.telegram_user_id, whole)
    delivery = await send_private(context.bot, author.telegram_user_id, text, reply_markup=markup)
    if delivery.sent and delivery.message is not None:
        async with services.db.transaction() as session:
            await domain.set_report_message(
                session, minutes_id, delivery.message.chat_id, delivery.message.message_id
            )


async def refresh_report(
    context: PeerContext, minutes_id: int, session: AsyncSession | None = None
) -> None:
    """Edit the report in place; "message is not modified" is fine."""
    if session is None:
        async with context.services.db.transaction() as own:
            minutes, text, markup = await render_report(context, own, minutes_id)
    else:
        minutes, text, markup = await render_report(context, session, minutes_id)
    if minutes.report_chat_id is None or minutes.report_message_id is None:
        return
    try:
        await context.bot.edit_message_text(
            text,
            chat_id=minutes.report_chat_id,
            message_id=minutes.report_message_id,
            reply_markup=markup,
        )
    except BadRequest as error:
        if "not modified" not in str(error).lower():
            log.warning("minutes report %s not updated: %s", minutes_id, type(error).__name__)
    except TelegramError as error:
        log.warning("minutes report %s not updated: %s", minutes_id, type(error).__name__)


@coordinator_button(MinutesAction.SEND_PAUSED, ID)
async def on_send_paused(update: Update, context: PeerContext, minutes_id: int) -> None:
    """The held copies go now, in the background; the report follows them."""
    now = context.services.clock.now()
    if await domain.send_paused_now(context.session, minutes_id, now):
        kick(context)


# Waiting copies --------------------------------------------------------------------------------


async def on_person_started(context: PeerContext, person: Person, **_details: Any) -> None:
    """Someone (re)started the bot: the copies that couldn't reach them (held instead while
    they are on a pause)."""
    async with context.transaction() as session:
        found = await domain.retry_for(session, person.id, context.services.clock.now())
    if found:
        kick(context)


async def on_person_forgetting(context: PeerContext, person: Person, **_details: Any) -> None:
    """Minutes they wrote stay for the group; nothing in them points at them any more."""
    await domain.forget_author(context.session, person.id)


async def on_pause_ended(context: PeerContext, person: Person, **_details: Any) -> None:
    """Back from a pause: the copies held for it go now."""
    async with context.transaction() as session:
        found = await domain.wake_after_pause(session, person.id, context.services.clock.now())
    if found:
        kick(context)


def register_sending(application: Any, services: Services) -> None:
    register_kind(application, domain.KIND, prepare, after)
    services.on("person_started", on_person_started)
    services.on("pause_ended", on_pause_ended)
    services.on("person_forgetting", on_person_forgetting)
