"""Fixtures of the load and fault suite (``make load``): databases, a PostgreSQL server of its
own to stop and start, an SQLite database to take away and give back; the figures summary.

Not collected by the default ``pytest`` run (``norecursedirs``); run ``pytest tests/load``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI, _fresh_postgres_url, _postgres_base_url, free_port
from tests.load.figures import FIGURES, markdown


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("Switchboard load and fault figures")
    for figure in FIGURES:
        terminalreporter.write_line(f"{figure.test}: {figure.text}")
    target = os.environ.get("SWITCHBOARD_LOAD_REPORT")
    if target:
        Path(target).write_text(markdown())
        terminalreporter.write_line(f"(written to {target})")


@pytest.fixture(params=["sqlite", "postgresql"])
def load_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: an SQLite file in its own folder, then a new PostgreSQL database
    on the suite's server (SWITCHBOARD_TEST_POSTGRESQL_URL; required in CI)."""
    if request.param == "sqlite":
        folder = tmp_path / "data"
        folder.mkdir()
        yield f"sqlite:///{folder / 'switchboard.sqlite3'}"
    else:
        yield from _fresh_postgres_url(_postgres_base_url())


# -- an SQLite database taken away and given back ----------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


class SQLiteOutage:
    """Takes an SQLite database's folder away and puts a plain file in its place, so that
    nothing can open or create the database there (even as root, where permissions would not
    stop a write), then gives the folder back. Both moves are one atomic exchange where the
    kernel allows, so no process can slip a fresh, empty database in between."""

    def __init__(self, database_url: str) -> None:
        self.folder = Path(database_url.removeprefix("sqlite:///")).parent
        self.aside = self.folder.with_name(self.folder.name + "-aside")

    def take_away(self) -> None:
        self.aside.write_text("the database folder is away\n")
        if not _exchange(self.folder, self.aside):
            tmp = self.folder.with_name(self.folder.name + "-blocker")
            os.rename(self.aside, tmp)
            os.rename(self.folder, self.aside)
            os.rename(tmp, self.folder)

    def give_back(self) -> None:
        if not _exchange(self.folder, self.aside):
            os.unlink(self.folder)
            os.rename(self.aside, self.folder)
            return
        os.unlink(self.aside)


# -- a PostgreSQL server of the suite's own, to stop and start ---------------------------------


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class PostgresServer:
    """initdb + pg_ctl in a temporary folder on a free port of 127.0.0.1 (as the postgres
    user when running as root)."""

    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self.bin = bin_dir
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, timeout=120)

    #: Sent but not needed (trust authentication): the logs must never show it.
    password = "load-db-password-7d1e"

    @property
    def url(self) -> str:
        return (f"postgresql+psycopg://switchboard:{self.password}@127.0.0.1:{self.port}"
                "/switchboard")

    def init(self) -> None:
        if self.as_root:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "switchboard", "--auth=trust",
                  "-E", "UTF8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "switchboard",
                  "switchboard")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w",
                  "-o", f"-h 127.0.0.1 -p {self.port} -k {self.folder} "
                        "-c max_connections=200 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False)
            if done.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError("the dedicated PostgreSQL did not come back")


@pytest.fixture(scope="session")
def dedicated_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server only this suite uses, so that a test may stop it."""
    bin_dir = _pg_bin()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        reason = "PostgreSQL's initdb/pg_ctl are not installed (/usr/lib/postgresql/*/bin)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    # Not under pytest's basetemp: its folders are private to this user, not postgres.
    folder = Path(tempfile.mkdtemp(prefix="switchboard-load-pg-"))
    server = PostgresServer(bin_dir, folder)
    try:
        server.init()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        output = getattr(error, "stderr", b"") or b""
        pytest.fail(f"could not start a dedicated PostgreSQL: {output.decode(errors='replace')}")
    try:
        yield server
    finally:
        server.stop("immediate")
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)
