"""A throwaway PostgreSQL server for the tests, started from Debian's `postgresql` package.

Tests that want PostgreSQL ask for the `postgres_url` fixture. Where no server can be
started, they are skipped with the reason, and a warning says so in the summary: a silent
skip would let "passes on PostgreSQL" go unchecked.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def find_bin_dir() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl in a temporary folder; as root, runs as the `postgres` user."""

    def __init__(self) -> None:
        self.bin_dir = find_bin_dir()
        self.folder = Path(tempfile.mkdtemp(prefix="peerbot-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.as_user: list[str] = []

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, *args], check=True, capture_output=True, text=True, timeout=120
        )

    def start(self) -> str:
        """Start the server; returns its base URL (no database name) or raises with why."""
        if self.bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root; Debian's package creates a `postgres` user.
            if shutil.which("runuser") is None:
                raise RuntimeError("running as root without runuser: cannot start PostgreSQL")
            shutil.chown(self.folder, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "peerbot",
            "--no-sync", "-E", "UTF8",
        )
        self.resume()
        return f"postgresql+asyncpg://peerbot@127.0.0.1:{self.port}"

    def resume(self) -> None:
        """Start the (initialised) server again, on the same port and data."""
        assert self.bin_dir is not None
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", options, "-w",
            "-l", str(self.folder / "log"), "start",
        )

    def halt(self) -> None:
        """Stop the server (connections cut, new ones refused), keeping its data for
        `resume`. A fast shutdown, not an immediate one: this test server commits
        asynchronously, and a crash would lose the last commits the bot was told were done."""
        assert self.bin_dir is not None
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")

    def stop(self) -> None:
        if self.bin_dir is not None and self.data.exists():
            subprocess.run(
                [*self.as_user, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m",
                 "immediate", "stop"],
                capture_output=True, timeout=60, check=False,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


async def create_database(base_url: str, name: str) -> str:
    """A fresh, empty database on the test server; returns its URL."""
    import asyncpg

    connection = await asyncpg.connect(base_url.replace("+asyncpg", "") + "/postgres")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return f"{base_url}/{name}"
