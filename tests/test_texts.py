"""Every text a person can read exists in Danish (the default) and English."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LOCALE_DIR, format_when, pick_language, texts

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (2, 3)}


def marked_texts() -> set[str]:
    found: set[str] = set()
    for folder in ("bot", "handlers"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, keywords=KEYWORDS, comment_tags=()
        ):
            if isinstance(message, tuple):  # ngettext: (singular, plural), keyed by the first
                found.add(message[0])
            elif message:
                found.add(message)
    return found


def danish_catalogue() -> dict[str, str]:
    merged: dict[str, str] = {}
    for po_file in sorted((LOCALE_DIR / "da" / "LC_MESSAGES").glob("*.po")):
        with po_file.open("rb") as handle:
            for message in read_po(handle, locale="da"):
                if message.id:
                    key = message.id if isinstance(message.id, str) else message.id[0]
                    value = message.string if isinstance(message.string, str) else message.string[0]
                    merged[key] = value
    return merged


def test_every_marked_text_has_a_danish_translation():
    catalogue = danish_catalogue()
    missing = sorted(t for t in marked_texts() if not catalogue.get(t))
    assert missing == [], "add these to bot/locale/da/LC_MESSAGES/<feature>.po"


def test_placeholders_survive_translation():
    import re

    for english, danish in danish_catalogue().items():
        assert set(re.findall(r"{\w*}", english)) == set(re.findall(r"{\w*}", danish)), english


def test_language_follows_telegram_when_we_have_it():
    assert pick_language("en-GB", "da") == "en"
    assert pick_language("de", "da") == "da"
    assert pick_language(None, "en") == "en"
    assert texts("da")("Open a private chat") == "Åbn en privat chat"
    assert texts("en")("Open a private chat") == "Open a private chat"


def test_dates_are_written_the_danish_way():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    cph = ZoneInfo("Europe/Copenhagen")
    moment = datetime(2026, 12, 8, 17, 0, tzinfo=cph)
    assert format_when(moment, cph, "da", now=moment) == "tirsdag 8. december kl. 17.00"
    assert format_when(moment, cph, "en", now=moment) == "Tuesday 8 December at 17:00"
    # Outside the current year, always with the year.
    later = moment.replace(year=2062)
    assert format_when(later, cph, "da", now=moment) == "fredag 8. december 2062 kl. 17.00"
    assert format_when(later, cph, "en", now=moment) == "Friday 8 December 2062 at 17:00"


def test_the_plain_words_export_names_the_language_in_words():
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from handlers.privacy import readable_export

    data = {"person": {"first_name": "Bo", "language": "da"}, "tables": {}}
    now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    cph = ZoneInfo("Europe/Copenhagen")
    assert "sprog: dansk," in readable_export(data, texts("da"), "da", cph, now)
    data["person"]["language"] = "en"
    assert "language English," in readable_export(data, texts("en"), "en", cph, now)


def test_every_part_of_the_export_has_a_name_in_plain_words():
    """A table a feature adds later must not show up as "outbox" in a Danish summary."""
    from bot.domain.rights import tables_about_people
    from handlers.privacy import EXPORT_PARTS

    assert sorted(set(tables_about_people()) - set(EXPORT_PARTS)) == []
