"""A database as an older PeerBot left it: for the upgrade tests of each feature's move
into the outbox."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.migrate import alembic_config


def to_old_heads(connection: Connection, url: str, old: str) -> None:
    """Every migration branch at its head, except the one holding `old`, which stays at
    `old` (the feature's last revision before the move); use with `run_sync`."""
    config = alembic_config(url)
    config.attributes["connection"] = connection
    script = ScriptDirectory.from_config(config)
    for head in sorted(script.get_heads()):
        if old not in {r.revision for r in script.iterate_revisions(head, "base")}:
            command.upgrade(config, head)
    command.upgrade(config, old)


def to_heads_but(connection: Connection, url: str, new: str) -> None:
    """Every migration branch at its head except the branch `new` starts, left at the
    revision before it: the database as the version before `new` left it; use with
    `run_sync`."""
    config = alembic_config(url)
    config.attributes["connection"] = connection
    script = ScriptDirectory.from_config(config)
    before = script.get_revision(new).down_revision
    assert isinstance(before, str)
    for head in sorted(script.get_heads()):
        if new not in {r.revision for r in script.iterate_revisions(head, "base")}:
            command.upgrade(config, head)
    command.upgrade(config, before)
