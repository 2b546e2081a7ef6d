"""Typed conversation state: what the bot is waiting for from one person in the private chat.

Every flow that asks a question and waits for the answer (a label, a date, a new weekday)
keeps its state in one dataclass, a subclass of `Flow`, with a `step` and typed fields (a
date is a `date`). A person has at most ONE flow at a time, in one slot of their
`user_data`: starting a flow ends whatever other flow was waiting, so the last question
the bot asked is the one a typed answer goes to, and no feature needs to know another
feature's keys.

A flow lives `lifetime` after its last step (memory only: a restart forgets it). An
abandoned flow never takes the person's next message: `get` and `AwaitingText` ignore it.
The scheduler pass (`run_due`) drops the state of abandoned flows, which may hold typed
text, and keeps only a marker with the command to start again; the first private text the
person types in the day after that gets one kind line ("it's been a while, I let the
question go: send /match to start again") instead of "I didn't understand". Commands pass
untouched: someone who moved on is not told about the old question.

Beside the flow, in slots of their own: the group someone in several groups chose for the
conversation (`bot.context.ChosenGroup`: it holds through several flows, one after the
other, and lapses after hours of silence) and the command that waits for that choice
(handlers/group_choice.py). The sweep forgets both when they lapse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, TypeVar

from telegram import Message, Update
from telegram.ext import ApplicationHandlerStop, MessageHandler, filters
from telegram.ext.filters import MessageFilter

from bot.context import CHOSEN_GROUP, FLOW_SLOT, ChosenGroup, chosen_group, current_group
from bot.i18n import N_
from handlers.common import reply, texts_for

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from telegram.ext import Application

    from bot.context import PeerContext, Services

SLOT = FLOW_SLOT  # bot.app reads a live flow's group from it
# How long after a flow was abandoned its marker still explains a late answer; after
# that a text is just a text.
NOTE_WINDOW = timedelta(hours=24)

EXPIRED_NOTE = N_(
    "It has been a while since my question, so I have let it go and not used what you "
    "wrote. Send {command} to start again."
)


@dataclass(kw_only=True)
class Flow:
    """The state of one conversation. Subclasses add a `step` default and typed fields,
    and set `restart` (the command that starts it again) and, if not two hours,
    `lifetime`."""

    step: str
    started_at: datetime
    touched_at: datetime
    # The group the flow is about (the update's that started it): a typed answer from
    # someone in several groups goes to it (`bot.app.group_of_update`).
    group_id: int | None = None

    restart: ClassVar[str] = "/help"
    lifetime: ClassVar[timedelta] = timedelta(hours=2)

    def expired(self, now: datetime) -> bool:
        return now - self.touched_at > self.lifetime


@dataclass(frozen=True)
class Abandoned:
    """What is left of a flow after the sweep: no state, only how to start again."""

    restart: str
    expired_at: datetime


F = TypeVar("F", bound=Flow)


def _now(context: PeerContext) -> datetime:
    return context.services.clock.now()


def start(context: PeerContext, flow_type: type[F], **fields: object) -> F:
    """Begin a flow (ending any other one of this person) and return its state."""
    assert context.user_data is not None, "flows live in a private chat with a person"
    now = _now(context)
    scope = current_group.get()
    fields.setdefault("group_id", scope.id if scope is not None else None)
    flow = flow_type(started_at=now, touched_at=now, **fields)  # type: ignore[arg-type]
    context.user_data[SLOT] = flow
    return flow


def get(context: PeerContext, flow_type: type[F], *steps: str) -> F | None:
    """This person's flow if it is a `flow_type` (at one of `steps`, if given) and not
    abandoned; an answer to it counts as activity, so its lifetime starts again."""
    data = context.user_data
    flow = data.get(SLOT) if data is not None else None
    if not isinstance(flow, flow_type) or (steps and flow.step not in steps):
        return None
    now = _now(context)
    if flow.expired(now):
        return None
    flow.touched_at = now
    return flow


def finish(context: PeerContext, flow_type: type[Flow] | None = None) -> None:
    """End this person's flow (only if it is a `flow_type`, when given)."""
    data = context.user_data
    if data is None:
        return
    if flow_type is None or isinstance(data.get(SLOT), flow_type):
        data.pop(SLOT, None)


# The command waiting for someone in several groups to choose one (memory only).
WAITING_COMMAND = "waiting_for_group"
# A command older than this is not carried on after a late choice: it is sent again.
COMMAND_WAITS = timedelta(hours=1)


def live_flow(context: PeerContext) -> bool:
    """Whether a flow of this person waits for an answer now."""
    held = context.user_data.get(SLOT) if context.user_data is not None else None
    return isinstance(held, Flow) and not held.expired(_now(context))


def chosen(context: PeerContext) -> ChosenGroup | None:
    """The group this person chose for the conversation, if the choice is still live."""
    return chosen_group(context.user_data, _now(context))


def choose_group(context: PeerContext, group_id: int) -> None:
    """Remember the group this person chose, for the conversation."""
    assert context.user_data is not None, "a choice lives in a private chat with a person"
    context.user_data[CHOSEN_GROUP] = ChosenGroup(group_id, _now(context))


def hold_command(context: PeerContext, update: Update) -> None:
    """Keep a command until the person has chosen its group (one at a time)."""
    assert context.user_data is not None
    context.user_data[WAITING_COMMAND] = (update, _now(context))


def take_command(context: PeerContext) -> Update | None:
    """The command waiting for the choice, if it is recent enough; it waits no more."""
    held = context.user_data.pop(WAITING_COMMAND, None) if context.user_data else None
    return _waiting(held, _now(context))


def _waiting(held: object, now: datetime) -> Update | None:
    if not isinstance(held, tuple) or len(held) != 2:
        return None
    update, held_at = held
    if not isinstance(update, Update) or now - held_at > COMMAND_WAITS:
        return None
    return update


def _services(application: Application) -> Services:
    return application.bot_data["services"]


def current(application: Application, user_id: int) -> Flow | Abandoned | None:
    """What the slot of this Telegram user holds, as it is (for filters and tests)."""
    data = application.user_data.get(user_id)
    return data.get(SLOT) if data is not None else None


def sweep(application: Application, now: datetime) -> int:
    """Drop the state of every abandoned flow (keeping a marker for the kind note) and
    forget markers older than `NOTE_WINDOW`, lapsed group choices and commands that waited
    for one too long. Returns how many flows were dropped."""
    dropped = 0
    for data in list(application.user_data.values()):
        if CHOSEN_GROUP in data and chosen_group(data, now) is None:
            data.pop(CHOSEN_GROUP, None)
        if WAITING_COMMAND in data and _waiting(data[WAITING_COMMAND], now) is None:
            data.pop(WAITING_COMMAND, None)
        held = data.get(SLOT)
        if isinstance(held, Flow) and held.expired(now):
            data[SLOT] = Abandoned(held.restart, now)
            dropped += 1
        elif isinstance(held, Abandoned) and now - held.expired_at > NOTE_WINDOW:
            data.pop(SLOT, None)
    return dropped


# The sweep looks at every conversation in memory, whatever the group.
RUN_DUE_FOR_ALL_GROUPS = True


async def run_due(context: PeerContext) -> None:
    """The scheduler pass: abandoned flows hold what people typed; don't keep it."""
    sweep(context.application, _now(context))


class AwaitingText(MessageFilter):
    """Private texts that answer the live flow of their sender: the flow is one of
    `waiting` and at one of the steps given for it (all steps when None)."""

    def __init__(
        self, application: Application, waiting: Mapping[type[Flow], Collection[str] | None]
    ) -> None:
        super().__init__(name=f"AwaitingText({', '.join(t.__name__ for t in waiting)})")
        self.application = application
        self.waiting = dict(waiting)

    def filter(self, message: Message) -> bool:
        user = message.from_user
        if user is None or message.chat.type != "private":
            return False
        flow = current(self.application, user.id)
        if not isinstance(flow, Flow) or flow.expired(_services(self.application).clock.now()):
            return False
        for flow_type, steps in self.waiting.items():
            if isinstance(flow, flow_type):
                return steps is None or flow.step in steps
        return False


class _LateAnswer(MessageFilter):
    """A private text from someone whose flow was abandoned (swept or not yet)."""

    def __init__(self, application: Application) -> None:
        super().__init__(name="LateAnswer")
        self.application = application

    def filter(self, message: Message) -> bool:
        user = message.from_user
        if user is None or message.chat.type != "private":
            return False
        held = current(self.application, user.id)
        if isinstance(held, Abandoned):
            return True
        return isinstance(held, Flow) and held.expired(_services(self.application).clock.now())


async def on_late_answer(update: Update, context: PeerContext) -> None:
    """One kind line instead of the answer being used or "I didn't understand"."""
    assert context.user_data is not None
    held = context.user_data.pop(SLOT, None)
    restart = held.restart if isinstance(held, Flow | Abandoned) else Flow.restart
    _ = texts_for(context, update)
    await reply(update, _(EXPIRED_NOTE).format(command=restart))
    raise ApplicationHandlerStop  # the text was meant for the old question: nobody else


async def on_command(update: Update, context: PeerContext) -> None:
    """A command after an abandoned flow: the person moved on; forget it quietly."""
    held = context.user_data.get(SLOT) if context.user_data is not None else None
    if isinstance(held, Abandoned) or (isinstance(held, Flow) and held.expired(_now(context))):
        context.user_data.pop(SLOT, None)  # type: ignore[union-attr]


# Before every feature's handlers, the early ones included (meeting settings: -3, minutes:
# -1), so an abandoned flow is explained once and never reaches a feature's text handler
# or the fallback. A group of its own: in a shared one, taking a command here would keep
# it from the other handler of that group.
GROUP = -4


def register(application: Application, services: Services) -> None:
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE
            & (filters.TEXT | filters.Document.ALL)
            & ~filters.COMMAND
            & _LateAnswer(application),
            on_late_answer,
        ),
        group=GROUP,
    )
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.COMMAND, on_command), group=GROUP
    )
