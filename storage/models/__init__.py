"""All models. Each feature keeps its tables in its own module; importing this package
registers every table on `Base.metadata` (Alembic and the tests rely on that)."""

from storage.base import Base
from storage.models import away as away  # registers its tables
from storage.models import broadcast as broadcast
from storage.models import confirmations as confirmations
from storage.models import meeting as meeting
from storage.models import minutes as minutes
from storage.models import outbox as outbox
from storage.models import privacy as privacy
from storage.models import updates as updates
from storage.models.core import Group, GroupCoordinator, Pause, Person
from storage.models.matches import (
    CoverAsk,
    Match,
    MatchOccurrence,
    MatchVolunteer,
    ReminderDelivery,
    ReminderPreference,
)

__all__ = [
    "Base",
    "CoverAsk",
    "Group",
    "GroupCoordinator",
    "Match",
    "MatchOccurrence",
    "MatchVolunteer",
    "Pause",
    "Person",
    "ReminderDelivery",
    "ReminderPreference",
]
