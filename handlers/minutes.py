"""Minutes to those who couldn't come, with attendance.

After a meeting the coordinator just sends the minutes to the bot (a text, a forwarded
message or a document; `handlers.minutes_paste`), or uses `/minutes`. One preview shows
who came (ticked from the poll, one tap per name changes it) and who gets a copy; Send
promises each person who couldn't come a private, protected copy, which the outbox sends
(`handlers.minutes_sending`, with the delivery report). `/referat` sends the latest
minutes again. Nothing of it is ever shown in the group.

The rules live in `bot.domain.minutes`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar, Literal

from telegram import CallbackQuery, Update
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
from bot.domain import confirmations, people
from bot.domain import meeting as meetings
from bot.domain import minutes as domain
from bot.domain import rows as stored
from bot.i18n import N_
from handlers import conversation, minutes_paste
from handlers.callbacks import REFUSALS, TOKEN, Who, take_confirmation
from handlers.common import (
    CommandInfo,
    acts_as_coordinator,
    coordinator_only,
    private_only,
    reply,
    reply_language,
    telegram_person,
    texts_for,
    volunteer_only,
)
from handlers.delivery import start_sending
from handlers.minutes_common import BUTTONS, MinutesAction, day
from handlers.minutes_sending import (
    post_report,
    refresh_touched,
    register_sending,
    send_copies,
    send_minutes,
)

if TYPE_CHECKING:
    from storage.models.meeting import Meeting

__all__ = ["BUTTONS", "COMMANDS", "register", "run_due"]

COMMANDS = [
    CommandInfo("referat", N_("Get the latest minutes again"), "volunteer"),
    CommandInfo("minutes", N_("Send the minutes to those who couldn't come"), "coordinator"),
]


@dataclass(kw_only=True)
class AwaitingMinutes(conversation.Flow):
    """The coordinator sent `/minutes`: the minutes (a text or a document) come next."""

    step: Literal["minutes"] = "minutes"
    meeting_id: int
    restart: ClassVar[str] = "/minutes"
    lifetime: ClassVar[timedelta] = timedelta(hours=6)  # minutes take a while to write


MINUTES_CAPTION = filters.CaptionRegex(r"^/minutes(@\w+)?(\s|$)")
# The draft's question: "Send" and "Cancel" carry one single-use token.
QUESTION = confirmations.Kind.MINUTES


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
    conversation.start(context, AwaitingMinutes, meeting_id=meeting.id)
    await reply(
        update,
        _(
            "Send me the minutes of the volunteer meeting {date} now: as a text or as a "
            "document (PDF, Word, ...). I will show you who gets them before anything is sent."
        ).format(date=day(context, meeting, reply_language(context, update))),
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


async def private_message(update: Update, context: PeerContext) -> None:
    """The coordinator's private message: the minutes after `/minutes`, or sent without a
    command (runs before other features; what it does not take goes on to them)."""
    message = update.effective_message
    if message is None:
        return
    user = update.effective_user
    if user is None:
        return
    command = (message.text or message.caption or "").startswith("/")
    if command and not isinstance(
        conversation.current(context.application, user.id), AwaitingMinutes
    ):
        return  # nothing to end, whoever sends it: no need to ask who they are (every /start)
    # The coordinator, or the stand-in while the coordinator is away (bot.domain.away).
    if not await acts_as_coordinator(context, user.id):
        return
    if command:
        conversation.finish(context, AwaitingMinutes)
        return  # a command: the coordinator moved on
    awaited = conversation.get(context, AwaitingMinutes)
    if awaited is None:
        if await minutes_paste.pasted(update, context):
            raise ApplicationHandlerStop
        return
    conversation.finish(context, AwaitingMinutes)
    meeting = await stored.find_meeting(context.session, awaited.meeting_id)
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
        conversation.start(context, AwaitingMinutes, meeting_id=meeting.id)
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
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    # The author is a people row (so their /mydata shows it and /forgetme clears it).
    author = await people.record_member(
        session, services.group_id, telegram_person(context, user), now, started_bot=True
    )
    draft = await domain.start_draft(
        session, meeting, author.id, now, text=text, file_id=file_id, file_name=file_name
    )
    text, markup = await minutes_paste.offer_preview(update, context, draft.id)
    await reply(update, text, reply_markup=markup)


# Buttons -------------------------------------------------------------------------------------


@BUTTONS.route(MinutesAction.SEND, TOKEN, who=Who.COORDINATOR)
async def on_send(update: Update, context: PeerContext, token: str) -> None:
    """Send: the copies are promised in this update's transaction; once it is saved, the
    report is posted and the outbox sends them in the background."""
    query = update.callback_query
    assert query is not None
    pending = await take_confirmation(update, context, token, QUESTION)
    if pending is None:
        return
    with contextlib.suppress(TelegramError):
        await query.answer()
    assert pending.subject_id is not None
    minutes_id = pending.subject_id
    if not await domain.confirm(context.session, minutes_id, context.services.clock.now()):
        await gone(context, query)  # the draft was dropped meanwhile (two days old)
        return

    async def confirmed() -> None:
        with contextlib.suppress(BadRequest):
            await query.edit_message_reply_markup(None)
        await post_report(context, minutes_id)
        start_sending(context.application, (domain.KIND,), then=refresh_touched)

    context.after_commit_await(confirmed)


@BUTTONS.route(MinutesAction.CANCEL, TOKEN, who=Who.COORDINATOR)
async def on_cancel(update: Update, context: PeerContext, token: str) -> None:
    query = update.callback_query
    assert query is not None
    pending = await take_confirmation(update, context, token, QUESTION)
    if pending is None:
        return
    with contextlib.suppress(TelegramError):
        await query.answer()
    assert pending.subject_id is not None
    if not await domain.drop_draft(context.session, pending.subject_id):
        await gone(context, query)
        return
    await query.edit_message_text(
        texts_for(context, update)("All right, the minutes were not sent.")
    )


async def gone(context: PeerContext, query: CallbackQuery) -> None:
    _ = context.texts(reply_language(context, Update(0, callback_query=query)))
    with contextlib.suppress(TelegramError):
        await query.edit_message_text(_(REFUSALS[confirmations.Refusal.UNKNOWN]))


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
    copy = None
    if minutes is not None and person is not None:
        copy = await domain.copy_details(session, minutes.id, person.id)
    if minutes is None or copy is None:
        await reply(update, _("There are no minutes yet."))
        return
    meeting = await stored.meeting(session, minutes.meeting_id)
    line = _("Here are the minutes of the volunteer meeting {date}.").format(
        date=day(context, meeting, copy.language)
    )
    await send_minutes(context, copy, line)


# The scheduler pass --------------------------------------------------------------------------


async def run_due(context: PeerContext) -> None:
    """The week's question about minutes that never came, copies due (also after a stop,
    and held ones of anyone no longer on a pause: a safety net beside `pause_ended`), stale
    drafts. (Old minutes are deleted by the retention job, bot/domain/retention.py, with
    their copies' outbox rows.)"""
    services = context.services
    await minutes_paste.questions_due(context)
    async with services.db.transaction() as session:
        await domain.wake_ended_pauses(session, services.group_id, services.clock.now())
        await domain.drop_stale_drafts(session, services.group_id, services.clock.now())
    await send_copies(context)


def register(application: Application, services: Services) -> None:
    private = filters.ChatType.PRIVATE
    # Before every feature (group -1): the message that follows /minutes, or minutes sent
    # without a command. (An abandoned conversation was explained in group -4, a broadcast
    # being written took its message in group -2.)
    application.add_handler(
        MessageHandler(private & (filters.TEXT | filters.Document.ALL), private_message),
        group=-1,
    )
    application.add_handler(CommandHandler("minutes", minutes_command))
    application.add_handler(
        MessageHandler(private & filters.Document.ALL & MINUTES_CAPTION, minutes_document)
    )
    application.add_handler(CommandHandler("referat", referat_command))
    application.add_handler(CallbackQueryHandler(BUTTONS.dispatch, pattern=BUTTONS.pattern))
    register_sending(application, services)
