"""Shared fixtures. No test may reach the internet: only loopback and local sockets."""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.sandbox import COPENHAGEN, Cast, Sandbox, sandbox
from storage.db import Database
from storage.migrate import upgrade
from tests.postgres import PostgresServer, create_database

_real_getaddrinfo = socket.getaddrinfo


def _loopback_only(host: object, *args: object, **kwargs: object):
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name not in ("localhost", "") and host is not None:
        try:
            if not ipaddress.ip_address(name).is_loopback:
                raise OSError(f"tests may not reach {name}: only loopback is allowed")
        except ValueError as exc:
            raise OSError(f"tests may not resolve {name}: only loopback is allowed") from exc
    return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def no_internet() -> None:
    """Every test runs with name resolution limited to loopback (api.telegram.org fails)."""
    socket.getaddrinfo = _loopback_only  # type: ignore[assignment]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """A PostgreSQL server for the whole run, or None (with a loud warning) when there is none."""
    server = PostgresServer()
    try:
        url = server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        reason = getattr(error, "stderr", None) or str(error)
        warnings.warn(f"PostgreSQL tests are SKIPPED: {reason}", stacklevel=1)
        yield None
        return
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server: str | None
) -> str:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
    if postgres_server is None:
        pytest.skip("PostgreSQL could not be started here (see the warning above)")
    return await create_database(postgres_server, f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A fresh database with every migration applied, once on SQLite and once on
    PostgreSQL, for tests of the rules in bot/domain/ and of storage."""
    db = Database(database_url)
    await upgrade(db.engine)
    yield db
    await db.dispose()


@pytest.fixture
def start_time() -> datetime:
    return datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN)


@pytest.fixture(params=["sqlite", "postgresql"])
async def group(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    start_time: datetime,
    postgres_server: str | None,
) -> AsyncIterator[tuple[Sandbox, Cast]]:
    """The simulated volunteers' group with PeerBot running against the fake Bot API,
    once on SQLite and once on PostgreSQL."""
    overrides: dict[str, str] = {}
    if request.param == "postgresql":
        if postgres_server is None:
            pytest.skip("PostgreSQL could not be started here (see the warning above)")
        name = f"t_{uuid.uuid4().hex[:12]}"
        overrides["database_url"] = await create_database(postgres_server, name)
    async with sandbox(tmp_path / "peerbot.sqlite3", start_time, **overrides) as running:
        yield running
        assert running[0].fake.spec_violations == [], "the bot broke the Bot API spec"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The simulated month first: it is the longest, so the xdist workers finish together."""
    items.sort(key=lambda item: 0 if "test_simulated_month.py::test_a_month" in item.nodeid else 1)
