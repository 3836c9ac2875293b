"""A real PgBouncer, run from ``deploy/scale-out/pgbouncer.ini`` as shipped (its addresses, port
and file paths substituted), in front of a test's PostgreSQL server.

Used by tests/store/test_pooler.py, tests/load/test_scale_out.py and the scale-out benchmark.
PgBouncer must be installed (``apt-get install pgbouncer``): without it the tests skip, and
fail under CI (``CI=true``). As root it runs as the ``postgres`` user (``-u``), which it
insists on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.conftest import IN_CI, free_port

ROOT = Path(__file__).resolve().parents[1]
INI = ROOT / "deploy" / "scale-out" / "pgbouncer.ini"
INSTALL = "apt-get install pgbouncer"
#: What clients prove to PgBouncer (its auth_file); PostgreSQL itself trusts the test's user.
PASSWORD = "pooler-test-password-3b9e07"


def need(tool: str, install: str) -> str:
    """The path of ``tool``; skips the test without it (fails under CI), saying how to
    install it."""
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if found is None:
        reason = f"{tool} is not installed ({install})"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def render(target_host: str, target_port: int, port: int, folder: Path) -> str:
    """``deploy/scale-out/pgbouncer.ini`` with only what a test must change: where it listens,
    where PostgreSQL is (every database name, for the tests' throw-away databases), its files
    in ``folder``."""
    text = INI.read_text()
    for old, new in [
        ("switchboard = host=127.0.0.1 port=5432 dbname=switchboard",
         f"* = host={target_host} port={target_port}"),
        ("listen_addr = 0.0.0.0", "listen_addr = 127.0.0.1"),
        ("listen_port = 6432", f"listen_port = {port}"),
        ("logfile = /var/log/postgresql/pgbouncer.log", f"logfile = {folder / 'pgbouncer.log'}"),
        ("pidfile = /var/run/postgresql/pgbouncer.pid", f"pidfile = {folder / 'pgbouncer.pid'}"),
        ("auth_file = /etc/pgbouncer/userlist.txt", f"auth_file = {folder / 'userlist.txt'}"),
    ]:
        assert text.count(old) == 1, f"pgbouncer.ini no longer has {old!r}: update this test"
        text = text.replace(old, new)
    return text


class PgBouncer:
    """PgBouncer in transaction mode in front of the PostgreSQL server of ``server_url``."""

    def __init__(self, server_url: str) -> None:
        self.binary = need("pgbouncer", INSTALL)
        self.server = sa.make_url(server_url)
        self.user = self.server.username or "switchboard"
        self.port = 0
        self.folder: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str | None = None, *, pooler: str | None = "transaction") -> str:
        """The SQLAlchemy URL of ``database`` (the server URL's by default) through PgBouncer,
        with ``?pooler=`` as given (None: left out, as a store that does not know)."""
        url = self.server.set(host="127.0.0.1", port=self.port, password=PASSWORD,
                              database=database or self.server.database,
                              query={"pooler": pooler} if pooler else {})
        return url.render_as_string(hide_password=False)

    def start(self) -> PgBouncer:
        # Not under pytest's basetemp: its folders are private to this user, not postgres.
        self.folder = Path(tempfile.mkdtemp(prefix="switchboard-pgbouncer-"))
        self.port = free_port()
        ini = self.folder / "pgbouncer.ini"
        ini.write_text(render(self.server.host or "127.0.0.1", self.server.port or 5432,
                              self.port, self.folder))
        (self.folder / "userlist.txt").write_text(f'"{self.user}" "{PASSWORD}"\n')
        command = [self.binary, str(ini)]
        if os.geteuid() == 0:
            for path in (self.folder, *self.folder.iterdir()):
                shutil.chown(path, "postgres")
            command = [self.binary, "-u", "postgres", str(ini)]
        with (self.folder / "stderr.log").open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        dsn = (f"host=127.0.0.1 port={self.port} dbname={self.server.database} "
               f"user={self.user} password={PASSWORD} connect_timeout=2")
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"pgbouncer exited with {self.process.returncode}:\n{self.log()}")
            try:
                with psycopg.connect(dsn) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.Error:
                time.sleep(0.1)
        pytest.fail(f"pgbouncer did not answer within {timeout:g} s:\n{self.log()}")

    def log(self) -> str:
        if self.folder is None:
            return ""
        return "".join(path.read_text(errors="replace") for path in
                       (self.folder / "stderr.log", self.folder / "pgbouncer.log")
                       if path.exists())

    def stop(self) -> str:
        """Stop PgBouncer (SIGINT: it waits for the transactions in progress) and return its
        log."""
        process, text = self.process, ""
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        text = self.log()
        if self.folder is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.folder)
            self.folder = None
        return text

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
