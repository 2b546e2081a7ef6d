"""The Bot API methods about the bot, updates and chats (a mixin of `FakeTelegram`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

from .world import (
    ADMIN_STATUSES,
    JSON,
    ApiError,
    FakeUser,
    _bad,
)


class ChatMethods:
    """getMe, getUpdates, webhooks, commands, getChat, getChatMember, ..."""

    # -- API: bot & updates --------------------------------------------------------------------
    def _get_me(self, p: JSON) -> JSON:
        return {
            **self.bot.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, p: JSON) -> list[JSON]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in p:
            self._set_allowed_updates(p["allowed_updates"], "getUpdates")
        offset = p.get("offset")
        if offset is not None and offset < 0:
            self._queue = self._queue[offset:]  # -N: keep the last N, forget the rest
        elif offset:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        limit = min(max(p.get("limit", 100), 1), 100)
        timeout = max(p.get("timeout", 0), 0)
        # A newer getUpdates terminates an older long poll, as on Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make "
                    "sure that only one bot instance is running",
                )
            batch = self._queue[:limit]
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._closing:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
        self._fetched_ids.update(u["update_id"] for u in batch)
        return batch

    def _set_allowed_updates(self, allowed: list[str], method: str) -> None:
        known = {f for f in self.spec.type_fields("Update") if f != "update_id"}
        unknown = [a for a in allowed if a not in known]
        if unknown:
            self._violation(method, "bad_type", f"unknown update types {unknown}")
            raise _bad(f"unknown update types in allowed_updates: {unknown}")
        self._allowed_updates = list(allowed) or None  # [] means "back to the default"

    def _set_webhook(self, p: JSON) -> bool:
        url = p["url"]
        if not url:
            return self._delete_webhook(p)
        if not url.startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if "allowed_updates" in p:
            self._set_allowed_updates(p["allowed_updates"], "setWebhook")
        if p.get("drop_pending_updates"):
            self._queue.clear()
        # Kept for getWebhookInfo only: the fake does not push updates to webhooks.
        self._webhook = {"url": url, "max_connections": p.get("max_connections", 40)}
        return True

    def _delete_webhook(self, p: JSON) -> bool:
        self._webhook = None
        if p.get("drop_pending_updates"):
            self._queue.clear()
            self._notify()
        return True

    def _get_webhook_info(self, p: JSON) -> JSON:
        info: JSON = {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self._webhook:
            info["max_connections"] = self._webhook["max_connections"]
        if self._allowed_updates is not None:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

    def _scope_key(self, scope: JSON | None) -> str:
        scope = scope or {"type": "default"}
        return json.dumps(scope, sort_keys=True)

    def _set_my_commands(self, p: JSON) -> bool:
        commands = p["commands"]
        if len(commands) > 100:
            raise _bad("too many commands")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (self._scope_key(p.get("scope")), p.get("language_code", ""))
        if commands:
            self.commands_by_scope[key] = [dict(c) for c in commands]
        else:
            self.commands_by_scope.pop(key, None)
        return True

    def _get_my_commands(self, p: JSON) -> list[JSON]:
        return self.commands(p.get("scope"), p.get("language_code", ""))

    def _delete_my_commands(self, p: JSON) -> bool:
        self.commands_by_scope.pop(
            (self._scope_key(p.get("scope")), p.get("language_code", "")), None
        )
        return True

    # -- API: chats ----------------------------------------------------------------------------
    def _get_chat(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"])
        if chat.type != "private":
            self._require_bot_member(chat)
        info: JSON = {
            **chat.to_dict(),
            "accent_color_id": abs(chat.id) % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }
        return info

    def _get_chat_member(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"])
        user_id = p["user_id"]
        if chat.type == "private":
            if user_id not in (chat.id, self.bot.id):
                raise _bad("user not found")
            return self._member_dict(self._user(user_id), "member")
        self._require_bot_member(chat)
        if user_id == self.bot.id:
            return self._member_dict(self.bot, chat.bot_status)
        if user_id not in self.users:
            raise _bad("user not found")
        return self._member_dict(self.users[user_id], chat.members.get(user_id, "left"))

    def _get_chat_administrators(self, p: JSON) -> list[JSON]:
        chat = self._resolve_chat(p["chat_id"])
        if chat.type == "private":
            raise _bad("there are no administrators in the private chat")
        self._require_bot_member(chat)
        admins = [
            self._member_dict(self.users[uid], status)
            for uid, status in chat.members.items()
            if status in ADMIN_STATUSES
            and uid in self.users
            and (p.get("return_bots") or not self.users[uid].is_bot)
        ]
        if chat.bot_status == "administrator":
            admins.append(self._member_dict(self.bot, "administrator"))
        return admins

    def _leave_chat(self, p: JSON) -> bool:
        chat = self._resolve_chat(p["chat_id"])
        if chat.type == "private":
            raise _bad("chat member status can't be changed in private chats")
        self._require_bot_member(chat)
        old, chat.bot_status = chat.bot_status, "left"
        self._queue_my_chat_member(chat, self.bot, old, "left")
        return True

    def _member_dict(self, user: FakeUser, status: str) -> JSON:
        member: JSON = {"status": status, "user": user.to_dict()}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update({"can_be_edited": False, "is_anonymous": False})
            for name in self.spec.required_fields("ChatMemberAdministrator"):
                member.setdefault(name, True)
        elif status == "restricted":
            for name in self.spec.required_fields("ChatMemberRestricted"):
                member.setdefault(name, False)
            member.update({"is_member": True, "until_date": 0})
        elif status == "kicked":
            member["until_date"] = 0
        return member
