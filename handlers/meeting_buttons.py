"""The monthly meeting's button data (shared by `meeting` and `meeting_flow`)."""

from __future__ import annotations

from enum import StrEnum

from handlers.callbacks import Callbacks


class MeetingAction(StrEnum):
    CHOOSE = "choose"  # meeting id, position of the poll's option
    SETTINGS = "settings"
    EDIT_SETTING = "edit"


BUTTONS: Callbacks[MeetingAction] = Callbacks("meeting", MeetingAction)
