"""Minutes to those who couldn't come, with attendance.

After a meeting the coordinator gets a checklist of who came (ticked in advance from the
poll); `/minutes` then takes the minutes (a text or a document), shows who will get them
and, once confirmed, sends each person who couldn't come a private, protected copy. Those
the bot can't reach yet get theirs on their next /start; paused volunteers when they are
back (or at once, if the coordinator says so). A delivery report is kept up to date.
`/referat` sends the latest minutes again. Nothing of it is ever shown in the group.

The rules live in `bot.domain.minutes`.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import PeerContext, Services
from bot.domain import meeting as meetings
from bot.domain import minutes as domain
from bot.domain import people
from bot.domain import rows as stored
from bot.i18n import N_, Translate, format_day, ngettext
from handlers.callbacks import FLAG, ID, ButtonHandler, Callbacks, Parser, Who
from handlers.common import (
    CommandInfo,
    coordinator_only,
    is_coordinator,
    private_only,
    reply,
    reply_language,
    texts_for,
    volunteer_only,
)
from handlers.delivery import (
    MAX_MESSAGE,
    Delivery,
    Outcome,
    remember_outcome,
    send_document_private,
    send_private,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.models import Person
    from storage.models.meeting import Meeting
    from storage.models.minutes import Minutes

log = logging.getLogger(__name__)

COMMANDS = [
    CommandInfo("referat", N_("Get the latest minutes again"), "volunteer"),
    CommandInfo("minutes", N_("Send the minutes to those who couldn't come"), "coordinator"),
    CommandInfo("attendance", N_("Mark who came to the volunteer meeting"), "coordinator"),
]

# context.user_data key: the coordinator sent /minutes and the minutes come next.
AWAITING = "minutes_awaiting"
# application.bot_data key: this process's token on the copies it claims.
TOKEN = "minutes_claim_token"
MINUTES_CAPTION = filters.CaptionRegex(r"^/minutes(@\w+)?(\s|$)")

TICKED, UNTICKED = "✅", "⬜"


def claim_token(context: PeerContext) -> str:
    return context.application.bot_data[TOKEN]


def session_of(context: PeerContext) -> AsyncSession | None:
    """The update's transaction, or None in a scheduler pass."""
    try:
        return context.session
    except RuntimeError:
        return None


def day(context: PeerContext, meeting: Meeting, language: str) -> str:
    assert meeting.starts_at is not None
    return format_day(
        meeting.starts_at, context.services.tz, language, now=context.services.clock.now()
    )


async def language_of_user(session: AsyncSession, context: PeerContext, user_id: int) -> str:
    person = await people.find_person(session, context.services.group_id, user_id)
    return person.language if person else context.services.settings.language


def names(people_list: list[str]) -> str:
    return ", ".join(people_list)


# Attendance ----------------------------------------------------------------------------------


def checklist_text(_: Translate, when: str, saved: bool) -> str:
    if saved:
        return _(
            "This is who came to the volunteer meeting {date}, as you saved it. Tap a name to "
            "change it, then tap Done."
        ).format(date=when)
    return _(
        "Who came to the volunteer meeting {date}? I have ticked those who said yes in the "
        "poll. Tap a name to change it, then tap Done."
    ).format(date=when)


def checklist_markup(
    _: Translate, meeting_id: int, rows: list[tuple[int, str, bool]]
) -> InlineKeyboardMarkup:
    buttons = [
        [
            InlineKeyboardButton(
                f"{TICKED if present else UNTICKED} {name}",
                callback_data=BUTTONS.encode(
                    MinutesAction.TICK, meeting_id, person_id, int(present)
                ),
            )
        ]
        for person_id, name, present in rows
    ]
    buttons.append(
        [
            InlineKeyboardButton(
                _("Done"), callback_data=BUTTONS.encode(MinutesAction.DONE, meeting_id)
            )
        ]
    )
    return InlineKeyboardMarkup(buttons)


async def send_checklist(context: PeerContext, meeting_id: int, user_id: int) -> bool:
    """The attendance checklist, in private to one coordinator."""
    services = context.services
    async with services.db.transaction() as session:
        meeting = await stored.meeting(session, meeting_id)
        rows, saved = await domain.checklist(session, meeting, services.clock.now())
        language = await language_of_user(session, context, user_id)
    _ = context.texts(language)
    delivery = await send_private(
        context.bot,
        user_id,
        checklist_text(_, day(context, meeting, language), saved),
        reply_markup=checklist_markup(
            _, meeting_id, [(r.person_id, r.first_name, r.present) for r in rows]
        ),
    )
    if not delivery.sent:
        log.warning("attendance checklist not delivered to a coordinator: %s", delivery.outcome)
    return delivery.sent


async def checklists_due(context: PeerContext) -> None:
    """After a meeting: its checklist to the coordinator(s), claimed exactly once."""
    services = context.services
    now = services.clock.now()
    try:
        async with services.db.transaction() as session:
            meeting = await domain.meeting_for_checklist(session, services.group_id, now)
            if meeting is None:
                return
            meeting_id = meeting.id
            outcome = await domain.claim_checklist(session, meeting, now)
    except stored.AlreadyClaimed:
        return  # another pass claimed it
    if outcome != "sent":
        log.info("attendance checklist for meeting %s found too late; skipped", meeting_id)
        return
    for user_id in services.settings.coordinator_ids:
        await send_checklist(context, meeting_id, user_id)


@private_only
@coordinator_only
async def attendance_command(update: Update, context: PeerContext) -> None:
    """`/attendance`: the checklist of the latest meeting, again."""
    services = context.services
    meeting = await meetings.latest_decided_meeting(
        context.session, services.group_id, services.clock.now()
    )
    if meeting is None:
        _ = texts_for(context, update)
        await reply(update, _("No volunteer meeting has taken place yet."))
        return
    assert update.effective_user is not None
    await send_checklist(context, meeting.id, update.effective_user.id)


def marks_in(message: Message) -> list[tuple[int, str, bool]]:
    """The checklist's state lives in its buttons: (person id, name, ticked)."""
    rows = []
    markup = message.reply_markup
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            decoded = BUTTONS.decode(str(button.callback_data or ""))
            if decoded is not None and decoded[0] is MinutesAction.TICK:
                _meeting_id, person_id, ticked = decoded[1]
                name = button.text.split(" ", 1)[1] if " " in button.text else button.text
                rows.append((person_id, name, bool(ticked)))
    return rows


async def toggle(update: Update, context: PeerContext, meeting_id: int, person_id: int) -> None:
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    rows = [
        (pid, name, (not present) if pid == person_id else present)
        for pid, name, present in marks_in(query.message)
    ]
    _ = texts_for(context, update)
    try:
        await query.edit_message_reply_markup(checklist_markup(_, meeting_id, rows))
    except BadRequest as error:
        if "not modified" not in str(error).lower():
            raise


async def save_checklist(update: Update, context: PeerContext, meeting_id: int) -> None:
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    services = context.services
    rows = marks_in(query.message)
    async with services.db.transaction() as session:
        meeting = await stored.meeting(session, meeting_id)
        await domain.save_attendance(
            session, meeting, {pid: present for pid, _n, present in rows}, services.clock.now()
        )
    language = texts_language(context, update)
    _ = context.texts(language)
    came = [name for _p, name, present in rows if present]
    away = [name for _p, name, present in rows if not present]
    lines = [
        _("Thank you, attendance for the volunteer meeting {date} is saved.").format(
            date=day(context, meeting, language)
        ),
        _("Came ({count}): {names}").format(count=len(came), names=names(came) or "–"),
        _("Couldn't come ({count}): {names}").format(count=len(away), names=names(away) or "–"),
        _("Send me /minutes and I will send the minutes privately to those who couldn't come."),
    ]
    await query.edit_message_text("\n".join(lines), reply_markup=None)


def texts_language(context: PeerContext, update: Update) -> str:
    return reply_language(context, update)


# Taking the minutes --------------------------------------------------------------------------


@private_only
@coordinator_only
async def minutes_command(update: Update, context: PeerContext) -> None:
    """`/minutes [text]`: the minutes now, or in the next message."""
    _ = texts_for(context, update)
    services = context.services
    meeting = await meetings.latest_decided_meeting(
        context.session, services.group_id, services.clock.now()
    )
    if meeting is None:
        await reply(
            update,
            _(
                "No volunteer meeting has taken place yet, so I don't know who couldn't come. "
                "Send the minutes after the meeting."
            ),
        )
        return
    assert update.effective_message is not None
    parts = (update.effective_message.text or "").split(maxsplit=1)
    if len(parts) > 1 and parts[1].strip():
        await take_draft(update, context, meeting, text=parts[1].strip())
        return
    context.user_data[AWAITING] = meeting.id
    await reply(
        update,
        _(
            "Send me the minutes of the volunteer meeting {date} now: as a text or as a "
            "document (PDF, Word, ...). I will show you who gets them before anything is sent."
        ).format(date=day(context, meeting, texts_language(context, update))),
    )


@coordinator_only
async def minutes_document(update: Update, context: PeerContext) -> None:
    """A document with `/minutes` as its caption."""
    services = context.services
    meeting = await meetings.latest_decided_meeting(
        context.session, services.group_id, services.clock.now()
    )
    if meeting is None:
        _ = texts_for(context, update)
        await reply(
            update,
            _(
                "No volunteer meeting has taken place yet, so I don't know who couldn't come. "
                "Send the minutes after the meeting."
            ),
        )
        return
    await take_document(update, context, meeting)


async def awaited_minutes(update: Update, context: PeerContext) -> None:
    """The message after `/minutes`: the minutes themselves (runs before other features)."""
    meeting_id = context.user_data.get(AWAITING) if context.user_data is not None else None
    message = update.effective_message
    if meeting_id is None or message is None or not is_coordinator(context, update):
        return
    if (message.text or message.caption or "").startswith("/"):
        context.user_data.pop(AWAITING, None)  # a command: the coordinator moved on
        return
    context.user_data.pop(AWAITING, None)
    meeting = await stored.find_meeting(context.session, meeting_id)
    if meeting is None:
        return
    try:
        if message.document is not None:
            await take_document(update, context, meeting)
        elif message.text:
            await take_draft(update, context, meeting, text=message.text)
        else:
            return
    except Exception:
        # The draft is rolled back and the coordinator is asked to try again: sending the
        # minutes again must then work (a 502 on the preview lost them).
        context.user_data[AWAITING] = meeting.id
        raise
    raise ApplicationHandlerStop


async def take_document(update: Update, context: PeerContext, meeting: Meeting) -> None:
    message = update.effective_message
    assert message is not None and message.document is not None
    await take_draft(
        update,
        context,
        meeting,
        file_id=message.document.file_id,
        file_name=message.document.file_name or "referat",
    )


async def take_draft(
    update: Update,
    context: PeerContext,
    meeting: Meeting,
    *,
    text: str | None = None,
    file_id: str | None = None,
    file_name: str | None = None,
) -> None:
    """Keep the minutes as a draft and ask the coordinator to confirm, showing who gets them."""
    services = context.services
    session, now = context.session, services.clock.now()
    assert update.effective_user is not None
    draft = await domain.start_draft(
        session,
        meeting,
        update.effective_user.id,
        now,
        text=text,
        file_id=file_id,
        file_name=file_name,
    )
    found = await domain.recipients(session, meeting, now)
    language = texts_language(context, update)
    _ = context.texts(language)
    lines = [
        _("The minutes of the volunteer meeting {date} will be sent privately to:").format(
            date=day(context, meeting, language)
        )
    ]
    if found.everyone:
        lines.append(names([p.first_name for p in found.everyone]))
    else:
        lines.append(_("Nobody: everyone came. I will keep the minutes for /referat."))
    not_started = [p.first_name for p in found.active if not p.reachable]
    if not_started:
        lines.append(
            ngettext(
                language,
                "{names} hasn't started a chat with me yet and gets the minutes after sending "
                "me /start.",
                "{names} haven't started a chat with me yet and get the minutes after sending "
                "me /start.",
                len(not_started),
            ).format(names=names(not_started))
        )
    if found.paused:
        lines.append(
            ngettext(
                language,
                "{names} is on a pause and gets the minutes when the pause is over.",
                "{names} are on a pause and get the minutes when the pause is over.",
                len(found.paused),
            ).format(names=names([p.first_name for p in found.paused]))
        )
    lines += ["", _("Those who came don't get them. Shall I send the minutes?")]
    await reply(
        update,
        "\n".join(lines),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Send"), callback_data=BUTTONS.encode(MinutesAction.SEND, draft.id)
                    ),
                    InlineKeyboardButton(
                        _("Cancel"), callback_data=BUTTONS.encode(MinutesAction.CANCEL, draft.id)
                    ),
                ]
            ]
        ),
    )


# Sending -------------------------------------------------------------------------------------


Copy = domain.CopyDetails


async def send_minutes(context: PeerContext, copy: Copy, kind_line: str) -> Delivery:
    """The minutes, protected: a document by its file id, or the text."""
    if copy.file_id is not None:
        return await send_document_private(
            context.bot,
            copy.telegram_user_id,
            document=copy.file_id,
            caption=kind_line,
            protect_content=True,
        )
    text = f"{kind_line}\n\n{copy.text or ''}"
    return await send_private(context.bot, copy.telegram_user_id, text, protect_content=True)


def missed_you_line(context: PeerContext, copy: Copy) -> str:
    _ = context.texts(copy.language)
    return _(
        "Here are the minutes of the volunteer meeting {date}, so you also know what we "
        "talked about."
    ).format(date=format_day(
            copy.starts_at, context.services.tz, copy.language, now=context.services.clock.now()
        ))


async def record(session: AsyncSession, copy: Copy, delivery: Delivery, now: datetime) -> None:
    if delivery.sent:
        await domain.record_sent(session, copy.delivery_id, now)
    elif delivery.outcome in (Outcome.NOT_STARTED, Outcome.BLOCKED):
        await domain.record_unreachable(session, copy.delivery_id)
        person = await stored.person(session, copy.person_id)
        remember_outcome(person, delivery)
    else:
        await domain.record_failure(session, copy.delivery_id)


async def deliver_one(
    context: PeerContext, delivery_id: int, session: AsyncSession | None = None
) -> int | None:
    """Claim, send, record. With no session (scheduler, confirmation) the claim and the
    outcome are each committed on their own; inside an update that already wrote, its
    transaction is used. Returns the minutes id when a copy was attempted."""
    services = context.services
    token, now = claim_token(context), services.clock.now()
    if session is None:
        async with services.db.transaction() as own:
            if not await domain.claim(own, delivery_id, token, now):
                return None
            copy = await domain.copy_details(own, delivery_id)
    else:
        if not await domain.claim(session, delivery_id, token, now):
            return None
        copy = await domain.copy_details(session, delivery_id)
    try:
        delivery = await send_minutes(context, copy, missed_you_line(context, copy))
    except Exception:  # never leave a claim behind for something unexpected
        log.exception("minutes %s copy %s could not be sent", copy.minutes_id, delivery_id)
        delivery = Delivery(Outcome.FAILED)
    log.info("minutes %s copy %s: %s", copy.minutes_id, delivery_id, delivery.outcome)
    if session is None:
        async with services.db.transaction() as own:
            await record(own, copy, delivery, services.clock.now())
    else:
        await record(session, copy, delivery, services.clock.now())
        await session.flush()
    return copy.minutes_id


async def deliver_pending(context: PeerContext, minutes_id: int | None = None) -> set[int]:
    """Send every pending copy (of one set of minutes, or all). Returns the minutes touched."""
    services = context.services
    async with services.db.transaction() as session:
        released = await domain.release_abandoned_claims(
            session, services.group_id, claim_token(context)
        )
        pending = await domain.pending_deliveries(session, services.group_id, minutes_id)
    if released:
        log.info("%s minutes copies were cut off by a stop; sending them again", released)
    touched = set()
    for delivery_id in pending:
        done = await deliver_one(context, delivery_id)
        if done is not None:
            touched.add(done)
    return touched


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
            _("Waiting until they start a chat with me: {names}").format(
                names=listed(seen.unreachable)
            )
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
    language = await language_of_user(session, context, minutes.author_user_id)
    _ = context.texts(language)
    markup = None
    if seen.paused:
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Send now anyway"),
                        callback_data=BUTTONS.encode(MinutesAction.SEND_PAUSED, minutes_id),
                    )
                ]
            ]
        )
    limit = None if full else MAX_MESSAGE
    return minutes, report_text(_, day(context, meeting, language), seen, limit=limit), markup


async def post_report(context: PeerContext, minutes_id: int) -> None:
    """The report, once, to the coordinator who sent the minutes."""
    services = context.services
    async with services.db.transaction() as session:
        minutes, whole, _markup = await render_report(context, session, minutes_id, full=True)
        minutes, text, markup = await render_report(context, session, minutes_id)
    if whole != text:
        # Every name once, in as many messages as it takes; the short report below is the
        # one kept up to date.
        await send_private(context.bot, minutes.author_user_id, whole)
    delivery = await send_private(context.bot, minutes.author_user_id, text, reply_markup=markup)
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


# Buttons -------------------------------------------------------------------------------------


class MinutesAction(StrEnum):
    TICK = "t"  # meeting id, person id, ticked now (0/1)
    DONE = "done"
    SEND = "send"
    CANCEL = "cancel"
    SEND_PAUSED = "paused"


BUTTONS: Callbacks[MinutesAction] = Callbacks("minutes", MinutesAction)


def _coordinator_button(
    action: MinutesAction, *args: Parser
) -> Callable[[ButtonHandler], ButtonHandler]:
    """Every minutes button is the coordinator's; each answers the tap first."""

    def register(handler: ButtonHandler) -> ButtonHandler:
        async def answered(update: Update, context: PeerContext, *values: Any) -> None:
            assert update.callback_query is not None
            await update.callback_query.answer()
            await handler(update, context, *values)

        BUTTONS.route(action, *args, who=Who.COORDINATOR)(answered)
        return handler

    return register


@_coordinator_button(MinutesAction.TICK, ID, ID, FLAG)
async def on_tick(
    update: Update, context: PeerContext, meeting_id: int, person_id: int, _: int
) -> None:
    await toggle(update, context, meeting_id, person_id)


@_coordinator_button(MinutesAction.DONE, ID)
async def on_done(update: Update, context: PeerContext, meeting_id: int) -> None:
    await save_checklist(update, context, meeting_id)


@_coordinator_button(MinutesAction.SEND, ID)
async def on_send(update: Update, context: PeerContext, minutes_id: int) -> None:
    await confirm(update, context, minutes_id)


@_coordinator_button(MinutesAction.CANCEL, ID)
async def on_cancel(update: Update, context: PeerContext, minutes_id: int) -> None:
    query = update.callback_query
    assert query is not None
    async with context.services.db.transaction() as session:
        dropped = await domain.drop_draft(session, minutes_id)
    if dropped:
        await query.edit_message_text(
            texts_for(context, update)("All right, the minutes were not sent.")
        )


@_coordinator_button(MinutesAction.SEND_PAUSED, ID)
async def on_send_paused(update: Update, context: PeerContext, minutes_id: int) -> None:
    async with context.services.db.transaction() as session:
        await domain.send_paused_now(session, minutes_id)
    await deliver_pending(context, minutes_id)
    await refresh_report(context, minutes_id)


async def confirm(update: Update, context: PeerContext, minutes_id: int) -> None:
    """Send: create the deliveries (one transaction), post the report, send, update it."""
    query = update.callback_query
    assert query is not None
    services = context.services
    async with services.db.transaction() as session:
        confirmed = await domain.confirm(session, minutes_id, services.clock.now())
    with contextlib.suppress(BadRequest):
        # Also on a second tap: the first removal may have been lost to a network fault.
        await query.edit_message_reply_markup(None)
    if not confirmed:
        return  # a second tap, or cancelled
    await post_report(context, minutes_id)
    await deliver_pending(context, minutes_id)
    await refresh_report(context, minutes_id)


# Waiting copies ------------------------------------------------------------------------------


async def deliver_woken(context: PeerContext, person: Person, statuses: tuple[str, ...]) -> None:
    """Send a person's waiting copies now, in the update's transaction if there is one."""
    session = session_of(context)
    if session is None:
        async with context.services.db.transaction() as own:
            woken = await domain.wake_waiting(own, person.id, statuses)
        touched = {m for d in woken if (m := await deliver_one(context, d)) is not None}
        for minutes_id in touched:
            await refresh_report(context, minutes_id)
        return
    woken = await domain.wake_waiting(session, person.id, statuses)
    touched = {m for d in woken if (m := await deliver_one(context, d, session)) is not None}
    for minutes_id in touched:
        await refresh_report(context, minutes_id, session)


async def on_person_started(context: PeerContext, person: Person) -> None:
    """Someone (re)started the bot: the minutes that waited for them."""
    session = session_of(context)
    now = context.services.clock.now()
    if session is not None and await people.current_pause(session, person.id, now) is not None:
        await domain.wait_for_pause_end(session, person.id)  # they get them when back
        return
    await deliver_woken(context, person, (domain.WAITING_UNREACHABLE, domain.FAILED))


async def on_pause_ended(context: PeerContext, person: Person, **_details: object) -> None:
    await deliver_woken(context, person, (domain.WAITING_PAUSED, domain.WAITING_UNREACHABLE))


# Again on request ----------------------------------------------------------------------------


@private_only
@volunteer_only
async def referat_command(update: Update, context: PeerContext) -> None:
    """`/referat`: the latest minutes again, in private and protected."""
    services = context.services
    session = context.session
    minutes = await domain.latest_confirmed(session, services.group_id)
    assert update.effective_user is not None
    person = await people.find_person(session, services.group_id, update.effective_user.id)
    _ = texts_for(context, update)
    if minutes is None or person is None:
        await reply(update, _("There are no minutes yet."))
        return
    meeting = await stored.meeting(session, minutes.meeting_id)
    copy = Copy(
        delivery_id=0,
        minutes_id=minutes.id,
        person_id=person.id,
        telegram_user_id=person.telegram_user_id,
        language=person.language,
        starts_at=meeting.starts_at or minutes.created_at,
        text=minutes.text,
        file_id=minutes.file_id,
    )
    line = _("Here are the minutes of the volunteer meeting {date}.").format(
        date=day(context, meeting, person.language)
    )
    await send_minutes(context, copy, line)


# The scheduler pass --------------------------------------------------------------------------


async def run_due(context: PeerContext) -> None:
    """Checklists after meetings, pending copies (also after a stop), stale drafts. (Old
    minutes are deleted by the retention job, bot/domain/retention.py.)"""
    await checklists_due(context)
    for minutes_id in await deliver_pending(context):
        await refresh_report(context, minutes_id)
    await drop_stale_drafts(context)


async def drop_stale_drafts(context: PeerContext) -> None:
    services = context.services
    async with services.db.transaction() as session:
        await domain.drop_stale_drafts(session, services.group_id, services.clock.now())


def register(application: Application, services: Services) -> None:
    application.bot_data[TOKEN] = uuid.uuid4().hex
    private = filters.ChatType.PRIVATE
    # Before every feature (group -1): the message that follows /minutes.
    application.add_handler(
        MessageHandler(private & (filters.TEXT | filters.Document.ALL), awaited_minutes),
        group=-1,
    )
    application.add_handler(CommandHandler("minutes", minutes_command))
    application.add_handler(
        MessageHandler(private & filters.Document.ALL & MINUTES_CAPTION, minutes_document)
    )
    application.add_handler(CommandHandler("attendance", attendance_command))
    application.add_handler(CommandHandler("referat", referat_command))
    application.add_handler(CallbackQueryHandler(BUTTONS.dispatch, pattern=BUTTONS.pattern))
    services.on("person_started", on_person_started)
    services.on("pause_ended", on_pause_ended)
