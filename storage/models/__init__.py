"""All models. Each feature keeps its tables in its own module; importing this package
registers every table on `Base.metadata` (Alembic and the tests rely on that)."""

from storage.base import Base
from storage.models.core import Group, Pause, Person
from storage.models import broadcast as broadcast  # noqa: F401  (registers its tables)
from storage.models import meeting as meeting  # noqa: F401  (registers its tables)
from storage.models import minutes as minutes  # noqa: F401  (registers its tables)
from storage.models import privacy as privacy  # noqa: F401  (registers its tables)
from storage.models.matches import (
    Match,
    MatchDigest,
    MatchOccurrence,
    MatchVolunteer,
    ReminderDelivery,
    ReminderPreference,
)

__all__ = [
    "Base",
    "Group",
    "Match",
    "MatchDigest",
    "MatchOccurrence",
    "MatchVolunteer",
    "Pause",
    "Person",
    "ReminderDelivery",
    "ReminderPreference",
]
