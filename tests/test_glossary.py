"""The words of GLOSSARY.md, checked in every Danish text; and every text a person reads is
marked for translation."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import LOCALE_DIR, ngettext, texts

ROOT = Path(__file__).resolve().parents[1]
CATALOGUES = sorted((LOCALE_DIR / "da" / "LC_MESSAGES").glob("*.po"))

# (pattern in a Danish text, what to say instead). Case-sensitive where case matters.
FORBIDDEN = [
    (r"(?i)\bafløser", "midlertidig frivillig"),
    (r"(?i)\bvikar", "stedfortræder (the coordinator's stand-in)"),
    (r"(?i)\baftale(n|rne)\b|\b(dine|din|mine|jeres|nye|ingen|de|en) aftaler?\b", "møde, møder"),
    (r"(?i)\bfejled", "kunne ikke / ikke kommet frem"),
    (r"(?i)\bmangle(r|de)?\b", "har brug for"),
    (r"(?i)\bfraværende\b", "kunne ikke komme"),
    (r"(?i)\budeblev", "kunne ikke komme"),
    (r"(?i)\bikke mødt op\b", "kunne ikke komme"),
    (r"(?i)\b(din|min|sin) borger\b", "the label ({citizens}) or borgeren"),
    (r"\bFærdig\b", "Så er det på plads"),
    (r"^Bliver sendt\b", "på vej"),
    (r"(?i)\bstartet mig\b", "har ikke startet en chat med mig endnu"),
    (r"(?<=[a-zæøå,] )Deres\b", "personens (Deres is the formal 'your')"),
    (r'"|«(?=[\w{])', "»…«"),
    (r"\btil \{(until|day)\}", "til og med {day}"),
    (r"\b(mon|tue|wed|thu)\b", "a Danish weekday"),
    (r"\b\d+h\b", "2t, 2 timer"),
    (r"\bkl\. \d{1,2}:\d{2}", "kl. 10.00"),
    (r"(?i)hele døgnet", "Livslinien's real hours (alle dage kl. 11–05)"),
    # Someone the bot can't write to: one wording everywhere, not "venter, til de starter...".
    (r"(?i)(?<!har ikke startet )\ben chat med mig\b", "har ikke startet en chat med mig endnu"),
    (r"(?i)\ben chat med mig\b(?! endnu)", "har ikke startet en chat med mig endnu"),
    (r"(?i)\btryk (?!(så )?på\b)", "tryk på Annullér"),
    (r"\.\.\.", "… or osv."),
    (r"\{count\} mere\b", "{count} til"),
    (r"(?i)\b(er|allerede|ingen) på (dette|det|et) match\b", "med i dette match"),
    # A label such as "K.L." ends in a full stop: never end a sentence on it ("K.L..").
    (r"\{(label|labels|citizens)\}\.(\s|$)", "a sentence that goes on after {label}"),
    (r"(?i)\bsend (/\w|\{command\})", "Skriv /start (a command is written, not sent)"),
    # "matches" is English; the Danish plural is "match" (the command /matches excepted).
    (r"(?<![/\w{])matches\b", "match (aktive match, dine match)"),
    # "Indtil da" is "until then", not "meanwhile" (read once as: nothing until she leaves).
    (r"(?i)\bindtil da\b", "i den periode, i mellemtiden"),
    # "Jeg har givet Anna besked, som er ..." makes the message the stand-in.
    (r"\bbesked, (som|der) er\b", "besked til {name}, der er …"),
    # A setting's name is a name, quoted, not a capitalised word mid-sentence.
    (r"(?<!»)\{setting\}", "»{setting}«"),
]
# Texts about the monthly meeting say "frivilligmøde", never "møde" alone.
MONTHLY_MEETING_FILES = {"meeting.po", "minutes.po"}
MONTHLY_ALONE = re.compile(r"(?i)(?<!frivillig)\bmøde(t|r)?\b")
# Danish words that are spelled like their English msgid.
SAME_IN_BOTH = {"Send"}


def danish_entries() -> list[tuple[str, str, str]]:
    """(file, English msgid, Danish text) for every form of every entry."""
    found = []
    for po_file in CATALOGUES:
        with po_file.open("rb") as handle:
            for message in read_po(handle, locale="da"):
                if not message.id:
                    continue
                english = message.id if isinstance(message.id, str) else message.id[0]
                forms = message.string if isinstance(message.string, tuple) else (message.string,)
                found += [(po_file.name, english, form) for form in forms]
    return found


def test_no_forbidden_word_in_a_danish_text():
    problems = [
        f"{name}: {danish!r} -> say {instead}"
        for name, _english, danish in danish_entries()
        for pattern, instead in FORBIDDEN
        if re.search(pattern, danish)
    ]
    assert problems == [], "\n".join(problems)


def test_the_monthly_meeting_is_always_frivilligmøde():
    problems = [
        f"{name}: {danish!r}"
        for name, _english, danish in danish_entries()
        if name in MONTHLY_MEETING_FILES and MONTHLY_ALONE.search(danish)
    ]
    assert problems == [], "\n".join(problems)


def test_no_danish_text_is_left_in_english():
    def only_names_and_commands(text: str) -> bool:
        rest = re.sub(r"\{\w*\}|/\w+|@\w+|[^\w]", "", text)
        return not re.search(r"[A-Za-z]{3,}", rest)

    same = [
        english
        for _name, english, danish in danish_entries()
        if danish == english
        and english not in SAME_IN_BOTH
        and not only_names_and_commands(english)
    ]
    assert same == []


def test_catalogue_headers_are_complete_and_plurals_have_both_forms():
    for po_file in CATALOGUES:
        with po_file.open("rb") as handle:
            catalogue = read_po(handle, locale="da")
        raw = po_file.read_text()  # babel fills in defaults; the file itself must say it
        for field in ("Project-Id-Version", "Language", "Content-Type", "MIME-Version"):
            assert f'"{field}: ' in raw, f"{po_file.name}: {field}"
        assert '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"' in raw, po_file.name
        for message in catalogue:
            if message.id and isinstance(message.id, tuple):
                assert len(message.string) == 2 and all(message.string), message.id[0]


def test_a_counted_noun_always_has_a_plural_form():
    """A plain msgid with "{count} hours" would read "1 timer" one day: it needs ngettext.
    A fixed maximum ("at most {count} characters") is never one."""
    problems = []
    for po_file in CATALOGUES:
        with po_file.open("rb") as handle:
            for message in read_po(handle, locale="da"):
                english = message.id
                if not isinstance(english, str) or not english:
                    continue  # a plural entry, or the header
                counted = re.search(
                    r"(?<!at most )\{(count|weeks|days|hours|minutes)\} [a-z]+s\b", english
                )
                if counted:
                    problems.append(f"{po_file.name}: {english}")
    assert problems == [], "use ngettext:\n" + "\n".join(problems)


def test_a_number_meets_a_noun_in_the_right_form():
    hours = ("{count} hour before", "{count} hours before")
    assert ngettext("da", *hours, 1).format(count=1) == "1 time før"
    assert ngettext("da", *hours, 2).format(count=2) == "2 timer før"
    assert ngettext("en", *hours, 1).format(count=1) == "1 hour before"
    assert texts("da")("on") == "slået til"  # not "til", which reads as "until"


# Texts not marked for translation -----------------------------------------------------------

# Calls that put text in front of a person, and the keyword arguments that hold it.
SENDING_CALLS = {
    "reply",
    "reply_text",
    "send_message",
    "edit_message_text",
    "edit_text",
    "answer",
    "send_private",
    "send_to_person",
    "send_document_private",
    "send_to_group",
    "InlineKeyboardButton",
    "BotCommand",
}
TEXT_KEYWORDS = {"text", "caption", "question", "options"}
NOT_SCANNED = {"bot/fake_telegram", "bot/cli.py", "bot/demo.py", "bot/demo_scenes"}


def looks_like_prose(value: str) -> bool:
    """Words a person would read (not a method name, a command, a callback or a symbol)."""
    rest = re.sub(r"\{[^}]*\}|/\w+|@\w+|https?://\S+", "", value)
    if re.fullmatch(r"[\w.:-]*", value) and not re.search(r"[A-ZÆØÅ ]", value):
        return False  # "send_message", "pause:ok"
    return bool(re.search(r"[A-Za-zÆØÅæøå]{2,}", rest))


def unmarked_literals(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        if name not in SENDING_CALLS:
            continue
        values = list(node.args) + [k.value for k in node.keywords if k.arg in TEXT_KEYWORDS]
        for value in values:
            parts = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
            for part in parts:
                found += [
                    (node.lineno, text) for text in literals_in(part) if looks_like_prose(text)
                ]
    return found


def literals_in(node: ast.expr) -> list[str]:
    """The literal text of an argument: a string, an f-string's fixed parts, the parts of a
    concatenation ("✓ " + _("Label")); what a call such as `_()` returns is not literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [literal for value in node.values for literal in literals_in(value)]
    if isinstance(node, ast.BinOp):
        return literals_in(node.left) + literals_in(node.right)
    if isinstance(node, ast.IfExp):
        return literals_in(node.body) + literals_in(node.orelse)
    return []


def python_files() -> list[Path]:
    files = []
    for folder in ("handlers", "bot"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if not any(relative.startswith(skip) for skip in NOT_SCANNED):
                files.append(path)
    return files


def looked_up_in_passing(tree: ast.AST) -> list[int]:
    """Lines with `texts(language)("...")`: translated, but invisible to the extractor that
    `test_every_marked_text_has_a_danish_translation` relies on (it knows `_`, `N_`)."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Call)
        and (
            getattr(node.func.func, "attr", None) == "texts"
            or getattr(node.func.func, "id", None) == "texts"
        )
    ]


def test_texts_are_looked_up_through_underscore_so_the_catalogue_check_sees_them():
    problems = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in python_files()
        for line in looked_up_in_passing(ast.parse(path.read_text(), str(path)))
    ]
    assert problems == [], "write `_ = context.texts(language)` and `_(...)`:\n" + "\n".join(
        problems
    )


def test_every_text_a_person_reads_is_marked_for_translation():
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in python_files()
        for line, text in unmarked_literals(ast.parse(path.read_text(), str(path)))
    ]
    assert problems == [], "mark these with _() or N_():\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('await reply(update, "Hello there")', ["Hello there"]),
        ('await reply(update, _("Hello there"))', []),
        ('InlineKeyboardButton("Yes, go", callback_data="pause:ok")', ["Yes, go"]),
        (
            'await send_to_group(context, "send_message", text=f"Hi {name}, welcome")',
            ["Hi ", ", welcome"],
        ),
        ('await query.answer("pause:ok")', []),
    ],
)
def test_the_unmarked_text_check_finds_what_it_should(source: str, expected: list[str]):
    assert [text for _line, text in unmarked_literals(ast.parse(source))] == expected
