"""Thin Telegram adapters, one module per feature: read the update, call the domain in
`bot.domain`, render the text, send."""

from __future__ import annotations

from telegram.ext import Application

from bot.context import Services
from handlers import (
    away,
    broadcast,
    conversation,
    delivery,
    errors,
    group_choice,
    group_settings,
    groups_admin,
    matches,
    meeting,
    membership,
    minutes,
    pause,
    privacy,
    settings,
    start,
    volunteers,
)

# Order matters: a feature's deep-link `/start <payload>` handler must come before the
# plain `/start`, so `start` is registered last.
FEATURES = [
    errors,
    membership,
    # The association admins: /setup in a new group, /overview.
    groups_admin,
    # Typed conversation state: the kind note for a late answer, and the sweep.
    conversation,
    # Someone in several groups: which group a private command is about (asked once).
    group_choice,
    volunteers,
    settings,
    pause,
    meeting,
    matches,
    # The group's own settings: /crisishelp, /digest.
    group_settings,
    privacy,
    minutes,
    broadcast,
    away,
    start,
    # Last: the outbox sender's pass sends what the passes above promised.
    delivery,
]


def register_all(application: Application, services: Services) -> None:
    commands = []
    for feature in FEATURES:
        feature.register(application, services)
        commands += getattr(feature, "COMMANDS", [])
        due_pass = getattr(feature, "run_due", None)
        if due_pass is not None:
            # A pass runs for each group in turn unless the feature says it serves all
            # groups at once (`RUN_DUE_FOR_ALL_GROUPS = True`).
            per_group = not getattr(feature, "RUN_DUE_FOR_ALL_GROUPS", False)
            services.scheduler.add(feature.__name__, due_pass, per_group=per_group)
    application.bot_data["commands"] = commands
