"""Who came to the volunteer meeting: the coordinator's checklist after it (ticked in advance
from the poll), and `/attendance` to open it again. It decides who gets the minutes."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from bot.context import PeerContext
from bot.domain import attendance
from bot.domain import meeting as meetings
from bot.domain import rows as stored
from bot.i18n import Translate
from handlers.callbacks import FLAG, ID
from handlers.common import coordinator_only, private_only, reply, reply_language, texts_for
from handlers.delivery import send_private
from handlers.minutes_common import (
    BUTTONS,
    MinutesAction,
    coordinator_button,
    day,
    language_of_user,
    names,
)

log = logging.getLogger(__name__)

TICKED, UNTICKED = "✅", "⬜"


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
        rows, saved = await attendance.checklist(session, meeting, services.clock.now())
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
            meeting = await attendance.meeting_for_checklist(session, services.group_id, now)
            if meeting is None:
                return
            meeting_id = meeting.id
            outcome = await attendance.claim_checklist(session, meeting, now)
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
        await attendance.save_attendance(
            session, meeting, {pid: present for pid, _n, present in rows}, services.clock.now()
        )
    language = reply_language(context, update)
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


@coordinator_button(MinutesAction.TICK, ID, ID, FLAG)
async def on_tick(
    update: Update, context: PeerContext, meeting_id: int, person_id: int, _: int
) -> None:
    await toggle(update, context, meeting_id, person_id)


@coordinator_button(MinutesAction.DONE, ID)
async def on_done(update: Update, context: PeerContext, meeting_id: int) -> None:
    await save_checklist(update, context, meeting_id)
