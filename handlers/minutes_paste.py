"""Minutes by pasting: after a meeting the coordinator just sends the minutes to the bot in
private (a text, a forwarded message or a document), with no command.

The bot takes them as the minutes of the last held meeting and answers with ONE preview:
who came (ticked from the poll, one tap per name changes it), who gets a copy, and Send.
When it is unsure (two meetings without minutes, or a text that may be something else) it
asks once, with buttons. A message it does not take goes on to the other features (a live
conversation always comes first), so nothing the coordinator writes is swallowed.

A week after a meeting whose minutes never came, the coordinator is asked once, kindly;
the attendance then stands as ticked.
"""

from __future__ import annotations

import contextlib
import logging

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError

from bot.context import PeerContext
from bot.domain import attendance, confirmations, people
from bot.domain import minutes as domain
from bot.domain import rows as stored
from bot.i18n import ngettext
from handlers import conversation
from handlers.callbacks import ID, STALE, Who, answer, offer_confirmation
from handlers.common import keyboard, reply, reply_language, telegram_person, texts_for
from handlers.delivery import coordinator_recipients, send_private
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
# Telegram takes at most 100 buttons under a message: beyond this many volunteers the
# preview has no name buttons (who came stays as ticked from the poll).
MAX_NAMES = 98
QUESTION = confirmations.Kind.MINUTES


# The preview -------------------------------------------------------------------------------


async def preview(
    context: PeerContext, minutes_id: int, token: str, language: str
) -> tuple[str, InlineKeyboardMarkup]:
    """The one message before sending: who came (a button per name), who gets a copy."""
    session, now = context.session, context.services.clock.now()
    minutes = await stored.minutes(session, minutes_id)
    meeting = await stored.meeting(session, minutes.meeting_id)
    ticks = await attendance.ticks(session, meeting)
    found = await domain.recipients(session, meeting, now)
    _ = context.texts(language)
    lines = [
        _(
            "The minutes of the volunteer meeting {date}. I have ticked those who said yes in "
            "the poll as having come; tap a name to change it."
        ).format(date=day(context, meeting, language)),
        "",
    ]
    if found.everyone:
        lines.append(
            _("A copy goes privately to those who couldn't come: {names}").format(
                names=names([p.first_name for p in found.everyone])
            )
        )
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
    names_row = [
        (
            f"{TICKED if t.present else UNTICKED} {t.first_name}",
            BUTTONS.encode(MinutesAction.TICK, minutes_id, t.person_id),
        )
        for t in (ticks if len(ticks) <= MAX_NAMES else [])
    ]
    return "\n".join(lines), keyboard(
        *(names_row[i : i + 2] for i in range(0, len(names_row), 2)),
        [
            (_("Send"), BUTTONS.encode(MinutesAction.SEND, token)),
            (_("Cancel"), BUTTONS.encode(MinutesAction.CANCEL, token)),
        ],
    )


async def offer_preview(
    update: Update, context: PeerContext, minutes_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    """A fresh Send/Cancel token for this draft and the preview that carries it."""
    token = await offer_confirmation(update, context, QUESTION, subject_id=minutes_id)
    return await preview(context, minutes_id, token, reply_language(context, update))


def token_in(message: Message) -> str | None:
    """The preview's Send token, from its buttons (a tap on a name keeps it)."""
    markup = message.reply_markup
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            decoded = BUTTONS.decode(str(button.callback_data or ""))
            if decoded is not None and decoded[0] is MinutesAction.SEND:
                return str(decoded[1][0])
    return None


@BUTTONS.route(MinutesAction.TICK, ID, ID, who=Who.COORDINATOR)
async def on_tick(update: Update, context: PeerContext, minutes_id: int, person_id: int) -> None:
    """One tap on a name: came <-> couldn't come; the preview shows who gets a copy now.
    After Send (or Cancel) the preview stays as it was; the tap only gets a short note."""
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    session, now = context.session, context.services.clock.now()
    draft = await domain.draft(session, minutes_id)
    token = token_in(query.message)
    if draft is None or token is None:
        await answer(update, context, STALE)
        return
    meeting = await stored.meeting(session, draft.meeting_id)
    if not await attendance.toggle(session, meeting, person_id, now):
        await answer(update, context, STALE)
        return
    with contextlib.suppress(TelegramError):
        await query.answer()
    text, markup = await preview(context, minutes_id, token, reply_language(context, update))
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as error:
        if "not modified" not in str(error).lower():
            raise


async def stale(context: PeerContext, query: CallbackQuery) -> None:
    _ = context.texts(reply_language(context, Update(0, callback_query=query)))
    with contextlib.suppress(TelegramError):
        await query.edit_message_text(_(STALE))


# Taking what the coordinator sent ---------------------------------------------------------------


async def pasted(update: Update, context: PeerContext) -> bool:
    """A private message from the coordinator with no command and no live conversation:
    the minutes (preview), maybe the minutes (one question), or not (False: the other
    features answer it)."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return False
    flow = conversation.current(context.application, user.id)
    if isinstance(flow, conversation.Flow) and not flow.expired(context.services.clock.now()):
        return False  # a live conversation's answer (an abandoned one was explained before)
    if message.document is not None:
        verdict = domain.document_looks_like_minutes(
            message.document.mime_type, message.document.file_name
        )
        content: dict[str, str] = {
            "file_id": message.document.file_id,
            "file_name": message.document.file_name or "referat",
        }
    elif message.text:
        verdict = domain.looks_like_minutes(message.text)
        content = {"text": message.text}
    else:
        return False
    if verdict == "other":
        return False
    services = context.services
    session, now = context.session, services.clock.now()
    held = await attendance.awaiting_minutes(session, services.group_id, now)
    if not held:
        return False  # no meeting waits for minutes: it is something else
    author = await people.record_member(
        session, services.group_id, telegram_person(context, user), now, started_bot=True
    )
    draft = await domain.start_draft(session, held[0], author.id, now, **content)
    if verdict == "minutes" and len(held) == 1:
        text, markup = await offer_preview(update, context, draft.id)
        await reply(update, text, reply_markup=markup)
        return True
    # Unsure: ask once. The draft waits (dropped on "no", or after two days).
    language = reply_language(context, update)
    _ = context.texts(language)
    if len(held) == 1:
        question = _("Is this the minutes of the volunteer meeting {date}?").format(
            date=day(context, held[0], language)
        )
        buttons = [(_("Yes, the minutes"), BUTTONS.encode(MinutesAction.IS_MINUTES, draft.id))]
    else:
        question = _("Which volunteer meeting are these minutes from?")
        buttons = [
            (
                day(context, meeting, language),
                BUTTONS.encode(MinutesAction.FOR_MEETING, draft.id, meeting.id),
            )
            for meeting in held[:3]
        ]
    buttons.append(
        (_("No, it isn't the minutes"), BUTTONS.encode(MinutesAction.NOT_MINUTES, draft.id))
    )
    await reply(update, question, reply_markup=keyboard(*buttons))
    return True


async def answered(
    update: Update, context: PeerContext, minutes_id: int, meeting_id: int | None
) -> None:
    """The coordinator said these are the minutes (of this meeting): the question becomes
    the preview."""
    query = update.callback_query
    assert query is not None
    session = context.session
    if meeting_id is None:
        found = await domain.draft(session, minutes_id)
    else:
        found = await domain.move_draft(session, minutes_id, meeting_id)
    if found is None:
        await stale(context, query)
        return
    text, markup = await offer_preview(update, context, minutes_id)
    await query.edit_message_text(text, reply_markup=markup)


@coordinator_button(MinutesAction.IS_MINUTES, ID)
async def on_is_minutes(update: Update, context: PeerContext, minutes_id: int) -> None:
    await answered(update, context, minutes_id, None)


@coordinator_button(MinutesAction.FOR_MEETING, ID, ID)
async def on_for_meeting(
    update: Update, context: PeerContext, minutes_id: int, meeting_id: int
) -> None:
    await answered(update, context, minutes_id, meeting_id)


@coordinator_button(MinutesAction.NOT_MINUTES, ID)
async def on_not_minutes(update: Update, context: PeerContext, minutes_id: int) -> None:
    """Not the minutes: nothing of it is kept."""
    query = update.callback_query
    assert query is not None
    await domain.drop_draft(context.session, minutes_id)
    _ = texts_for(context, update)
    with contextlib.suppress(TelegramError):
        await query.edit_message_text(
            _("All right, I have not kept it. Send /help to see what I can do.")
        )


# A week later ---------------------------------------------------------------------------------


async def questions_due(context: PeerContext) -> None:
    """A week after a meeting whose minutes never came: ask the coordinator(s) once."""
    services = context.services
    now = services.clock.now()
    try:
        async with services.db.transaction() as session:
            meeting = await attendance.meeting_for_question(session, services.group_id, now)
            if meeting is None:
                return
            meeting_id = meeting.id
            ask = await attendance.claim_question(session, meeting, now)
    except stored.AlreadyClaimed:
        return  # another pass claimed it
    if not ask:
        log.info("minutes question for meeting %s found too late; skipped", meeting_id)
        return
    for user_id in await coordinator_recipients(context):
        async with services.db.transaction() as session:
            meeting = await stored.meeting(session, meeting_id)
            language = await language_of_user(session, context, user_id)
        _ = context.texts(language)
        delivery = await send_private(
            context.bot,
            user_id,
            _(
                "Hi! I haven't had the minutes of the volunteer meeting {date} yet. Whenever "
                "they are ready, just send them to me here, and I will pass them on to those "
                "who couldn't come. Who came stands as ticked from the poll."
            ).format(date=day(context, meeting, language)),
        )
        if not delivery.sent:
            log.warning("minutes question not delivered to a coordinator: %s", delivery.outcome)
