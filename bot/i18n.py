"""Texts people read, through gettext catalogues (Babel).

Message ids are English; `bot/locale/da/LC_MESSAGES/*.po` holds the Danish (the default
language), one file per feature so features can be written side by side. English needs no
catalogue: the ids are the English texts. Mark texts with `_()` (or `N_()` where the text
is translated later), then look them up with `texts(language)`; where a number meets a noun,
use `ngettext(language, singular, plural, count)`. The words to use are in GLOSSARY.md.
"""

from __future__ import annotations

import functools
import gettext
import io
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.config import SUPPORTED_LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locale"

Translate = Callable[[str], str]


def N_(message: str) -> str:
    """Marks a text for the catalogue without translating it yet."""
    return message


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """All of a language's `.po` files merged into one gettext translation."""
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    files = sorted(folder.glob("*.po")) if folder.is_dir() else []
    if not files:
        return gettext.NullTranslations()
    merged = Catalog(locale=language)
    for po_file in files:
        with po_file.open("rb") as handle:
            for message in read_po(handle, locale=language):
                if message.id and message.string:
                    merged[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def texts(language: str) -> Translate:
    """The translate function for a language (falls back to English ids)."""
    return translations(language).gettext


def plural(language: str) -> Callable[[str, str, int], str]:
    return translations(language).ngettext


def ngettext(language: str, singular: str, plural: str, count: int) -> str:
    """The form of a text that fits `count` ("1 time" / "2 timer"), in `language`. Use it
    wherever a number meets a noun; the catalogue entry has `msgid_plural` and `msgstr[n]`."""
    return translations(language).ngettext(singular, plural, count)


def pick_language(telegram_language: str | None, default: str) -> str:
    """A person's Telegram language when we have a catalogue for it, else the default."""
    if telegram_language:
        code = telegram_language.split("-")[0].lower()
        if code in SUPPORTED_LANGUAGES:
            return code
    return default


def format_when(moment: datetime, tz: object, language: str, *, now: datetime) -> str:
    """A date and time written the local way: "tirsdag 9. december kl. 17.00" (with the
    year when it is not this year's, "tirsdag 9. december 2062 kl. 17.00")."""
    local = moment.astimezone(tz)  # type: ignore[arg-type]
    year = " y" if _other_year(local, now, tz) else ""
    if language == "da":
        pattern = f"EEEE d. MMMM{year} 'kl.' HH.mm"
    else:
        pattern = f"EEEE d MMMM{year} 'at' HH:mm"
    return format_datetime(local, pattern, locale=Locale.parse(language))


def format_day(moment: datetime, tz: object, language: str, *, now: datetime) -> str:
    """A date written the local way: "tirsdag 9. december" (with the year when it is not
    this year's)."""
    local = moment.astimezone(tz)  # type: ignore[arg-type]
    year = " y" if _other_year(local, now, tz) else ""
    pattern = f"EEEE d. MMMM{year}" if language == "da" else f"EEEE d MMMM{year}"
    return format_datetime(local, pattern, locale=Locale.parse(language))


def _other_year(local: datetime, now: datetime, tz: object) -> bool:
    """A date outside the current year is always shown with its year."""
    return local.year != now.astimezone(tz).year  # type: ignore[arg-type]
