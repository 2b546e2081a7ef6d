"""`/broadcast`: the coordinator's message to the group and/or every volunteer in private,
delivered at Telegram's speed limit, with a delivery report edited in place.

Writing: `/broadcast` asks for the message (or `/broadcast <text>` takes it at once), the
bot copies it back as a preview, and one message with buttons asks for the audience, then
whether it is important, then for confirmation. That same message becomes the report.

Sending: "Send now" carries a single-use token (bot/domain/confirmations.py), never the
row id. Confirming enqueues one outbox item per recipient (bot/domain/broadcast.py); once
that is committed, the outbox sender's lane for broadcasts copies the preview to everyone
(handlers/broadcast_sending.py: kind "broadcast", at most once) and a watcher edits the
report. A restart continues with the rest and never sends a second copy; a copy
interrupted mid-send is reported as not delivered ("unknown") and can be tried again with
the report's button.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    NetworkError,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import PeerContext, Services
from bot.domain import broadcast as broadcasts
from bot.domain import confirmations, people, rows
from bot.domain.confirmations import Refusal
from bot.i18n import N_, Translate, ngettext
from handlers import broadcast_sending as sending
from handlers.callbacks import (
    ID,
    REFUSALS,
    TOKEN,
    Callbacks,
    Parser,
    Who,
    choice,
    offer_confirmation,
)
from handlers.common import (
    Button,
    CommandInfo,
    coordinator_only,
    keyboard,
    private_only,
    reply_language,
    telegram_person,
    texts_for,
)
from handlers.delivery import (
    kick,
    register_kind,
)

if TYPE_CHECKING:
    from storage.models import Person
    from storage.models.broadcast import Broadcast

log = logging.getLogger(__name__)

COMMANDS = [CommandInfo("broadcast", N_("Send a message to everyone"), "coordinator")]

REPORT_EVERY_SECONDS = 2.0
# How often the watcher looks whether every copy has been dealt with.
WATCH_EVERY_SECONDS = 0.25
# With many broadcasts at once (one per group) each looks and reports less often, so
# together they stay near 16 looks and 5 report edits a second: 200 watchers at 0.25 s
# were 800 transactions a second, and the updates waited behind them.
WATCH_AT_MOST_SECONDS, REPORT_AT_MOST_SECONDS = 12.0, 40.0
# Runs before the features' typed-answer handlers, so the message being composed is not
# taken for an answer to something else.
COMPOSE_GROUP = -2
WATCHERS = "broadcast_watchers"  # bot_data: ids of broadcasts whose report is watched here

QUESTION = confirmations.Kind.BROADCAST
AUDIENCE_LABELS = {
    "group": N_("The group"),
    "volunteers": N_("Every volunteer privately"),
    "both": N_("Both"),
}


# Writing --------------------------------------------------------------------------------


def _cancel(_: Translate, broadcast_id: int) -> Button:
    return (_("Cancel"), BUTTONS.encode(BroadcastAction.CANCEL, broadcast_id))


@private_only
@coordinator_only
async def broadcast_command(update: Update, context: PeerContext) -> None:
    """Start a broadcast; with text after the command, go straight to the preview."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None and user is not None
    _ = texts_for(context, update)
    services, now = context.services, context.services.clock.now()
    # The author is a people row (so their /mydata shows it and /forgetme clears it).
    author = await people.record_member(
        context.session, services.group_id, telegram_person(context, user), now, started_bot=True
    )
    draft = await broadcasts.start_composing(context.session, services.group_id, author.id, now)
    parts = (message.text_html or "").split(None, 1)
    if len(parts) == 2 and parts[1].strip():
        preview = await message.chat.send_message(parts[1], parse_mode=ParseMode.HTML)
        await _ask_audience(context, draft, message.chat_id, preview.message_id, _)
        return
    await message.chat.send_message(
        _(
            "What would you like to send? Write the message here: text (with formatting if "
            "you like), a photo or a document with a caption. You will see a preview before "
            "anything is sent."
        ),
        reply_markup=keyboard(_cancel(_, draft.id)),
    )


async def composed_message(update: Update, context: PeerContext) -> None:
    """The coordinator's message for a broadcast waiting for one; anything else passes."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    services = context.services
    author = await people.find_person(context.session, services.group_id, user.id)
    if author is None:
        return
    draft = await broadcasts.composing(
        context.session, services.group_id, author.id, services.clock.now()
    )
    if draft is None:
        return
    _ = texts_for(context, update)
    if not (message.text or message.photo or message.document):
        await message.chat.send_message(
            _("I can send text, a photo or a document. Please try again, or tap Cancel."),
            reply_markup=keyboard(_cancel(_, draft.id)),
        )
        raise ApplicationHandlerStop
    copied = await context.bot.copy_message(
        chat_id=message.chat_id, from_chat_id=message.chat_id, message_id=message.message_id
    )
    await _ask_audience(context, draft, message.chat_id, copied.message_id, _)
    raise ApplicationHandlerStop


async def _ask_audience(
    context: PeerContext, draft: Broadcast, chat_id: int, preview_id: int, _: Translate
) -> None:
    """The preview is in place: remember it and ask who should get it."""
    broadcasts.set_source(draft, chat_id, preview_id)
    control = await context.bot.send_message(
        chat_id,
        _("Above is how your message will look. Who should receive it?"),
        reply_markup=_audience_keyboard(_, draft.id),
    )
    draft.report_message_id = control.message_id


def _audience_keyboard(_: Translate, broadcast_id: int) -> InlineKeyboardMarkup:
    return keyboard(
        *(
            (_(label), BUTTONS.encode(BroadcastAction.AUDIENCE, broadcast_id, key))
            for key, label in AUDIENCE_LABELS.items()
        ),
        _cancel(_, broadcast_id),
    )


class BroadcastAction(StrEnum):
    CANCEL = "cancel"
    RETRY = "retry"
    AUDIENCE = "aud"
    IMPORTANT = "imp"
    SEND = "send"


BUTTONS: Callbacks[BroadcastAction] = Callbacks("broadcast", BroadcastAction)


def _route(action: BroadcastAction, *args: Parser) -> None:
    async def handle(
        update: Update, context: PeerContext, broadcast_id: int, value: object = ""
    ) -> None:
        await on_callback(update, context, action, broadcast_id, str(value))

    BUTTONS.route(action, ID, *args, who=Who.COORDINATOR)(handle)


async def on_callback(
    update: Update, context: PeerContext, action: str, broadcast_id: int, value: str
) -> None:
    """One step of a broadcast draft (`BroadcastAction`), or its report's retry button."""
    query = update.callback_query
    assert query is not None
    _ = texts_for(context, update)
    services = context.services
    draft = await broadcasts.get(context.session, services.group_id, broadcast_id)
    if draft is None:  # (only a coordinator's tap gets here: `_route`)
        await query.answer(_("Sorry, only the coordinator can use that command."))
        return
    now = services.clock.now()
    if action == "cancel":
        await query.answer()
        if broadcasts.cancel(draft):
            await _edit(query, _("Cancelled. Nothing was sent."))
        return
    if action == "retry":
        count = await broadcasts.requeue_failed(context.session, services.group_id, draft.id, now)
        await query.answer(_("Sending again…") if count else _("There is nothing to send again."))
        if count:
            report = await broadcasts.progress(context.session, draft.id)
            await _edit(query, report_text(_, report))  # the button goes while it tries
            _start_after_commit(context, draft.id)
        return
    if draft.status == "cancelled":
        await query.answer(_("Cancelled. Nothing was sent."))
        return
    if draft.status != "draft":
        await query.answer(_("This message is already on its way."))
        return
    if action == "aud" and value in broadcasts.AUDIENCES:
        await query.answer()
        broadcasts.choose_audience(draft, value)
        if broadcasts.reaches_volunteers(draft):
            await _edit(
                query,
                _(
                    "Is it important? Volunteers on a pause only receive important messages; "
                    "everyone else receives it either way."
                ),
                keyboard(
                    [
                        (
                            _("Yes, important"),
                            BUTTONS.encode(BroadcastAction.IMPORTANT, draft.id, 1),
                        ),
                        (_("No"), BUTTONS.encode(BroadcastAction.IMPORTANT, draft.id, 0)),
                    ],
                    _cancel(_, draft.id),
                ),
            )
        else:
            draft.important = False
            await _ask_confirmation(update, context, draft)
        return
    if action == "imp" and draft.audience is not None:
        await query.answer()
        draft.important = value == "1"
        await _ask_confirmation(update, context, draft)
        return
    await query.answer()


_route(BroadcastAction.CANCEL)
_route(BroadcastAction.RETRY)
_route(BroadcastAction.AUDIENCE, choice(*broadcasts.AUDIENCES))
_route(BroadcastAction.IMPORTANT, choice("0", "1"))


@BUTTONS.route(BroadcastAction.SEND, TOKEN, who=Who.COORDINATOR)
async def on_send(update: Update, context: PeerContext, token: str) -> None:
    """The "Send now" button: its single-use token names the draft (never its row id);
    used, a day old or superseded by a newer draft, it sends nothing and says so kindly."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None and query.message is not None
    _ = texts_for(context, update)
    services, now = context.services, context.services.clock.now()
    taken = await confirmations.take(
        context.session,
        services.group_id,
        token,
        (QUESTION,),
        actor_user_id=user.id,
        chat_id=query.message.chat.id,
        now=now,
    )
    if not isinstance(taken, confirmations.Pending) or taken.subject_id is None:
        if taken is Refusal.USED:  # a second tap: the message is the report now
            await query.answer(_("This message is already on its way."))
        elif taken in (Refusal.SUPERSEDED, Refusal.NOT_YOURS):  # the newer one stays
            await query.answer(_(REFUSALS[taken]))  # type: ignore[index]
        else:  # expired or gone: nothing to send from here any more
            await query.answer()
            await _edit(query, _(REFUSALS[taken]))  # type: ignore[index]
        return
    draft_id = taken.subject_id
    if not await broadcasts.confirm(context.session, services.group_id, draft_id, now):
        draft = await broadcasts.get(context.session, services.group_id, draft_id)
        cancelled = draft is None or draft.status == "cancelled"
        await query.answer(
            _("Cancelled. Nothing was sent.")
            if cancelled
            else _("This message is already on its way.")
        )
        return
    await query.answer(_("Sending…"))
    await _edit(query, report_text(_, await broadcasts.progress(context.session, draft_id)))
    _start_after_commit(context, draft_id)


async def _ask_confirmation(update: Update, context: PeerContext, draft: Broadcast) -> None:
    services, now = context.services, context.services.clock.now()
    _, language = texts_for(context, update), reply_language(context, update)
    found = await broadcasts.recipients(context.session, services.group_id, draft, now)
    # "Send now" carries a single-use token; newer choices replace the older button.
    token = await offer_confirmation(update, context, QUESTION, subject_id=draft.id)
    lines = [_("Ready to send:")]
    if broadcasts.reaches_group(draft):
        lines.append("• " + _("in the group"))
    if broadcasts.reaches_volunteers(draft):
        counted = [
            ngettext(
                language, "privately to {count} volunteer", "privately to {count} volunteers", n
            ).format(count=n)
            for n in [len(found.reachable)]
        ]
        if n := len(found.not_started):
            counted.append(
                ngettext(
                    language,
                    "{count} hasn't started a chat with me yet, so I can't reach them",
                    "{count} haven't started a chat with me yet, so I can't reach them",
                    n,
                ).format(count=n)
            )
        if n := len(found.blocked):
            counted.append(
                ngettext(language, "{count} has blocked me", "{count} have blocked me", n).format(
                    count=n
                )
            )
        if n := found.paused_skipped:
            counted.append(
                ngettext(
                    language,
                    "{count} on a pause won't get it, as it is not marked important",
                    "{count} on a pause won't get it, as it is not marked important",
                    n,
                ).format(count=n)
            )
        lines += [f"• {line}" for line in counted]
    await _edit(
        update.callback_query,
        "\n".join(lines),
        keyboard(
            (_("Send now"), BUTTONS.encode(BroadcastAction.SEND, token)), _cancel(_, draft.id)
        ),
    )


async def _edit(query: Any, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    with contextlib.suppress(BadRequest):  # "message is not modified" (a double tap)
        await query.edit_message_text(text, reply_markup=markup)


# The report -----------------------------------------------------------------------------


def report_text(_: Translate, report: broadcasts.Progress) -> str:
    """What the coordinator reads while and after the message goes out."""
    title = _("Your message has been sent.") if report.finished else _("Sending your message…")
    lines = [title, ""]
    if report.group is not None:
        if report.group == broadcasts.SENT:
            lines.append(_("Group: sent"))
        elif report.group in broadcasts.RETRYABLE:
            lines.append(_("Group: not sent yet"))
        else:
            lines.append(_("Group: on its way"))
    if report.total:
        lines.append(
            _("Delivered privately: {sent} of {total}").format(sent=report.sent, total=report.total)
        )
        if report.not_started:
            lines.append(
                _("Haven't started a chat with me yet: {count}").format(count=report.not_started)
            )
        if report.blocked:
            lines.append(_("Have blocked me: {count}").format(count=report.blocked))
        if report.failed:
            lines.append(
                _("Not delivered yet, can be sent again: {count}").format(count=report.failed)
            )
        if report.waiting:
            lines.append(_("Still on the way: {count}").format(count=report.waiting))
    if report.paused_skipped:
        lines.append(
            _("On a pause, not sent (not important): {count}").format(count=report.paused_skipped)
        )
    if report.left:
        lines.append(_("Left the group before it was sent: {count}").format(count=report.left))
    return "\n".join(lines)


def _retry_markup(_: Translate, broadcast_id: int) -> InlineKeyboardMarkup:
    again = _("Send again to those who didn't get it")
    return keyboard((again, BUTTONS.encode(BroadcastAction.RETRY, broadcast_id)))


class Reporter:
    """Edits the report in place, at most every REPORT_EVERY_SECONDS and once at the end."""

    def __init__(self, context: PeerContext, broadcast_id: int) -> None:
        self.context = context
        self.broadcast_id = broadcast_id
        self.last = time.monotonic()
        self.lock = asyncio.Lock()

    async def maybe_update(self, watched: int = 1) -> None:
        every = min(max(REPORT_EVERY_SECONDS, watched / 5), REPORT_AT_MOST_SECONDS)
        if time.monotonic() - self.last >= every and not self.lock.locked():
            await self.update()

    async def update(self, *, attempts: int = 1) -> None:
        async with self.lock:
            self.last = time.monotonic()
            services = self.context.services
            async with services.db.transaction() as session:
                draft = await rows.broadcast(session, self.broadcast_id)
                report = await broadcasts.progress(session, self.broadcast_id)
                coordinator = await broadcasts.author(session, draft)
            if draft.report_message_id is None or draft.source_chat_id is None:
                return
            _ = self.context.texts(coordinator.language if coordinator else None)
            markup = (
                _retry_markup(_, self.broadcast_id)
                if report.finished and report.retryable
                else None
            )
            for attempt in range(1, attempts + 1):
                try:
                    await self.context.bot.edit_message_text(
                        report_text(_, report),
                        chat_id=draft.source_chat_id,
                        message_id=draft.report_message_id,
                        reply_markup=markup,
                    )
                    return
                except BadRequest as error:
                    if "not modified" not in str(error).lower():
                        log.warning("broadcast %s: report not updated", self.broadcast_id)
                    return
                except NetworkError:  # a bad moment; an edit is safe to repeat
                    if attempt < attempts:
                        await asyncio.sleep(attempt)
                except TelegramError:
                    break
            log.warning("broadcast %s: report not updated", self.broadcast_id)


# Sending --------------------------------------------------------------------------------


def _start_after_commit(context: PeerContext, broadcast_id: int) -> None:
    """Send and report once the update's transaction (with the outbox items) is saved."""
    application = context.application

    def _committed() -> None:
        kick(application, broadcasts.KIND)
        watch(application, broadcast_id)

    context.after_commit(_committed)


def watch(application: Application, broadcast_id: int) -> None:
    """Keep the broadcast's report up to date until every copy is dealt with."""
    watching: set[int] = application.bot_data.setdefault(WATCHERS, set())
    if broadcast_id not in watching:
        watching.add(broadcast_id)
        application.create_task(_watch(application, broadcast_id), name=f"broadcast {broadcast_id}")


async def _watch(application: Application, broadcast_id: int) -> None:
    context: PeerContext = application.context_types.context(application=application)
    services = context.services
    reporter = Reporter(context, broadcast_id)
    done = False
    try:
        # Stops when the application stops (the next start watches again).
        while application.running and not done:
            watched = len(application.bot_data[WATCHERS])
            await asyncio.sleep(min(max(WATCH_EVERY_SECONDS, watched / 16), WATCH_AT_MOST_SECONDS))
            async with services.db.transaction() as session:
                done = await broadcasts.finish_if_done(session, broadcast_id, services.clock.now())
            if not done:
                await reporter.maybe_update(watched)
    except Exception:
        log.exception("broadcast %s: watcher failed; the next pass continues", broadcast_id)
    finally:
        # No await between the last look and this: a retry asked for now is watched anew.
        application.bot_data[WATCHERS].discard(broadcast_id)
    if done:
        await reporter.update(attempts=3)  # the final word matters most
        log.info("broadcast %s: every copy dealt with", broadcast_id)


async def run_due(context: PeerContext) -> None:
    """Watch every broadcast still sending (after a restart, or a watcher that failed);
    the outbox sender's pass continues its copies."""
    services = context.services
    async with services.db.transaction() as session:
        sending = await broadcasts.sending_broadcast_ids(session, services.group_id)
    for broadcast_id in sending:
        watch(context.application, broadcast_id)


async def forget_author(context: PeerContext, person: Person) -> None:
    await broadcasts.forget_author(context.session, person.id)


def register(application: Application, services: Services) -> None:
    services.on("person_forgetting", forget_author)
    # Copies are at most once: one claimed by a bot that stopped is reported, not resent.
    register_kind(
        application,
        broadcasts.KIND,
        sending.prepare,
        at_most_once=True,
        workers=sending.CONCURRENCY,
    )
    application.add_handler(CommandHandler("broadcast", broadcast_command))
    application.add_handler(CallbackQueryHandler(BUTTONS.dispatch, pattern=BUTTONS.pattern))
    # Anyone's private message is looked at: a stand-in (bot.domain.away) composes too;
    # without a draft of theirs it passes on at once.
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & ~filters.COMMAND,
            composed_message,
        ),
        group=COMPOSE_GROUP,
    )
