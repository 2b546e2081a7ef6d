"""A person's rights and the retention job: `/mydata`, `/forgetme` (also by the coordinator
for someone who asks by phone: `/mydata @username`), and the daily deletion of what is
past its retention period."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from babel import Locale, UnknownLocaleError
from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import PeerContext, Services
from bot.domain import confirmations, people, retention, rights, rows
from bot.i18n import N_, Translate, format_day
from handlers.callbacks import TOKEN, Callbacks, acknowledge, offer_confirmation, take_confirmation
from handlers.common import (
    CommandInfo,
    is_coordinator,
    keyboard,
    private_only,
    reply,
    reply_language,
    still_in_group,
    texts_for,
)
from handlers.delivery import send_document_private, send_private, tell_coordinators

if TYPE_CHECKING:
    from storage.models import Person

log = logging.getLogger(__name__)

EXPORT_FILENAME = "mine-data.json"


def _language_name(code: str | None, language: str) -> str:
    """The language by name ("dansk"), not by code ("da"): the summary is in plain words."""
    if not code:
        return "–"
    try:
        return Locale.parse(code).get_display_name(language) or code
    except (ValueError, TypeError, UnknownLocaleError):
        return code


COMMANDS = [
    CommandInfo("mydata", N_("A copy of everything I store about you"), "volunteer"),
    CommandInfo("forgetme", N_("Ask me to delete everything about you"), "volunteer"),
    CommandInfo(
        "mydata",
        N_("With an @username: someone's data, when they ask by phone"),
        "coordinator",
        stand_in=False,
    ),
    CommandInfo(
        "forgetme",
        N_("With an @username: forget someone, when they ask by phone"),
        "coordinator",
        stand_in=False,
    ),
]

ABOUT_EXPORT = N_(
    "This is everything PeerBot has stored about you, in full, for machines; the message "
    'before this file says the same in plain words. "person" is you, and "tables" holds, '
    "part by part, everything that is about you. Times are in UTC (Danish time minus 1 hour, "
    "in summer minus 2). Citizens appear only as the label the coordinator chose."
)
# What each part of the export is, in plain words (GDPR art. 12). A part not named here
# (a new feature) would show its technical name: tests/test_texts.py asks for a name here.
EXPORT_PARTS = {
    "attendance": N_(
        "Whether you came to volunteer meetings (as the coordinator saved it with the minutes)"
    ),
    "cover_asks": N_(
        "Questions whether you would take a match's meetings for a while, and the answers"
    ),
    "match_occurrences": N_("Meetings with a citizen that you moved or cancelled"),
    "match_volunteers": N_("Your places in matches and activities"),
    "meeting_answers": N_("Your answers in the date polls for the volunteer meeting"),
    "outbox": N_("Messages I sent you or am still to send you (what and when, never their text)"),
    "broadcasts": N_("Messages you sent to everyone as the coordinator (never their text)"),
    "coordinator_away": N_("Times the coordinator was away, and who stood in"),
    "minutes": N_("Minutes of volunteer meetings that you wrote"),
    "pending_actions": N_("Questions with buttons that concern you (e.g. a confirmation)"),
    "pauses": N_("Your pauses"),
    "reminder_deliveries": N_("Reminders of your meetings that were sent to you"),
    "reminder_preferences": N_("Your settings for meeting reminders"),
}


def readable_export(data: dict, _: Translate, language: str, tz: object, now: datetime) -> str:
    """The export in plain words: who you are to PeerBot, and how much of each part there is."""
    person = data["person"]
    username = f" (@{person['username']})" if person.get("username") else ""
    lines = [
        _("What I have stored about you, in plain words:"),
        "",
        _("You: {name}{username}, language {language}, in the group since {day}.").format(
            name=person.get("first_name") or "–",
            username=username,
            language=_language_name(person.get("language"), language),
            day=_day(person.get("joined_at"), tz, language, now),
        ),
    ]
    for table, entries in sorted(data["tables"].items()):
        if entries:
            label = _(EXPORT_PARTS[table]) if table in EXPORT_PARTS else table
            lines.append(f"• {label}: {len(entries)}")
    lines += [
        "",
        _("The file {file} holds all of it in full.").format(file=EXPORT_FILENAME),
    ]
    return "\n".join(lines)


def _day(value: str | None, tz: object, language: str, now: datetime) -> str:
    if not value:
        return "–"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_day(moment, tz, language, now=now)


def _command_of(update: Update) -> str:
    """The command as typed ("/forgetme"), for an example (without "@PeerBot")."""
    text = update.effective_message.text if update.effective_message else None
    return (text or "/mydata").split()[0].partition("@")[0]


async def _subject(update: Update, context: PeerContext) -> tuple[Person | None, bool]:
    """Whom the command is about: the sender, or (coordinator only) the person named in the
    argument. Returns (person, on_behalf). Answers the sender itself when there is no one."""
    _ = texts_for(context, update)
    services = context.services
    user = update.effective_user
    assert user is not None
    if context.args:
        if not is_coordinator(context, update):
            await reply(update, _("Sorry, only the coordinator can use that command."))
            return None, True
        person = await rights.find_person_for_coordinator(
            context.session, services.group_id, context.args[0]
        )
        if person is None:
            await reply(
                update,
                _(
                    "I don't know anyone by that name. Use their @username or Telegram id, "
                    "like {command} @name."
                ).format(command=_command_of(update)),
            )
        return person, True
    person = await people.find_person(context.session, services.group_id, user.id)
    if person is None:
        await reply(update, _("I don't store anything about you."))
    elif person.is_member and not await still_in_group(context, person):
        await reply(update, _(NO_LONGER_IN_GROUP))
        return None, False
    return person, False


NO_LONGER_IN_GROUP = N_(
    "You are no longer in the volunteers' group, so I can't show you the group's things any "
    "more. The coordinator can send you everything I store about you."
)


@private_only
async def my_data(update: Update, context: PeerContext) -> None:
    """Send a JSON document with everything stored about the person (articles 15 and 20)."""
    person, on_behalf = await _subject(update, context)
    if person is None:
        return
    _ = texts_for(context, update)
    services = context.services
    data = await rights.export_person(context.session, person.id, services.clock.now())
    language = reply_language(context, update)
    assert update.effective_chat is not None
    await send_private(
        context.bot,
        update.effective_chat.id,
        readable_export(data, _, language, services.tz, services.clock.now()),
    )
    data = {"about": _(ABOUT_EXPORT), **data}
    content = json.dumps(data, ensure_ascii=False, indent=2).encode()
    caption = (
        _("Here is everything I store about this person, as they asked.")
        if on_behalf
        else _("Here is everything I store about you.")
    )
    assert update.effective_chat is not None
    delivery = await send_document_private(
        context.bot,
        update.effective_chat.id,
        document=InputFile(content, filename=EXPORT_FILENAME),
        caption=caption,
    )
    log.info("data export for person %s: %s (%d bytes)", person.id, delivery.outcome, len(content))


class PrivacyAction(StrEnum):
    FORGET = "forget"
    KEEP = "keep"


BUTTONS: Callbacks[PrivacyAction] = Callbacks("privacy", PrivacyAction)


def _confirm_keyboard(_: Translate, token: str) -> InlineKeyboardMarkup:
    return keyboard(
        (_("Yes, delete everything"), BUTTONS.encode(PrivacyAction.FORGET, token)),
        (_("No, keep it"), BUTTONS.encode(PrivacyAction.KEEP)),
    )


@private_only
async def forget_me(update: Update, context: PeerContext) -> None:
    """Ask for confirmation before deleting everything about the person."""
    person, on_behalf = await _subject(update, context)
    if person is None:
        return
    _ = texts_for(context, update)
    if on_behalf:
        question = _(
            "Delete everything I store about {name}? This cannot be undone. The citizens keep "
            "their matches; I will tell you which ones need a new volunteer."
        ).format(name=person.first_name)
    else:
        question = _(
            "Do you want me to delete everything I store about you? Your answers, pauses and "
            "your place on matches are deleted, and this cannot be undone. The coordinator is "
            "told that a volunteer asked to be forgotten, without your name, so your matches "
            "can get a new volunteer. You stay in the Telegram group until you leave it."
        )
    token = await offer_confirmation(
        update, context, confirmations.Kind.FORGET, person_id=person.id
    )
    await reply(update, question, reply_markup=_confirm_keyboard(_, token))


@BUTTONS.route(PrivacyAction.KEEP)
async def on_keep(update: Update, context: PeerContext) -> None:
    query = await acknowledge(update)
    await query.edit_message_text(
        texts_for(context, update)("Good, I have kept everything as it was.")
    )


@BUTTONS.route(PrivacyAction.FORGET, TOKEN)
async def on_forget(update: Update, context: PeerContext, token: str) -> None:
    """ "Yes, delete everything": acts on exactly the person the question named."""
    pending = await take_confirmation(update, context, token, confirmations.Kind.FORGET)
    if pending is None:
        return
    assert update.callback_query is not None and pending.subject_person_id is not None
    await update.callback_query.answer()
    await _forget(update, context, pending.subject_person_id)


async def _forget(update: Update, context: PeerContext, person_id: int) -> None:
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    _ = texts_for(context, update)
    services = context.services
    person = await rows.find_person(context.session, person_id)
    by_coordinator = is_coordinator(context, update)
    own = person is not None and person.telegram_user_id == update.effective_user.id
    if person is None or person.group_id != services.group_id:
        await query.edit_message_text(_("There is nothing left to delete."))
        return
    if not own and not by_coordinator:
        return  # a button from someone else's chat: never act on it
    await services.emit("person_forgetting", context, person=person)
    forgotten = await rights.forget_person(
        context.session, services.group_id, person_id, services.clock.now()
    )
    log.info("forgot person %s: %d rows deleted", person_id, forgotten.deleted_rows)
    # Deleted rows linger in SQLite's write-ahead log until a checkpoint: fold it in now.
    context.after_commit_await(services.db.checkpoint)
    if own:
        await query.edit_message_text(
            _(
                "Done. I have deleted everything I stored about you. If you send /start again, "
                "I will get to know you anew. Take good care of yourself."
            )
        )
    else:
        await query.edit_message_text(_("Done. I have deleted everything I stored about them."))
    if by_coordinator and not own:
        await reply(update, _uncovered_text(_, forgotten.uncovered_labels, told=False))
    labels = forgotten.uncovered_labels
    await tell_coordinators(
        context,
        context.session,
        lambda their, _language: _uncovered_text(their, labels),
        skip=(update.effective_user.id,),
    )


def _uncovered_text(_: Translate, labels: list[str], *, told: bool = True) -> str:
    lines = []
    if told:
        lines.append(
            _(
                "A volunteer has asked to be forgotten, and I have deleted everything I stored "
                "about them."
            )
        )
    if labels:
        lines.append(
            _("Matches that now need a volunteer ({count}): {labels}").format(
                count=len(labels), labels=", ".join(labels)
            )
        )
    elif not told:
        lines.append(_("No match is left without a volunteer."))
    return "\n".join(lines)


async def run_due(context: PeerContext) -> None:
    """The daily retention pass (at most once a day, remembered in the database)."""
    services = context.services
    async with services.db.transaction() as session:
        report = await retention.run_if_due(
            session, services.group_id, services.settings, services.clock.now()
        )
    if report is None:
        return
    done = ", ".join(f"{table} {count}" for table, count in report.deleted.items() if count)
    log.info("retention: deleted %s", done or "nothing")
    if done:
        # As after /forgetme: what was deleted leaves SQLite's write-ahead log now too.
        await services.db.checkpoint()
    if report.uncovered_labels:
        # Someone who left the group was deleted and was the last volunteer on a match.
        labels = report.uncovered_labels

        def render(_: Translate, _language: str) -> str:
            return "\n".join(
                [
                    _(
                        "The data about someone who left the group some time ago has now been "
                        "deleted, as the privacy rules require."
                    ),
                    _uncovered_text(_, labels, told=False),
                ]
            )

        await tell_coordinators(context, None, render)


def register(application: Application, services: Services) -> None:
    application.add_handler(CommandHandler("mydata", my_data))
    application.add_handler(CommandHandler("forgetme", forget_me))
    application.add_handler(CallbackQueryHandler(BUTTONS.dispatch, pattern=BUTTONS.pattern))
