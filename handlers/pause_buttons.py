"""The pause feature's button data (its own module so `/start` can offer "I need a pause"
without importing the whole feature)."""

from __future__ import annotations

from enum import StrEnum

from handlers.callbacks import Callbacks


class PauseAction(StrEnum):
    BEGIN = "begin"
    CANCEL = "cancel"
    BACK = "back"
    TALK = "talk"
    MORE = "more"
    LENGTH = "len"
    COVER = "cover"
    NOTE = "note"
    CONFIRM = "ok"
    # The coordinator is away: start the pause, but its notice waits for the coordinator.
    CONFIRM_WAIT = "okw"
    # In several groups: the pause is from this group only, or from all of them.
    SCOPE = "scope"
    BACK_SCOPE = "bscope"  # and back from a pause in this group only, or in all
    # The coordinator's side: pick a volunteer, a length for them, or end their pause.
    PICK = "cp"
    PICK_LENGTH = "cl"
    RESUME = "cr"


BUTTONS: Callbacks[PauseAction] = Callbacks("pause", PauseAction)
