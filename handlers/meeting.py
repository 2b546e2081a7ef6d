"""The monthly volunteer meeting: the date poll in the group, the decision, the reminders;
the coordinator's commands and meeting settings; and other polls (`/poll`).

The sending side lives in `handlers.meeting_flow`; the rules in `bot.domain.meeting`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import ClassVar, Literal

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from bot.context import PeerContext, Services
from bot.domain import meeting as domain
from bot.domain import meeting_dates as dates
from bot.domain import people
from bot.i18n import N_, Translate, format_day, ngettext
from handlers import conversation, meeting_messages
from handlers import meeting_decision as decision
from handlers import meeting_flow as flow
from handlers.callbacks import ID, Who, acknowledge, choice, small_int
from handlers.common import (
    CommandInfo,
    coordinator_only,
    group_coordinator_only,
    is_coordinator,
    is_group_member,
    keyboard,
    private_only,
    reply,
    reply_language,
    telegram_person,
    texts_for,
)
from handlers.delivery import send_to_group
from handlers.matches_common import clock, weekday_name
from handlers.meeting_buttons import BUTTONS, MeetingAction
from handlers.settings import Section, add_section

log = logging.getLogger(__name__)

COMMANDS = [
    CommandInfo("meetingpoll", N_("Open the date poll for the volunteer meeting"), "coordinator"),
    CommandInfo("closepoll", N_("Close the open poll now"), "coordinator"),
    CommandInfo("setmeeting", N_("Set or move the volunteer meeting"), "coordinator"),
    CommandInfo("poll", N_("Post a poll in the group"), "coordinator"),
    CommandInfo("meetingsettings", N_("Change a meeting setting"), "coordinator", stand_in=False),
]

POLL_EXAMPLE = N_("/poll Which course would you like? | First aid | Handling conflicts")

# The handler of a setting's new value runs in its own early group so it sees the text
# before other features' text handlers.
SETTING_GROUP = -3


@dataclass(kw_only=True)
class NewSettingValue(conversation.Flow):
    """The coordinator tapped a setting: its new value comes next."""

    step: Literal["value"] = "value"
    key: str  # one of domain.SETTING_KEYS
    restart: ClassVar[str] = "/meetingsettings"


# Per setting key: its Danish name (either name works in /meetingsettings), its label, and
# what the coordinator may type in Danish and in English (the parsers read both).
SETTINGS = {
    "slots": (
        "tider",
        N_("Candidate days and times"),
        "tir 17.00, ons 17.00, tor 16.30",
        "tue 17:00, wed 17:00, thu 16:30",
    ),
    "place": (
        "sted",
        N_("Meeting place"),
        "Frivilligcentret, Stationsvej 3",
        "Volunteer centre, Station Road 3",
    ),
    "count": ("antal", N_("Number of dates in the poll"), "4", "4"),
    "opens": (
        "åbner",
        N_("The poll opens (day of the month before, time)"),
        "15 10.00",
        "15 10:00",
    ),
    "days": ("dage", N_("Days the poll stays open"), "5", "5"),
    "reminders": (
        "påmindelser",
        N_("Reminders (1d@10:00 = the day before at 10:00, 2h = two hours before)"),
        "1d@10.00, 2t",
        "1d@10:00, 2h",
    ),
}
KEY_ALIASES = {**{k: k for k in SETTINGS}, **{v[0]: k for k, v in SETTINGS.items()}}


def setting_name(key: str, language: str) -> str:
    return SETTINGS[key][0] if language == "da" else key


def setting_label(key: str, _: Translate) -> str:
    return _(SETTINGS[key][1])


def setting_example(key: str, language: str) -> str:
    return SETTINGS[key][2 if language == "da" else 3]


def shown_setting(key: str, stored: str, _: Translate, language: str) -> str:
    """A stored setting the way people read it: "tirsdag kl. 17.00, onsdag kl. 17.00"."""
    if not stored:
        return "–"
    try:
        if key == "slots":
            return ", ".join(
                _("{weekday} at {time}").format(
                    weekday=weekday_name(s.weekday, language), time=clock(s.at, language)
                )
                for s in dates.parse_slots(stored)
            )
        if key == "opens":
            opening = dates.parse_poll_opening(stored)
            return _("day {day} of the month before, at {time}").format(
                day=opening.day, time=clock(opening.at, language)
            )
        if key == "reminders":
            return ", ".join(lead_text(lead, _, language) for lead in dates.parse_leads(stored))
    except ValueError:
        return stored
    return stored


def lead_text(lead: dates.Lead, _: Translate, language: str) -> str:
    if lead.at is not None:
        if lead.days == 1:
            return _("the day before at {time}").format(time=clock(lead.at, language))
        return ngettext(
            language, "{count} day before at {time}", "{count} days before at {time}", lead.days
        ).format(count=lead.days, time=clock(lead.at, language))
    minutes = int(lead.before.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        count = minutes // (24 * 60)
        return ngettext(language, "{count} day before", "{count} days before", count).format(
            count=count
        )
    if minutes % 60 == 0:
        count = minutes // 60
        return ngettext(language, "{count} hour before", "{count} hours before", count).format(
            count=count
        )
    return ngettext(language, "{count} minute before", "{count} minutes before", minutes).format(
        count=minutes
    )


def _args_text(update: Update) -> str:
    """What follows the command, as typed."""
    assert update.effective_message is not None
    text = update.effective_message.text or ""
    return text.split(maxsplit=1)[1].strip() if len(text.split(maxsplit=1)) > 1 else ""


def _day(context: PeerContext, update: Update, day: date) -> str:
    """A day as the reader writes it ("tirsdag 30. november 2028"), not ISO."""
    tz = context.services.tz
    noon = datetime.combine(day, time(12), tzinfo=tz)
    language = reply_language(context, update)
    return format_day(noon, tz, language, now=context.services.clock.now())


# The date poll --------------------------------------------------------------------------------


@private_only
@coordinator_only
async def meeting_poll(update: Update, context: PeerContext) -> None:
    """`/meetingpoll` [dates]: open the date poll now."""
    _ = texts_for(context, update)
    services = context.services
    now, tz = services.clock.now(), services.tz
    session = context.session
    if await domain.open_meeting_poll(session, services.group_id) is not None:
        await reply(update, _("A meeting poll is already open. Close it first with /closepoll."))
        return
    config = await flow.load_config(context, session)
    named = _args_text(update)
    if named:
        try:
            candidates = dates.parse_dates(named, tz, now.astimezone(tz).date())
        except ValueError:
            await reply(
                update,
                _("I couldn't read those dates. Please write them like this: {example}").format(
                    example=flow.dates_example(context, reply_language(context, update))
                ),
            )
            return
        if not all(dates.within_allowed_days(c, now, tz) for c in candidates):
            passed = any(c <= now for c in candidates)
            await _too_far(update, context, flow.dates_example, passed=passed)
            return
        if len(candidates) > dates.MAX_CANDIDATES:
            await reply(
                update,
                _("A poll can offer at most {count} dates.").format(count=dates.MAX_CANDIDATES),
            )
            return
    local_now = now.astimezone(tz)
    closes_at = dates.local_moment(
        local_now.date() + timedelta(days=config.poll_days), local_now.time(), tz
    )
    if named:
        # Named dates may come soon: the poll closes an hour before the first at the latest.
        closes_at = max(min(closes_at, candidates[0] - timedelta(hours=1)), now)
    else:
        # Next month's dates from the settings, all after the poll has closed.
        year, month = dates.upcoming_poll_month(now, tz)
        candidates = dates.candidate_dates(year, month, config.slots, config.count, tz, closes_at)
        if not candidates:
            await reply(
                update,
                _(
                    "I found no free dates next month with the current settings. You can name "
                    "dates yourself: {example}"
                ).format(example=flow.dates_example(context, reply_language(context, update))),
            )
            return
    meeting = await flow.open_poll(context, candidates, closes_at, config.place)
    if meeting is None or meeting.status != domain.OPEN:  # refused, or perhaps not posted
        sorry = _("Sorry, something went wrong on my side. Please try again in a moment.")
        await reply(update, sorry)  # (the coordinator was told if it perhaps was)
        return
    await _poll_posted(update, context, closes_at)


async def _poll_posted(update: Update, context: PeerContext, closes_at: datetime) -> None:
    _ = texts_for(context, update)
    when = flow.when(context, closes_at, reply_language(context, update))
    await reply(update, _("The poll is in the group. It closes {when}.").format(when=when))


@private_only
@coordinator_only
async def close_poll(update: Update, context: PeerContext) -> None:
    """`/closepoll`: close the meeting poll now (or else the latest other poll)."""
    _ = texts_for(context, update)
    services = context.services
    meeting = await domain.open_meeting_poll(context.session, services.group_id)
    if meeting is not None and meeting.status == domain.OPEN:
        await decision.close(context, meeting.id)
        await reply(update, _("The poll is closed."))
        return
    others = await domain.open_group_polls(context.session, services.group_id)
    if others:
        await flow.close_group_poll(context, others[0].id)
        await reply(update, _("The poll is closed."))
        return
    await reply(update, _("There is no open poll right now."))


@private_only
@coordinator_only
async def set_meeting(update: Update, context: PeerContext) -> None:
    """`/setmeeting 9.12.2026 17.00`: fix or move the meeting; everyone concerned is told."""
    _ = texts_for(context, update)
    services = context.services
    try:
        today = services.clock.now().astimezone(services.tz).date()
        [starts_at] = dates.parse_dates(_args_text(update), services.tz, today)
    except ValueError:
        await reply(
            update,
            _("Please write the date and time like this: {example}").format(
                example=flow.setmeeting_example(context, reply_language(context, update))
            ),
        )
        return
    now = services.clock.now()
    if not dates.within_allowed_days(starts_at, now, services.tz):
        # Nothing is written before this check: a half-made meeting would later be "moved".
        await _too_far(update, context, flow.setmeeting_example)
        return
    await _choose(update, context, None, starts_at)


async def _too_far(
    update: Update,
    context: PeerContext,
    example: Callable[[PeerContext, str], str],
    *,
    passed: bool = False,
) -> None:
    """A date in the past or more than two years on: refused with the allowed range."""
    _ = texts_for(context, update)
    _first, last = dates.allowed_days(context.services.clock.now(), context.services.tz)
    text = _("Please choose a time from now until {last}, for example {example}.").format(
        last=_day(context, update, last),
        example=example(context, reply_language(context, update)),
    )
    if passed:
        text = _("One of the dates has already passed.") + " " + text
    await reply(update, text)


async def _choose(
    update: Update, context: PeerContext, meeting_id: int | None, starts_at: datetime
) -> None:
    """Fix the meeting (told to everyone concerned) and say so to the coordinator."""
    _ = texts_for(context, update)
    await decision.choose(context, meeting_id, starts_at)
    await reply(
        update,
        _("Done: the volunteer meeting is {when}. I have told the group.").format(
            when=flow.when(context, starts_at, reply_language(context, update))
        ),
    )


@BUTTONS.route(MeetingAction.SETTINGS, who=Who.GROUP_COORDINATOR)
async def on_settings(update: Update, context: PeerContext) -> None:
    await acknowledge(update)
    await show_settings(update, context, texts_for(context, update))


@BUTTONS.route(MeetingAction.EDIT_SETTING, choice(*domain.SETTING_KEYS), who=Who.GROUP_COORDINATOR)
async def on_edit_setting(update: Update, context: PeerContext, key: str) -> None:
    await acknowledge(update)
    await ask_for_setting(update, context, texts_for(context, update), key)


@BUTTONS.route(MeetingAction.CHOOSE, ID, small_int(*range(100)), who=Who.COORDINATOR)
async def on_choose(update: Update, context: PeerContext, meeting_id: int, position: int) -> None:
    """The coordinator picks one of the poll's dates when none got a yes."""
    query = await acknowledge(update)
    option = await domain.option_at(context.session, meeting_id, position)
    if option is None or option.starts_at is None:
        return
    await query.edit_message_reply_markup(None)
    await _choose(update, context, meeting_id, option.starts_at)


async def on_poll_answer(update: Update, context: PeerContext) -> None:
    """Store an answer to the date poll (changed and retracted ones too); only active
    volunteers count."""
    answer = update.poll_answer
    if answer is None or answer.user is None:
        return
    services = context.services
    session, now = context.session, services.clock.now()
    # The meeting, the voter and their pause in one statement: votes come in crowds.
    found = await domain.ballot(session, services.group_id, answer.poll_id, answer.user.id, now)
    if found is None or found.meeting.status != domain.OPEN:
        return
    person = found.person
    if person is None:
        try:
            member = await is_group_member(context, answer.user.id)
        except TelegramError:
            member = False
        if not member:
            return
        person = await people.record_member(  # new here, so on no pause
            session, services.group_id, telegram_person(context, answer.user), now
        )
    if domain.counts_as_volunteer(person, found.paused, flow.coordinators(context)):
        await domain.record_answer(
            session,
            found.meeting,
            person.id,
            list(answer.option_ids),
            now,
            replace=found.answered,  # a first vote (the usual) has nothing to delete
        )


# Other polls ----------------------------------------------------------------------------------


@private_only
@coordinator_only
async def any_poll(update: Update, context: PeerContext) -> None:
    """`/poll [anonymous] Question? | option | option`: a poll in the group; the result
    goes to the coordinator when it closes."""
    _ = texts_for(context, update)
    services = context.services
    text = _args_text(update)
    anonymous = False
    first, _sep, rest = text.partition(" ")
    if first.lower() in ("anonymous", "anonym", "anonymt"):
        anonymous, text = True, rest
    parts = [p.strip() for p in text.split("|")]
    question, options = parts[0], [p for p in parts[1:] if p]
    if not question or not 2 <= len(options) <= 12 or len(question) > 300:
        await reply(
            update,
            _(
                "Please write the poll like this: {example} (2 to 12 options; write anonymous "
                "first for an anonymous poll)."
            ).format(example=_(POLL_EXAMPLE)),
        )
        return
    if any(len(o) > 100 for o in options):
        await reply(update, _("Each option can be at most 100 characters."))
        return
    config = await flow.load_config(context, context.session)
    now = services.clock.now()
    message = await send_to_group(
        context,
        "send_poll",
        question=question,
        options=options,
        is_anonymous=anonymous,
        allows_multiple_answers=True,
    )
    closes_at = now + timedelta(days=config.poll_days)
    await domain.add_group_poll(
        context.session,
        services.group_id,
        poll_id=message.poll.id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        question=question,
        anonymous=anonymous,
        now=now,
        closes_at=closes_at,
    )
    await _poll_posted(update, context, closes_at)


# Settings ------------------------------------------------------------------------------------


async def show_settings(update: Update, context: PeerContext, _: Translate) -> None:
    language = reply_language(context, update)
    values = await domain.setting_values(
        context.session, context.services.group_id, flow.setting_defaults(context)
    )
    lines = [_("Volunteer meeting settings:"), ""]
    for key in domain.SETTING_KEYS:
        shown = shown_setting(key, values[key], _, language)
        # The name to type is quoted, not in parentheses: some labels have their own.
        opening, closing = ("»", "«") if language == "da" else ("“", "”")
        name = f"{opening}{setting_name(key, language)}{closing}"
        lines.append(f"• {setting_label(key, _)} {name}: {shown}")
    lines += [
        "",
        _("Tap a setting to change it, or send for example: {example}").format(
            example=f"/meetingsettings {setting_name('place', language)} "
            f"{setting_example('place', language)}"
        ),
    ]
    buttons = [
        (setting_label(key, _), BUTTONS.encode(MeetingAction.EDIT_SETTING, key))
        for key in domain.SETTING_KEYS
    ]
    await reply(update, "\n".join(lines), reply_markup=keyboard(*buttons))


async def ask_for_setting(update: Update, context: PeerContext, _: Translate, key: str) -> None:
    """ "Send me the new value": the next text the coordinator sends is the value."""
    language = reply_language(context, update)
    values = await domain.setting_values(
        context.session, context.services.group_id, flow.setting_defaults(context)
    )
    conversation.start(context, NewSettingValue, key=key)
    await reply(
        update,
        _("Send me the new value for {setting} (now: {value}). For example: {example}").format(
            setting=setting_label(key, _),
            value=shown_setting(key, values[key], _, language),
            example=setting_example(key, language),
        ),
    )


async def typed_setting(update: Update, context: PeerContext) -> None:
    """The coordinator's answer to "send me the new value" (runs before other features'
    text handlers, and only when a value is awaited)."""
    pending = conversation.get(context, NewSettingValue)
    message = update.effective_message
    if pending is None or message is None or not message.text:
        return
    if not is_coordinator(context, update):
        return
    conversation.finish(context, NewSettingValue)
    if message.text.startswith("/"):
        return  # a command: the coordinator moved on
    await save_setting(update, context, pending.key, message.text, retry=True)
    raise ApplicationHandlerStop


async def save_setting(
    update: Update, context: PeerContext, key: str, value: str, *, retry: bool = False
) -> None:
    _ = texts_for(context, update)
    language = reply_language(context, update)
    try:
        stored = await domain.change_setting(context.session, context.services.group_id, key, value)
    except ValueError:
        if retry:
            conversation.start(context, NewSettingValue, key=key)  # let them try again
            text = _("I couldn't use that value. An example of what works: {example}").format(
                example=setting_example(key, language)
            )
        else:
            text = _("I couldn't use that value. An example of what works: {example}").format(
                example=f"/meetingsettings {setting_name(key, language)} "
                f"{setting_example(key, language)}"
            )
        await reply(update, text)
        return
    await reply(
        update,
        _("Saved: {setting} is now {value}.").format(
            setting=setting_label(key, _), value=shown_setting(key, stored, _, language)
        ),
    )


@private_only
@group_coordinator_only
async def meeting_settings(update: Update, context: PeerContext) -> None:
    """`/meetingsettings` shows the settings; `/meetingsettings <key> <value>` changes one."""
    _ = texts_for(context, update)
    text = _args_text(update)
    if not text:
        await show_settings(update, context, _)
        return
    name, _sep, value = text.partition(" ")
    key = KEY_ALIASES.get(name.lower())
    if key is None:
        language = reply_language(context, update)
        names = ", ".join(setting_name(k, language) for k in domain.SETTING_KEYS)
        await reply(
            update, _("I don't know that setting. These exist: {names}").format(names=names)
        )
        return
    await save_setting(update, context, key, value)


# The scheduler pass --------------------------------------------------------------------------


async def run_due(context: PeerContext) -> None:
    """Open the month's poll, close polls whose time has come (also after downtime), start
    nudge rounds. The poll's post, nudges, reminders and closing the coordinator's other
    polls go out through the outbox (`handlers/meeting_messages.py` registers them)."""
    services = context.services
    now = services.clock.now()
    await flow.open_scheduled_poll(context)
    async with services.db.transaction() as session:
        closing = [m.id for m in await domain.due_closings(session, services.group_id, now)]
    for meeting_id in closing:
        await decision.close(context, meeting_id)
    await meeting_messages.nudge_rounds(context)


def register(application: Application, services: Services) -> None:
    meeting_messages.register(application, services)
    application.add_handler(CommandHandler("meetingpoll", meeting_poll))
    application.add_handler(CommandHandler("closepoll", close_poll))
    application.add_handler(CommandHandler("setmeeting", set_meeting))
    application.add_handler(CommandHandler("poll", any_poll))
    application.add_handler(CommandHandler("meetingsettings", meeting_settings))
    application.add_handler(CallbackQueryHandler(BUTTONS.dispatch, pattern=BUTTONS.pattern))
    application.add_handler(PollAnswerHandler(on_poll_answer))
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT, typed_setting), group=SETTING_GROUP
    )
    add_section(
        services,
        Section(
            N_("Volunteer meeting"), BUTTONS.encode(MeetingAction.SETTINGS), coordinator_only=True
        ),
    )
