"""The one way out of the bot: the outbox sender, and sending with Telegram's bad days in
mind (who can't be reached, bounded retries, long texts, a group whose id changed).

The sender claims what the outbox (`bot/domain/outbox.py`) says is due, asks the feature
that registered the item's kind whether it is still wanted and what it says, sends it and
records Telegram's answer. It runs as a scheduler pass and whenever a feature kicks it.

Each kind says how it is delivered when it registers: at least once (the default: a claim
left by a process that died is sent again), or at most once (`at_most_once`, broadcast
copies: such a claim is recorded "unknown" and never sent again, the feature reports it);
one item at a time in the scheduler pass (the default), or by `workers` senders side by
side in a background lane of its own (a broadcast to hundreds at Telegram's pace, which
must not hold up the reminders in the pass)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from telegram import Bot, InputFile, Message
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter

from bot.context import PeerContext
from bot.domain import away, outbox, people
from bot.i18n import Translate
from bot.ratelimit import Turn, Turns, retry_seconds
from handlers.group_names import for_whom, named

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.models import Person

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
MAX_RETRY_AFTER_SECONDS = 60.0
# Telegram's limits: longer texts are split here, for every feature, never refused.
MAX_MESSAGE = 4096
MAX_CAPTION = 1024


class Outcome(StrEnum):
    SENT = "sent"
    NOT_STARTED = "not_started"  # never opened a private chat with the bot
    BLOCKED = "blocked"
    FAILED = "failed"
    # An at-most-once item claimed but never answered (its process stopped, or the
    # connection broke mid-send): it may have arrived, so it is not sent again.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    message: Message | None = None

    @property
    def sent(self) -> bool:
        return self.outcome is Outcome.SENT


def classify_forbidden(error: Forbidden) -> Outcome:
    text = str(error).lower()
    if "blocked" in text or "deactivated" in text:
        return Outcome.BLOCKED
    return Outcome.NOT_STARTED


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP is two).
    Counted in C: every message sent is measured, a loop over its characters cost more
    than the rest of sending it."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _fitting(text: str, size: int) -> int:
    """How many characters of `text` fit in `size` UTF-16 code units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > size:
            return index
    return len(text)


def split_text(text: str, size: int = MAX_MESSAGE) -> list[str]:
    """Parts of at most `size` UTF-16 code units (Telegram's measure), cut between
    paragraphs (else at a line end, else a space, else anywhere), so a long list arrives
    whole and readable."""
    parts = []
    # len() first: a character is at least one unit, so only a text within `size`
    # characters is counted (counting the rest of a long text for every part is quadratic).
    while len(text) > size or utf16_len(text) > size:
        limit = _fitting(text, size)
        paragraph = text.rfind("\n\n", 0, limit + 1)
        if paragraph > limit // 2:  # an entry (a match, a person) stays in one message
            parts.append(text[:paragraph])
            text = text[paragraph + 2 :]
            continue
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= limit // 2:
            cut = text.rfind(" ", 0, limit + 1)
        if cut <= limit // 2:
            cut = limit
        parts.append(text[:cut])
        text = text[cut + 1 :] if text[cut] in "\n " else text[cut:]
    return [*parts, text]


async def send_in_parts(send: Any, text: str, **kwargs: Any) -> Any:
    """`send(text, **kwargs)` once per part; buttons go with the last part. Returns what the
    last call returned."""
    parts = split_text(text)
    markup = kwargs.pop("reply_markup", None)
    for part in parts[:-1]:
        await send(part, **kwargs)
    return await send(parts[-1], reply_markup=markup, **kwargs)


async def send_private(bot: Bot, chat_id: int, text: str, **kwargs: Any) -> Delivery:
    """Send a private message (in parts if it is long); retry what is worth retrying, a
    bounded number of times. Once the first part has arrived the text counts as sent (a
    later failure is logged): sending it all again would repeat what arrived."""
    parts = split_text(text)
    markup = kwargs.pop("reply_markup", None)
    delivery = Delivery(Outcome.FAILED)
    for number, part in enumerate(parts, 1):
        extra = {"reply_markup": markup} if number == len(parts) else {}
        attempt = await _with_retries(
            bot.send_message, chat_id=chat_id, text=part, **kwargs, **extra
        )
        if not attempt.sent:
            if number > 1:
                log.warning("part %d of %d of a long message was not sent", number, len(parts))
            return attempt if number == 1 else delivery
        delivery = attempt
    return delivery


async def _with_retries(method: Any, **kwargs: Any) -> Delivery:
    delay = 1.0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return Delivery(Outcome.SENT, await method(**kwargs))
        except Forbidden as error:
            return Delivery(classify_forbidden(error))
        except BadRequest as error:
            if "chat not found" in str(error).lower():
                return Delivery(Outcome.NOT_STARTED)
            log.warning("%s refused: %s", getattr(method, "__name__", "call"), type(error).__name__)
            return Delivery(Outcome.FAILED)
        except RetryAfter as error:
            # The app's rate limiter already waited and retried; this is its last word.
            await asyncio.sleep(min(retry_seconds(error), MAX_RETRY_AFTER_SECONDS))
        except NetworkError as error:  # includes TimedOut; ChatMigrated is handled by callers
            if isinstance(error, ChatMigrated):
                raise
            if attempt == MAX_ATTEMPTS:
                break
            await asyncio.sleep(delay)
            delay *= 2
    return Delivery(Outcome.FAILED)


def remember_outcome(person: Person, delivery: Delivery) -> None:
    """Keep the person's row true to what Telegram said (the caller's session saves it)."""
    if delivery.outcome is Outcome.NOT_STARTED:
        person.started_bot = False
    elif delivery.outcome is Outcome.BLOCKED:
        person.blocked_bot = True


async def send_to_person(
    context: PeerContext, person: Person, text: str, **kwargs: Any
) -> Delivery:
    """Send to a person in private and remember when Telegram says they can't be reached.
    To someone in several groups the first line names the group (`group_names`)."""
    user_id, language = person.telegram_user_id, person.language
    text, kwargs = await named(context, None, user_id, language, text, kwargs)
    delivery = await send_private(context.bot, person.telegram_user_id, text, **kwargs)
    remember_outcome(person, delivery)
    return delivery


async def send_document_private(bot: Bot, chat_id: int, **kwargs: Any) -> Delivery:
    """A document; a caption over Telegram's 1,024 characters goes first as a message."""
    caption = kwargs.get("caption")
    if caption is not None and utf16_len(caption) > MAX_CAPTION:
        protect = {k: v for k, v in kwargs.items() if k == "protect_content"}
        delivery = await send_private(bot, chat_id, kwargs.pop("caption"), **protect)
        if not delivery.sent:
            return delivery
    return await _with_retries(bot.send_document, chat_id=chat_id, **kwargs)


async def send_to_group(context: PeerContext, method: str = "send_message", **kwargs: Any) -> Any:
    """Call a Bot method on the group; follows the group if it became a supergroup."""
    services = context.services
    call = getattr(context.bot, method)
    try:
        return await call(chat_id=services.group_chat_id, **kwargs)
    except ChatMigrated as error:
        await follow_migration(context, error.new_chat_id)
        return await call(chat_id=services.group_chat_id, **kwargs)


async def follow_migration(context: PeerContext, new_chat_id: int) -> None:
    """Store the group's new id (its own transaction: this may happen inside a job)."""
    services = context.services
    if services.group_chat_id == new_chat_id:
        return
    async with services.db.transaction() as session:
        await people.migrate_group(session, services.group_id, new_chat_id)
    services.group_moved(new_chat_id)
    log.info("group row %s was upgraded to a supergroup; following its new id", services.group_id)


# Telling the coordinators -------------------------------------------------------------------


async def coordinator_recipients(
    context: PeerContext, session: AsyncSession | None = None
) -> list[int]:
    """Who gets what the bot tells "the coordinator" now (Telegram ids): each coordinator,
    or during their time away their stand-in (`bot.domain.away`). Every message for the
    coordinators asks this one function. `session`: the caller's, or None for a short one."""
    services = context.services
    now = services.clock.now()
    # The group's coordinators now (bot.domain.groups), each mapped to a stand-in if away.
    if session is not None:
        return await away.recipients_for_coordinator_messages(session, services.group_id, None, now)
    async with services.db.transaction() as own:
        return await away.recipients_for_coordinator_messages(own, services.group_id, None, now)


# `render(_, language)`: the text in one coordinator's language.
Render = Callable[[Translate, str], str]


async def tell_coordinators(
    context: PeerContext,
    session: AsyncSession | None,
    render: Render,
    *,
    skip: Collection[int] = (),
    **kwargs: Any,
) -> int:
    """Tell every coordinator (or their stand-in, `coordinator_recipients`; but `skip`,
    Telegram user ids) now, each in their language, in
    parts when long. Returns how many got it; one who can't be reached is logged (by id) and
    remembered, so the caller can say so. Best effort: what must not be lost across a stop
    is enqueued in the outbox instead (`bot.domain.outbox`, e.g. the pause notices).
    `session`: the caller's transaction, or None to use short ones of its own."""
    services = context.services
    delivered = 0
    for user_id in await coordinator_recipients(context, session):
        if user_id in skip:
            continue
        if session is None:
            async with services.db.transaction() as own:
                coordinator = await people.find_person(own, services.group_id, user_id)
        else:
            coordinator = await people.find_person(session, services.group_id, user_id)
        language = coordinator.language if coordinator else services.language
        text = render(context.texts(language), language)
        text, extra = await named(context, session, user_id, language, text, kwargs)
        delivery = await send_private(context.bot, user_id, text, **extra)
        delivered += delivery.sent
        if delivery.sent:
            continue
        log.warning("coordinator %s not reached: %s", user_id, delivery.outcome.value)
        if coordinator is not None and delivery.outcome is not Outcome.FAILED:
            if session is None:
                async with services.db.transaction() as own:
                    await people.mark_unreachable(
                        own, coordinator.id, blocked=delivery.outcome is Outcome.BLOCKED
                    )
            else:
                remember_outcome(coordinator, delivery)
    return delivered


# The outbox sender ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """What a feature says an outbox item is, rendered at the moment it is sent."""

    chat_id: int
    text: str = ""  # the message, or the caption of `document`
    reply_markup: Any = None
    # Sent as a document: a Telegram file id, or a file made here (e.g. a calendar invitation).
    document: str | InputFile | None = None
    protect_content: bool = False
    # The feature's own way to send it (e.g. a copy of a message) instead of the above.
    send: Callable[[], Awaitable[Outcome]] | None = None
    # Sent just before `send`: the line naming the group to someone in several.
    header: str = ""


class Hold:
    """A feature's answer for an item that must wait (its person is on a pause): it is
    held until `outbox.wake`."""


HOLD = Hold()

# A feature's renderer and "still wanted?" in one: None lets the item go unsent, HOLD
# keeps it back.
Prepare = Callable[
    [PeerContext, "AsyncSession", outbox.Claim, datetime], Awaitable[Outgoing | Hold | None]
]
# Told Telegram's answer, in the transaction that records it.
After = Callable[[PeerContext, "AsyncSession", outbox.Claim, Outcome], Awaitable[None]]


# Whether an item waits while its person is on a pause: True, False, or asked per item
# (e.g. a broadcast the coordinator marked important is not held).
Quiet = Callable[["AsyncSession", outbox.Claim], Awaitable[bool]]


@dataclass(frozen=True)
class OutboxKind:
    prepare: Prepare
    after: After | None = None
    pausable: bool | Quiet = False
    at_most_once: bool = False
    workers: int = 1

    async def held(self, session: AsyncSession, claim: outbox.Claim, now: datetime) -> bool:
        """Kept back now: its person is on a pause and this item waits for its end."""
        if self.pausable is False or claim.person_id is None:  # the group has no pause
            return False
        if await people.current_pause(session, claim.person_id, now) is None:
            return False
        return self.pausable is True or await self.pausable(session, claim)


KINDS = "outbox_kinds"
TOKEN = "outbox_token"
LOCK = "outbox_lock"
# The kicks still sending (the sandbox waits for them, as a person would for the messages).
KICKS = "outbox_kicks"
LANES = "outbox_lanes"  # kinds with a lane running in this process: "look once more"
# Every lane's items in hand (claimed, not recorded) at once: about a second of Telegram's.
TURNS, LANE_SENDS_AT_ONCE = "outbox_turns", 24


def register_kind(
    application: Any,
    kind: str,
    prepare: Prepare,
    after: After | None = None,
    *,
    pausable: bool | Quiet = False,
    at_most_once: bool = False,
    workers: int = 1,
) -> None:
    """A feature says how to send its kind of outbox item (in its `register()`).

    `pausable`: pause means quiet. An item for someone on a pause is held (not sent, not
    dropped) when this is True, or a function of the item that says True (e.g. "not marked
    important"); the pause's end wakes it (`wake_after_pause`, below) and `prepare`, asked
    again then, decides whether it is still wanted (a past meeting's reminder: no; a copy of
    the minutes: yes). Whatever concerns the pause itself is not pausable.
    `at_most_once`: a claim left by a stopped bot is recorded "unknown", never sent again
    (the default is at least once). `workers` > 1: sent side by side in a lane of its own."""
    application.bot_data.setdefault(KINDS, {})[kind] = OutboxKind(
        prepare, after, pausable, at_most_once, workers
    )


def process_token(application: Any) -> str:
    """This process's mark on its claims: a claim with another mark was left by a bot that
    is gone (one instance runs at a time), so it is taken over."""
    token: str = application.bot_data.setdefault(TOKEN, uuid.uuid4().hex)
    return token


async def send_due(context: PeerContext, kinds: Collection[str] | None = None) -> int:
    """Send what the outbox has due (of `kinds`, or every registered kind), one item at a
    time: claimed and committed, sent, recorded. Returns how many were sent here; kinds
    with a lane of their own are handed to it (started if none runs) and not counted."""
    application = context.application
    registered: dict[str, OutboxKind] = application.bot_data.get(KINDS, {})
    wanted = frozenset(kinds if kinds is not None else registered) & frozenset(registered)
    for kind in sorted(k for k in wanted if registered[k].workers > 1):
        kick(application, kind)
    wanted = frozenset(k for k in wanted if registered[k].workers <= 1)
    if not wanted:
        return 0
    # Per group: a kick and the pass never send the same item side by side.
    locks: dict[int, asyncio.Lock] = application.bot_data.setdefault(LOCK, {})
    async with locks.setdefault(context.services.group_id, asyncio.Lock()):
        return await _drain(context, wanted, None)


def kick(application: Any, kind: str) -> None:
    """Send a lane kind's due items now, in the background (e.g. once the transaction
    that enqueued them committed). A lane already running looks once more before it
    stops, so nothing enqueued meanwhile waits for the next pass."""
    if not application.running:  # a stopped bot's next start sends it
        return
    # A lane per group and kind: it claims its group's items (the group of the work that
    # kicked it, inherited by the task), so one group's broadcast never waits for another's.
    lane = (application.bot_data["services"].group_id, kind)
    lanes: dict[tuple[int, str], bool] = application.bot_data.setdefault(LANES, {})
    running = lane in lanes
    lanes[lane] = True
    if not running:
        application.create_task(_lane(application, lane), name=f"outbox lane {kind}")


async def _lane(application: Any, lane: tuple[int, str]) -> None:
    context: PeerContext = application.context_types.context(application=application)
    lanes: dict[tuple[int, str], bool] = application.bot_data[LANES]
    kind = lane[1]
    workers = application.bot_data[KINDS][kind].workers
    claiming = _Claims()  # one claim at a time; the sends go side by side
    turns = application.bot_data.setdefault(TURNS, Turns(LANE_SENDS_AT_ONCE))

    async def sender() -> None:
        async with Turn(turns, lane) as turn:
            await _drain(context, frozenset({kind}), claiming, turn)

    try:
        while application.running and lanes.get(lane):
            lanes[lane] = False
            await asyncio.gather(*(sender() for _ in range(workers)))
    except Exception:
        log.exception("outbox lane %s failed; the next pass continues", kind)
    finally:
        # No await between the last look and this: a kick from now on starts a new lane.
        lanes.pop(lane, None)


class _Claims(asyncio.Lock):
    """A lane's claims, one at a time; `empty`: one found none, the others stop."""

    empty = False


async def _drain(
    context: PeerContext,
    wanted: frozenset[str],
    claiming: _Claims | None,
    turn: Turn | None = None,
) -> int:
    """Claim, send, record `wanted` items till none is due, each in `turn`; returns how many."""
    application = context.application
    registered: dict[str, OutboxKind] = application.bot_data.get(KINDS, {})
    services = context.services
    token = process_token(application)
    sent = 0
    taken: outbox.Claim | None = None
    # A lane stops with the application (the next start continues); the pass finishes.
    while claiming is None or application.running:
        if turn is not None:
            await turn.next()
        now = services.clock.now()
        if claiming is not None:
            # A lane's claim is committed on its own, so the next sender can claim while
            # this one asks the feature (reads, side by side).
            async with claiming:
                if claiming.empty:
                    break
                async with services.db.transaction() as session:
                    taken = await outbox.claim_next(session, services.group_id, now, token, wanted)
                claiming.empty = taken is None
            if taken is None:
                break
        async with services.db.transaction() as session:
            claim = (
                taken
                if claiming is not None
                else await outbox.claim_next(session, services.group_id, now, token, wanted)
            )
            if claim is None:
                break
            kind = registered[claim.kind]
            if await kind.held(session, claim, now):
                await outbox.hold(session, claim.item_id)
                continue
            if claim.retried and kind.at_most_once:
                # It may have arrived before the stop: never twice; the feature reports it.
                await outbox.record(session, claim.item_id, Outcome.UNKNOWN.value, now)
                if kind.after is not None:
                    await kind.after(context, session, claim, Outcome.UNKNOWN)
                continue
            outgoing = await kind.prepare(context, session, claim, now)
            if outgoing is None:
                await outbox.record(session, claim.item_id, outbox.NOT_WANTED, now)
                continue
            if isinstance(outgoing, Hold):
                await outbox.hold(session, claim.item_id)
                continue
            outgoing = await for_whom(context, session, claim, outgoing)
        if claim.retried:
            log.info("outbox item %s: sent again, a stop left its claim", claim.item_id)
        if outgoing.send is not None:
            if outgoing.header:
                await send_private(context.bot, outgoing.chat_id, outgoing.header)
            outcome = await outgoing.send()
        else:
            try:
                delivery = await send_outgoing(context.bot, outgoing)
            except ChatMigrated as error:  # to the group, which became a supergroup
                await follow_migration(context, error.new_chat_id)
                moved = dataclasses.replace(outgoing, chat_id=error.new_chat_id)
                delivery = await send_outgoing(context.bot, moved)
            outcome = delivery.outcome
        async with services.db.transaction() as session:
            await outbox.record(session, claim.item_id, outcome.value, services.clock.now())
            if claim.person_id is not None and outcome in (Outcome.NOT_STARTED, Outcome.BLOCKED):
                await people.mark_unreachable(
                    session, claim.person_id, blocked=outcome is Outcome.BLOCKED
                )
            if kind.after is not None:
                await kind.after(context, session, claim, outcome)
        sent += outcome is Outcome.SENT
    return sent


async def send_outgoing(bot: Bot, outgoing: Outgoing) -> Delivery:
    """One rendered outbox item: a text (in parts if long) or a document with a caption."""
    protect = {"protect_content": True} if outgoing.protect_content else {}
    if outgoing.document is not None:
        return await send_document_private(
            bot,
            outgoing.chat_id,
            document=outgoing.document,
            caption=outgoing.text,
            reply_markup=outgoing.reply_markup,
            **protect,
        )
    return await send_private(
        bot, outgoing.chat_id, outgoing.text, reply_markup=outgoing.reply_markup, **protect
    )


def start_sending(
    application: Any,
    kinds: Collection[str] | None = None,
    then: Callable[[PeerContext], Awaitable[None]] | None = None,
) -> None:
    """Kick the sender in the background (e.g. once an update that enqueued has committed):
    the update answers at once, however many items it promised. `then` runs after it (e.g.
    a report brought up to date)."""

    async def _send() -> None:
        context: PeerContext = application.context_types.context(application=application)
        try:
            await send_due(context, kinds)
            if then is not None:
                await then(context)
        except Exception:  # the scheduler pass picks up whatever is left
            log.exception("the outbox sender stopped early; the next pass continues")

    running: set[asyncio.Task[Any]] = application.bot_data.setdefault(KICKS, set())
    task = application.create_task(_send(), name="outbox kick")
    running.add(task)
    task.add_done_callback(running.discard)


async def wake_after_pause(context: PeerContext, person: Person, **_details: Any) -> None:
    """Pause means quiet, generically: at the end of a person's pause (event `pause_ended`,
    in the pause's own transaction) whatever was held for her is due again, and is sent
    once that has committed; each kind's `prepare` says whether it is still wanted."""
    now = context.services.clock.now()
    try:
        session = context.session
    except RuntimeError:  # not inside an update: a transaction of its own
        async with context.services.db.transaction() as own:
            found = await outbox.wake(own, person.id, now)
        if found:
            start_sending(context.application)
        return
    if await outbox.wake(session, person.id, now):
        application = context.application
        context.after_commit(lambda: start_sending(application))


def register(application: Any, services: Any) -> None:
    """The sender has no handlers; its scheduler pass is `run_due`. It listens for the end
    of a pause (registered last, after the features that wake their own kinds)."""
    services.on("pause_ended", wake_after_pause)


async def run_due(context: PeerContext) -> None:
    """Every registered kind: what is due, and what a stopped bot left claimed."""
    await send_due(context)
