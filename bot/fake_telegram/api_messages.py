"""The Bot API methods that send, edit and delete messages, with their helpers (a mixin of
`FakeTelegram`)."""

from __future__ import annotations

import copy
import mimetypes
import re
import time

from .formatting import EntityParseError, parse, strip, utf16_len
from .spec import UploadedFile
from .world import (
    _CALLBACK_TOO_OLD,
    _NOT_MODIFIED,
    ADMIN_STATUSES,
    JSON,
    MAX_DOWNLOAD_SIZE,
    FakeChat,
    SentMessage,
    StoredFile,
    _bad,
    _PollState,
    _StoredMessage,
)


class MessageMethods:
    """sendMessage, sendPoll, editMessageText, answerCallbackQuery, ..."""

    # -- API: messages -------------------------------------------------------------------------
    def _send_message(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"], for_send=True)
        text, entities = self._formatted(p["text"], p.get("parse_mode"), p.get("entities"))
        if not text.strip():
            raise _bad("message text is empty")
        if utf16_len(text) > 4096:
            raise _bad("message is too long")
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        if p.get("link_preview_options"):
            content["link_preview_options"] = p["link_preview_options"]
        return self._bot_message(chat, "sendMessage", p, content)

    def _send_chat_action(self, p: JSON) -> bool:
        self._resolve_chat(p["chat_id"], for_send=True)
        return True

    def _send_poll(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"], for_send=True)
        question = p["question"]
        if not 1 <= len(question) <= 300:
            raise _bad("poll question length must be 1-300 characters")
        options = [o if isinstance(o, str) else o.get("text", "") for o in p["options"]]
        if len(options) < 2:
            raise _bad("poll must have at least 2 option")
        if len(options) > 12:
            raise _bad("poll can't have more than 12 options")
        if any(not 1 <= len(o) <= 100 for o in options):
            raise _bad("poll options length must not exceed 100")
        poll_type = p.get("type", "regular")
        if poll_type not in ("regular", "quiz"):
            raise _bad("wrong poll type specified")
        poll_id = str(5_000_000_000_000_000_000 + self._next_counter())
        poll: JSON = {
            "id": poll_id,
            "question": question,
            "options": [
                {"persistent_id": str(i), "text": text, "voter_count": 0}
                for i, text in enumerate(options)
            ],
            "total_voter_count": 0,
            "is_closed": bool(p.get("is_closed", False)),
            "is_anonymous": p.get("is_anonymous", True),  # Telegram's default is anonymous
            "type": poll_type,
            "allows_multiple_answers": bool(p.get("allows_multiple_answers", False)),
            "allows_revoting": p.get("allows_revoting", poll_type == "regular"),
            "members_only": bool(p.get("members_only", False)),
        }
        if poll_type == "quiz":
            correct = p.get("correct_option_ids")
            if not correct or any(not 0 <= i < len(options) for i in correct):
                raise _bad("wrong correct option ids specified for quiz")
            poll["correct_option_ids"] = correct
        for key in ("explanation", "open_period", "close_date", "description"):
            if key in p:
                poll[key] = p[key]
        if "open_period" in p and "close_date" not in p:
            poll["close_date"] = self._date() + int(p["open_period"])
        message = self._bot_message(chat, "sendPoll", p, {"poll": poll})
        self.polls[poll_id] = _PollState(poll, chat.id, message["message_id"])
        return message

    def _stop_poll(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"], for_send=True)
        stored = chat.messages.get(p["message_id"])
        if stored is None or stored.deleted or "poll" not in stored.message:
            raise _bad("message with poll to stop not found")
        if stored.sender_id != self.bot.id:
            raise _bad("poll can't be stopped")
        poll = stored.message["poll"]
        if poll["is_closed"]:
            raise _bad("poll has already been closed")
        poll["is_closed"] = True
        if "reply_markup" in p:
            self._set_markup(stored, p["reply_markup"])
        self._queue_update("poll", poll)
        return poll

    def _send_document(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"], for_send=True)
        stored = self._file_param(p["document"], "documents")
        content: JSON = {"document": self._document_dict(stored)}
        content.update(self._caption(p))
        return self._bot_message(chat, "sendDocument", p, content)

    def _send_photo(self, p: JSON) -> JSON:
        chat = self._resolve_chat(p["chat_id"], for_send=True)
        stored = self._file_param(p["photo"], "photos")
        sizes = [(90, 67), (320, 240), (800, 600)]
        content: JSON = {
            "photo": [
                {
                    "file_id": f"{stored.file_id}-{w}",
                    "file_unique_id": f"{stored.file_unique_id}{w}",
                    "width": w,
                    "height": h,
                    "file_size": stored.size * w // 800,
                }
                for w, h in sizes[:-1]
            ]
            + [
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": 800,
                    "height": 600,
                    "file_size": stored.size,
                }
            ],
        }
        content.update(self._caption(p))
        return self._bot_message(chat, "sendPhoto", p, content)

    def _copy_message(self, p: JSON) -> JSON:
        source = self._source_message(p, "copy")
        target = self._resolve_chat(p["chat_id"], for_send=True)
        content = {
            k: copy.deepcopy(v)
            for k, v in source.message.items()
            if k
            in (
                "text",
                "entities",
                "document",
                "photo",
                "caption",
                "caption_entities",
                "link_preview_options",
            )
        }
        if "poll" in source.message:
            old = source.message["poll"]
            content["poll"] = {
                **copy.deepcopy(old),
                "id": str(5_000_000_000_000_000_000 + self._next_counter()),
                "total_voter_count": 0,
                "is_closed": False,
            }
            for option in content["poll"]["options"]:
                option["voter_count"] = 0
        if not content:
            raise _bad("message can't be copied")
        if "caption" in p:
            content.pop("caption_entities", None)
            content.update(self._caption(p))
        message = self._bot_message(target, "copyMessage", p, content)
        if "poll" in content:
            poll = message["poll"]
            self.polls[poll["id"]] = _PollState(poll, target.id, message["message_id"])
        return {"message_id": message["message_id"]}

    def _forward_message(self, p: JSON) -> JSON:
        source = self._source_message(p, "forward")
        target = self._resolve_chat(p["chat_id"], for_send=True)
        content = {
            k: copy.deepcopy(v)
            for k, v in source.message.items()
            if k in ("text", "entities", "document", "photo", "caption", "caption_entities", "poll")
        }
        if not content:
            raise _bad("message can't be forwarded")
        original = source.message
        origin: JSON
        if "from" in original:
            origin = {"type": "user", "date": original["date"], "sender_user": original["from"]}
        else:
            origin = {"type": "chat", "date": original["date"], "sender_chat": original["chat"]}
        content["forward_origin"] = origin
        return self._bot_message(target, "forwardMessage", p, content)

    def _source_message(self, p: JSON, verb: str) -> _StoredMessage:
        chat = self._resolve_chat(p["from_chat_id"])
        if chat.type != "private":
            self._require_bot_member(chat)
        stored = chat.messages.get(p["message_id"])
        if stored is None or stored.deleted:
            raise _bad(f"message to {verb} not found")
        if stored.message.get("has_protected_content"):
            raise _bad(f"message can't be {'copied' if verb == 'copy' else 'forwarded'}")
        return stored

    def _edit_target(self, p: JSON) -> _StoredMessage:
        if "inline_message_id" in p:
            raise _bad("inline messages are not supported by FakeTelegram")
        if "chat_id" not in p or "message_id" not in p:
            raise _bad("message identifier is not specified")
        chat = self._resolve_chat(p["chat_id"], for_send=True)
        stored = chat.messages.get(p["message_id"])
        if stored is None or stored.deleted:
            raise _bad("message to edit not found")
        if stored.sender_id != self.bot.id:
            raise _bad("message can't be edited")
        return stored

    def _edit_message_text(self, p: JSON) -> JSON:
        stored = self._edit_target(p)
        message = stored.message
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        if "text" not in p:
            raise _bad("text must be non-empty")
        text, entities = self._formatted(p["text"], p.get("parse_mode"), p.get("entities"))
        if not text.strip():
            raise _bad("text must be non-empty")
        if utf16_len(text) > 4096:
            raise _bad("message is too long")
        markup = p.get("reply_markup")  # omitting it removes the inline keyboard
        if (
            text == message["text"]
            and entities == message.get("entities", [])
            and self._inline_markup(markup) == message.get("reply_markup")
        ):
            raise _bad(_NOT_MODIFIED)
        self._remember_edit(stored)
        message["text"] = text
        message.pop("entities", None)
        if entities:
            message["entities"] = entities
        self._set_markup(stored, markup)
        message["edit_date"] = self._date()
        return message

    def _edit_message_reply_markup(self, p: JSON) -> JSON:
        stored = self._edit_target(p)
        markup = p.get("reply_markup")
        if self._inline_markup(markup) == stored.message.get("reply_markup"):
            raise _bad(_NOT_MODIFIED)
        self._remember_edit(stored)
        self._set_markup(stored, markup)
        stored.message["edit_date"] = self._date()
        return stored.message

    def _remember_edit(self, stored: _StoredMessage) -> None:
        sent = self._sent_record(stored)
        if sent is not None:
            sent.edits.append(copy.deepcopy(stored.message))

    def _answer_callback_query(self, p: JSON) -> bool:
        query_id = p["callback_query_id"]
        entry = self._callback_queries.get(query_id)
        if (
            entry is None
            or query_id in self.callback_answers
            or time.monotonic() - entry[1] > self.callback_query_ttl
        ):
            raise _bad(_CALLBACK_TOO_OLD)
        if len(p.get("text", "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = dict(p)
        return True

    def _delete_message(self, p: JSON) -> bool:
        chat = self._resolve_chat(p["chat_id"])
        if chat.type != "private":
            self._require_bot_member(chat)
        stored = chat.messages.get(p["message_id"])
        if stored is None or stored.deleted:
            raise _bad("message to delete not found")
        own = stored.sender_id == self.bot.id
        # Bots may delete their own messages, incoming ones in private chats, and anything in
        # groups where they are administrators.
        if not own and chat.type != "private" and chat.bot_status not in ADMIN_STATUSES:
            raise _bad("message can't be deleted")
        stored.deleted = True
        sent = self._sent_record(stored)
        if sent is not None:
            sent.deleted = True
        return True

    def _get_file(self, p: JSON) -> JSON:
        stored = self.files.get(p["file_id"])
        if stored is None:
            raise _bad("invalid file_id")
        if stored.size > MAX_DOWNLOAD_SIZE:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    # -- helpers: messages ---------------------------------------------------------------------
    def _formatted(
        self, text: str, parse_mode: str | None, entities: list[JSON] | None
    ) -> tuple[str, list[JSON]]:
        if entities is not None:  # explicit entities win over parse_mode, as on Telegram
            plain, parsed = text, entities
        else:
            try:
                plain, parsed = parse(text, parse_mode)
            except EntityParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from exc
        plain, parsed = strip(plain, parsed)
        return plain, [self._fill_mention(e) for e in parsed]

    def _fill_mention(self, entity: JSON) -> JSON:
        user = entity.get("user")
        if entity.get("type") == "text_mention" and user and user.get("id") in self.users:
            return {**entity, "user": self.users[user["id"]].to_dict()}
        return entity

    def _caption(self, p: JSON) -> JSON:
        if not p.get("caption"):
            return {}
        text, entities = self._formatted(
            p["caption"], p.get("parse_mode"), p.get("caption_entities")
        )
        if utf16_len(text) > 1024:
            raise _bad("message caption is too long")
        out: JSON = {"caption": text}
        if entities:
            out["caption_entities"] = entities
        return out

    def _inline_markup(self, markup: JSON | None) -> JSON | None:
        if not markup or "inline_keyboard" not in markup:
            return None
        for row in markup["inline_keyboard"]:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")
                if set(button) <= {"text"}:
                    raise _bad(
                        "can't parse inline keyboard button: Text buttons are unallowed "
                        "in the inline keyboard"
                    )
        return markup

    def _set_markup(self, stored: _StoredMessage, markup: JSON | None) -> None:
        inline = self._inline_markup(markup)
        if inline and any(row for row in inline["inline_keyboard"]):
            stored.message["reply_markup"] = inline
        else:
            stored.message.pop("reply_markup", None)

    def _bot_message(self, chat: FakeChat, method: str, p: JSON, content: JSON) -> JSON:
        markup = p.get("reply_markup")
        inline = self._inline_markup(markup)
        message: JSON = {
            "message_id": 0,
            "from": self.bot.to_dict(),
            "chat": chat.to_dict(),
            "date": self._date(),
        }
        reply = p.get("reply_parameters")
        if reply:
            target = chat.messages.get(reply["message_id"])
            if target is not None and not target.deleted:
                message["reply_to_message"] = {
                    k: v for k, v in target.message.items() if k != "reply_to_message"
                }
            elif not reply.get("allow_sending_without_reply"):
                raise _bad("message to be replied not found")
        message.update(content)
        if p.get("protect_content"):
            message["has_protected_content"] = True
        if inline and any(row for row in inline["inline_keyboard"]):
            message["reply_markup"] = inline
        message["message_id"] = chat.take_message_id()
        chat.messages[message["message_id"]] = _StoredMessage(message, self.bot.id)
        self._sent.setdefault(chat.id, []).append(
            SentMessage(
                chat.id,
                message["message_id"],
                method,
                message,
                bool(p.get("protect_content")),
                markup,
            )
        )
        return message

    def _sent_record(self, stored: _StoredMessage) -> SentMessage | None:
        chat_id = stored.message["chat"]["id"]
        mid = stored.message["message_id"]
        return next((s for s in self._sent.get(chat_id, []) if s.message_id == mid), None)

    def _store_file(
        self, content: bytes, folder: str, file_name: str | None, mime: str | None
    ) -> StoredFile:
        n = self._next_counter()
        prefix = "AgAC" if folder == "photos" else "BQAC"
        ext = (
            (file_name or "").rsplit(".", 1)[-1]
            if file_name and "." in file_name
            else ("jpg" if folder == "photos" else "bin")
        )
        stored = StoredFile(
            file_id=f"{prefix}AgIAAxkBAAI{n:06d}FakeTelegram",
            file_unique_id=f"AgAD{n:06d}",
            file_path=f"{folder}/file_{n}.{ext}",
            content=content,
            file_name=file_name,
            mime_type=mime,
        )
        self.files[stored.file_id] = stored
        return stored

    def _file_param(self, value: UploadedFile | str, folder: str) -> StoredFile:
        if isinstance(value, UploadedFile):
            return self._store_file(value.content, folder, value.filename, value.content_type)
        if value in self.files:
            return self.files[value]
        if re.match(r"https?://", value):
            # Telegram would fetch the URL; offline, the file is an empty placeholder.
            name = value.rstrip("/").rsplit("/", 1)[-1] or None
            return self._store_file(b"", folder, name, mimetypes.guess_type(name or "")[0])
        raise _bad("wrong file identifier/HTTP URL specified")

    def _document_dict(self, stored: StoredFile) -> JSON:
        doc: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if stored.file_name:
            doc["file_name"] = stored.file_name
        if stored.mime_type:
            doc["mime_type"] = stored.mime_type
        return doc
