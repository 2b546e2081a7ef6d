"""Helpers about chats and people, and the rest (a mixin of `FakeTelegram`)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
import time

from .world import (
    ACTIVE_STATUSES,
    ADMIN_STATUSES,
    DEFAULT_EXCLUDED_UPDATES,
    JSON,
    FakeChat,
    FakeUser,
    SentMessage,
    SpecViolation,
    _bad,
    _forbidden,
    _PollState,
    _StoredMessage,
)


class PeopleHelpers:
    """Finding users and chats, membership updates, queued updates."""

    # -- helpers: chats & people ---------------------------------------------------------------
    def _canonical(self, method: str) -> str:
        canonical = self.spec.canonical_method(method)
        if canonical is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        return canonical

    def _user(self, user: FakeUser | int) -> FakeUser:
        if isinstance(user, FakeUser):
            return user
        if user == self.bot.id:
            return self.bot
        if user not in self.users:
            raise KeyError(f"unknown user {user}; add it with fake.add_user()")
        return self.users[user]

    def _group(self, chat_id: int) -> FakeChat:
        chat = self.chats.get(chat_id)
        if chat is None or chat.type == "private":
            raise KeyError(f"unknown group {chat_id}; add it with fake.add_group()")
        return chat

    def _private_chat(self, user: FakeUser) -> FakeChat:
        chat = self.chats.get(user.id)
        if chat is None:
            chat = FakeChat(
                user.id,
                "private",
                username=user.username,
                first_name=user.first_name,
                last_name=user.last_name,
            )
            self.chats[user.id] = chat
        return chat

    def _chat_any(self, chat_id: int) -> FakeChat:
        if chat_id in self.chats:
            return self.chats[chat_id]
        return self._private_chat(self._user(chat_id))

    def _resolve_chat(self, chat_ref: int | str, *, for_send: bool = False) -> FakeChat:
        """The chat a bot request names, with Telegram's errors for missing/migrated chats."""
        if isinstance(chat_ref, str):
            name = chat_ref.lstrip("@").lower()
            chat = next(
                (
                    c
                    for c in self.chats.values()
                    if c.type != "private" and (c.username or "").lower() == name
                ),
                None,
            )
            if chat is None:
                raise _bad("chat not found")
        elif chat_ref in self.chats:
            chat = self.chats[chat_ref]
        elif chat_ref in self.users and chat_ref != self.bot.id:
            chat = self._private_chat(self.users[chat_ref])
        else:
            raise _bad("chat not found")
        if chat.migrated_to is not None:
            raise _bad(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if for_send:
            if chat.type == "private":
                user = self.users[chat.id]
                if user.is_bot:
                    raise _forbidden("bot can't send messages to bots")
                if user.blocked:
                    raise _forbidden("bot was blocked by the user")
                if not user.started:
                    raise _forbidden("bot can't initiate conversation with a user")
            else:
                self._require_bot_member(chat)
        return chat

    def _require_bot_member(self, chat: FakeChat) -> None:
        if chat.bot_status == "kicked":
            raise _forbidden(f"bot was kicked from the {chat.kind} chat")
        if chat.bot_status not in ACTIVE_STATUSES:
            raise _forbidden(f"bot is not a member of the {chat.kind} chat")

    def _chat_for_person(self, user: FakeUser, chat_id: int) -> FakeChat:
        if chat_id == user.id:
            if user.blocked:
                self.unblock(user)  # writing to the bot again means restarting it
            user.started = True
            return self._private_chat(user)
        chat = self._group(chat_id)
        if chat.migrated_to is not None:
            raise ValueError(f"group {chat_id} was migrated to {chat.migrated_to}")
        if chat.members.get(user.id) not in ACTIVE_STATUSES:
            raise ValueError(f"user {user.id} is not a member of {chat_id}; use fake.join()")
        return chat

    def _person_message(
        self,
        sender: FakeUser,
        chat: FakeChat,
        content: JSON,
        *,
        reply_to: int | JSON | SentMessage | None = None,
    ) -> JSON:
        message: JSON = {
            "message_id": chat.take_message_id(),
            "from": sender.to_dict(),
            "chat": chat.to_dict(),
            "date": self._date(),
        }
        if reply_to is not None:
            mid = (
                reply_to
                if isinstance(reply_to, int)
                else (
                    reply_to.message_id
                    if isinstance(reply_to, SentMessage)
                    else reply_to["message_id"]
                )
            )
            target = chat.messages.get(mid)
            if target is None or target.deleted:
                raise ValueError(f"no message {mid} in chat {chat.id} to reply to")
            message["reply_to_message"] = {
                k: v for k, v in target.message.items() if k != "reply_to_message"
            }
        message.update(content)
        chat.messages[message["message_id"]] = _StoredMessage(message, sender.id)
        if self._bot_sees(chat, message):
            self._queue_update("message", message)
        return copy.deepcopy(message)

    def _service_message(self, chat: FakeChat, actor: FakeUser | None, content: JSON) -> JSON:
        message: JSON = {"message_id": chat.take_message_id()}
        if actor is not None:
            message["from"] = actor.to_dict()
        message.update({"chat": chat.to_dict(), "date": self._date(), **content})
        chat.messages[message["message_id"]] = _StoredMessage(message, actor.id if actor else None)
        if chat.bot_status in ACTIVE_STATUSES:
            self._queue_update("message", message)
        return copy.deepcopy(message)

    def _bot_sees(self, chat: FakeChat, message: JSON) -> bool:
        """Telegram's privacy mode: what a group message reaches the bot."""
        if chat.type == "private":
            return True
        if chat.bot_status not in ACTIVE_STATUSES:
            return False
        if not self.privacy_mode or chat.bot_status in ADMIN_STATUSES:
            return True
        reply = message.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == self.bot.id:
            return True
        text = message.get("text") or message.get("caption") or ""
        command = re.match(r"/[A-Za-z0-9_]+(?:@([A-Za-z0-9_]+))?", text)
        if command:
            mention = command.group(1)
            return mention is None or mention.lower() == (self.bot.username or "").lower()
        return False

    def _queue_chat_member(
        self, chat: FakeChat, user: FakeUser, old: str, new: str, *, actor: FakeUser
    ) -> JSON | None:
        # Telegram sends chat_member updates only to bots that administer the chat.
        if chat.bot_status not in ADMIN_STATUSES:
            return None
        return self._queue_update("chat_member", self._member_update(chat, actor, user, old, new))

    def _queue_my_chat_member(
        self, chat: FakeChat, actor: FakeUser, old: str, new: str
    ) -> JSON | None:
        return self._queue_update(
            "my_chat_member", self._member_update(chat, actor, self.bot, old, new)
        )

    def _member_update(
        self, chat: FakeChat, actor: FakeUser, user: FakeUser, old: str, new: str
    ) -> JSON:
        return {
            "chat": chat.to_dict(),
            "from": actor.to_dict(),
            "date": self._date(),
            "old_chat_member": self._member_dict(user, old),
            "new_chat_member": self._member_dict(user, new),
        }

    def _queue_update(self, kind: str, payload: JSON) -> JSON | None:
        """Queue an update unless the sticky allowed_updates filter excludes its kind
        (Telegram filters when the update is created, not when it is fetched)."""
        if self._allowed_updates is None:
            allowed = kind not in DEFAULT_EXCLUDED_UPDATES
        else:
            allowed = kind in self._allowed_updates
        if not allowed:
            self.dropped_updates.append((kind, copy.deepcopy(payload)))
            return None
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self._queue.append(update)
        self.updates.append(copy.deepcopy(update))
        self._notify()
        return update

    def _expire_poll(self, state: _PollState) -> None:
        close_date = state.poll.get("close_date")
        if close_date and self._now() >= close_date and not state.poll["is_closed"]:
            state.poll["is_closed"] = True

    # -- misc ----------------------------------------------------------------------------------
    def _violation(self, method: str, kind: str, detail: str) -> None:
        self.spec_violations.append(SpecViolation(method, kind, detail))

    def _date(self) -> int:
        return int(self._now())

    def _next_counter(self) -> int:
        self._counter += 1
        return self._counter

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def _notify(self) -> None:
        """Wake every waiter (long polls, wait_for, wait_until_idle); they re-check state."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _sleep(self, delay: float) -> None:
        if self._closed_event is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed_event.wait(), delay)
