"""`peerbot demo`: a scripted scene in a simulated group, printed as a chat transcript.

No token and no internet: PeerBot's fake Bot API server plays Telegram, the real bot talks
to it over HTTP, and a fresh SQLite database lives in a temporary folder.
"""

from __future__ import annotations

import logging
import tempfile
import textwrap
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.demo_scenes import (
    broadcast,
    cover,
    matches,
    meeting,
    minutes,
    pause,
    privacy,
    welcome,
)
from bot.i18n import format_when
from bot.logging_setup import configure_logging
from bot.sandbox import COPENHAGEN, Cast, Sandbox, sandbox

Scene = Callable[["Demo"], Awaitable[None]]

# Each feature adds its scene here, in the order a month in the group would show them.
SCENES: list[Scene] = [
    welcome.scene,
    meeting.scene,
    minutes.scene,
    pause.scene,
    matches.scene,
    cover.scene,
    broadcast.scene,
    privacy.scene,
]

SHOWN_METHODS = {
    "sendMessage",
    "sendPoll",
    "sendDocument",
    "sendPhoto",
    "copyMessage",
    "editMessageText",
    "stopPoll",
    "deleteMessage",
    "leaveChat",
}


class Demo:
    """Acts as the people of the sandbox and prints what everyone sees."""

    def __init__(self, box: Sandbox, cast: Cast, out: Callable[[str], None] = print) -> None:
        self.box = box
        self.cast = cast
        self.out = out
        self._shown_calls = len(box.fake.calls)
        self._names = {u.id: u.first_name for u in [cast.coordinator, *cast.volunteers]}
        self._names[cast.stranger.id] = cast.stranger.first_name

    # Narration -------------------------------------------------------------------------

    def narrate(self, text: str) -> None:
        self.out("")
        self.out(f"  ~ {text}")

    def chat_name(self, chat_id: int) -> str:
        if chat_id == self.box.services.group_chat_id or chat_id < 0:
            return "Gruppen"
        return f"{self._names.get(chat_id, chat_id)} ↔ PeerBot"

    def _line(self, chat_id: int, speaker: str, text: str) -> None:
        body = textwrap.indent(text, " " * 6).lstrip() if text else ""
        self.out(f"[{self.chat_name(chat_id)}] {speaker}: {body}")

    def flush(self, *, show: bool = True) -> None:
        """Print what the bot did since last time."""
        calls = self.box.fake.calls[self._shown_calls :]
        self._shown_calls = len(self.box.fake.calls)
        if not show:
            return
        for call in calls:
            if call.method not in SHOWN_METHODS or not call.ok:
                continue
            chat_id = int(call.params.get("chat_id", 0))
            self._render(call.method, chat_id, call.params, call.result)

    def _render(self, method: str, chat_id: int, params: dict, result: Any) -> None:
        if method == "sendPoll":
            options = [o["text"] if isinstance(o, dict) else str(o) for o in params["options"]]
            lines = [f"📊 {params['question']}"] + [f"   ☐ {o}" for o in options]
            self._line(chat_id, "PeerBot", "\n".join(lines))
        elif method == "stopPoll":
            self._line(chat_id, "PeerBot", "(closes the poll)")
        elif method == "deleteMessage":
            self._line(chat_id, "PeerBot", f"(deletes message {params.get('message_id')})")
        elif method == "leaveChat":
            self._line(chat_id, "PeerBot", "(leaves the chat)")
        else:
            text = params.get("text") or params.get("caption") or ""
            if method == "sendDocument":
                text = f"📎 {_file_name(result)}\n{text}".rstrip()
            if method == "copyMessage":
                text = "(a copy of the coordinator's message)"
            if method == "editMessageText":
                text = f"(edits a message) {text}"
            if params.get("protect_content"):
                text += "\n🔒 (protected: can't be forwarded or saved)"
            self._line(chat_id, "PeerBot", text + _buttons(params.get("reply_markup")))

    # Acting ----------------------------------------------------------------------------

    async def say(
        self, user: Any, text: str, *, in_group: bool = False, show_reply: bool = True
    ) -> None:
        chat_id = self.box.services.group_chat_id if in_group else user.id
        self.flush()
        self._line(chat_id, user.first_name, text)
        await self.box.say(user, text, in_group=in_group)
        self.flush(show=show_reply)

    async def tap(self, user: Any, message: Any, callback_data: str) -> None:
        label = next(
            (b["text"] for b in message.buttons if b.get("callback_data") == callback_data),
            callback_data,
        )
        self.flush()
        chat_id = int(message["chat"]["id"])
        self._line(chat_id, user.first_name, f"(taps »{label}«)")
        await self.box.tap(user, message, callback_data)
        self.flush()

    async def vote(self, user: Any, poll_id: str, option_ids: list[int], labels: str = "") -> None:
        self.flush()
        group = self.box.services.group_chat_id
        self._line(group, user.first_name, f"(votes {labels or option_ids})")
        await self.box.vote(user, poll_id, option_ids)
        self.flush()

    async def advance_to(self, moment: datetime) -> None:
        self.flush()
        self.out("")
        self.out(f"  ⏰ {format_when(moment, COPENHAGEN, 'da', now=moment)}")
        await self.box.advance_to(moment)
        self.flush()

    async def advance(self, delta: timedelta) -> None:
        await self.advance_to(self.box.clock.now() + delta)

    def last_message_to(self, chat_id: int) -> Any:
        return self.box.fake.last_message_to(chat_id)


def _buttons(markup: Any) -> str:
    if not isinstance(markup, dict):
        return ""
    rows = markup.get("inline_keyboard") or []
    labels = [f"[ {button['text']} ]" for row in rows for button in row]
    return ("\n" + "  ".join(labels)) if labels else ""


def _file_name(result: Any) -> str:
    if isinstance(result, dict):
        return (result.get("document") or {}).get("file_name", "file")
    return "file"


async def run_demo(*, verbose: bool = False, scenes: list[Scene] | None = None) -> int:
    """Play every scene and print the transcript; 0 when all went well."""
    if verbose:
        configure_logging(logging.INFO)
    else:
        configure_logging(logging.WARNING)
    print("PeerBot demo: a simulated volunteers' group on a local Telegram stand-in.")
    print("Everything below is real PeerBot code answering over HTTP; time is simulated.")
    with tempfile.TemporaryDirectory(prefix="peerbot-demo-") as folder:
        start = datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN)
        async with sandbox(Path(folder) / "demo.sqlite3", start) as (box, cast):
            demo = Demo(box, cast)
            demo.flush(show=False)  # the start-up calls (menus) are not part of the scene
            for scene in scenes or SCENES:
                await scene(demo)
            demo.flush()
            problems = box.fake.spec_violations
    print("")
    if problems:
        print(f"The bot broke the Bot API spec {len(problems)} time(s): {problems[:3]}")
        return 1
    print("End of the demo.")
    return 0
