"""Cheap checks that keep the layers honest (see ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py")]


def test_storage_and_domain_do_not_import_telegram():
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files("storage", "bot/domain")
        if re.search(r"^\s*(import telegram|from telegram)", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []


def test_nothing_but_the_clock_reads_the_wall_clock():
    pattern = re.compile(r"datetime\.(now|utcnow|today)\(|date\.today\(|time\.time\(\)")
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files("bot", "handlers", "storage")
        if path.name != "clock.py"
        and "fake_telegram" not in path.parts
        and pattern.search(path.read_text())
    ]
    assert offenders == []


def test_storage_never_commits():
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files("storage", "bot/domain", "handlers")
        if re.search(r"session\.commit\(", path.read_text())
    ]
    assert offenders == []


# The import graph ------------------------------------------------------------------------

# Where `bot` may import `handlers`: the one place the application is put together.
COMPOSITION_ROOT = "bot/app.py"


def runtime_imports(path: Path) -> list[str]:
    """Modules `path` imports when it runs: everywhere (functions included) except under
    `if TYPE_CHECKING:`, whose imports exist only for the type checker."""
    tree = ast.parse(path.read_text(), str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def importing(folders: tuple[str, ...], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{path.relative_to(ROOT)}: {module}"
        for path in python_files(*folders)
        for module in runtime_imports(path)
        if module.split(".")[0] in prefixes
    )


def test_handlers_reach_the_database_only_through_the_domain():
    """No `sqlalchemy` or `storage` import in handlers/ when they run: SQL and its errors
    belong to bot/domain/, and a handler gets rows only from the domain's functions."""
    assert importing(("handlers",), ("sqlalchemy", "storage")) == []


# Session methods that are SQL in all but name.
QUERY_METHODS = {
    "add",
    "add_all",
    "begin_nested",
    "delete",
    "execute",
    "flush",
    "get",
    "get_one",
    "merge",
    "refresh",
    "scalar",
    "scalars",
    "stream",
}


def session_queries(path: Path) -> list[str]:
    """Calls like `session.get(...)` or `context.session.execute(...)` in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
        if "session" in name and node.func.attr in QUERY_METHODS:
            where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
            found.append(f"{where}: {name}.{node.func.attr}")
    return found


def test_handlers_ask_the_domain_and_never_query_the_session():
    """A handler passes the update's session to domain functions; it never queries it."""
    found = {line for path in python_files("handlers") for line in session_queries(path)}
    assert found == set()


def test_only_the_composition_root_imports_handlers():
    offenders = [
        line
        for line in importing(("bot",), ("handlers",))
        if not line.startswith(COMPOSITION_ROOT + ":")
    ]
    assert offenders == []


def test_the_import_check_sees_what_it_must(tmp_path: Path):
    """The check itself: a runtime import is caught, a TYPE_CHECKING one is not."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from storage.models import Person\n"
        "def f():\n    from sqlalchemy import select\n"
    )
    assert runtime_imports(sample) == ["typing", "sqlalchemy"]


def test_the_session_check_sees_what_it_must(tmp_path: Path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "async def f(context, session):\n"
        "    await context.session.get(1)\n    session.add(2)\n"
        "    await do(context.session, session)\n"
    )
    assert sorted(line.split(": ")[1] for line in session_queries(sample)) == [
        "session.add",
        "session.get",
    ]


def test_conversation_state_goes_through_one_module():
    """Flows keep their state as typed dataclasses through handlers/conversation.py, never
    as keys of their own in `user_data` (one feature used to clear another's by name)."""
    direct = re.compile(r"user_data\s*(\[|\.(get|pop|setdefault|update|clear)\()")
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files("handlers")
        if path.name != "conversation.py" and direct.search(path.read_text())
    ]
    assert offenders == []
