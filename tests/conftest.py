"""Fixtures shared by the whole suite.

``database_url`` runs a test once on SQLite and once on PostgreSQL. PostgreSQL comes from
``SWITCHBOARD_TEST_POSTGRESQL_URL`` (``.ci/run`` starts a server and sets it); without it the
PostgreSQL half skips with a reason, except in CI (``CI=true``) where it fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from werkzeug.serving import make_server

#: ``twilio`` and ``store`` on the ``app`` a test module makes.
pytest_plugins = ["tests.app_fixtures"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_shared(path: Path) -> Path:
    """Return a file from ``../shared``, skipping (or failing in CI) when it is absent.

    Only the check that ``tests/data/`` is still what Twilio's descriptions give reads
    ``../shared``; every other test reads the facts committed in ``tests/data/``.
    """
    if path.exists():
        return path
    reason = f"{path} is absent: checking tests/data/ against it needs ../shared beside the repo"
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def _postgres_base_url() -> str:
    url = os.environ.get("SWITCHBOARD_TEST_POSTGRESQL_URL")
    if url:
        return url
    reason = "SWITCHBOARD_TEST_POSTGRESQL_URL is not set: no PostgreSQL server to test against"
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The URL of the PostgreSQL database the suite may create schemas in."""
    return _postgres_base_url()


def _fresh_postgres_url(base_url: str) -> Iterator[str]:
    """Create a throw-away database on the test server, yield its URL, drop it afterwards."""
    import sqlalchemy as sa

    name = f"sb_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: an SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'switchboard.sqlite3'}"
    else:
        yield from _fresh_postgres_url(_postgres_base_url())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like the suite's ``database_url`` (SQLite, then a fresh PostgreSQL database) but one per
    test module: creating a PostgreSQL database per test would make this suite crawl. Tests
    that share it use fresh SIDs and phone numbers."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'switchboard.sqlite3'}"
    else:
        yield from _fresh_postgres_url(_postgres_base_url())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'switchboard.sqlite3'}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen[bytes], grace: float = 15) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds, unless ``process`` has ended."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(autouse=True)
def _no_real_twilio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's own Twilio settings out of the tests."""
    for name in list(os.environ):
        ours = name.startswith(("TWILIO_", "SWITCHBOARD_"))
        if ours and not name.startswith("SWITCHBOARD_TEST_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SWITCHBOARD_DOTENV", "0")


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` on werkzeug's threaded development server on 127.0.0.1: its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextlib.contextmanager
def read_only(store: Any) -> Iterator[None]:
    """Every connection refuses writes, as a read-only file or a standby server does."""

    def refuse_writes(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if store.dialect == "sqlite":
            cursor.execute("PRAGMA query_only = 1")
        else:  # committed, or the pool's reset on return would roll the SET back
            cursor.execute("SET default_transaction_read_only = on")
            dbapi_connection.commit()
        cursor.close()

    store.close()  # the connections made so far write: new ones are made read-only
    event.listen(store.engine, "connect", refuse_writes)
    try:
        yield
    finally:
        event.remove(store.engine, "connect", refuse_writes)
        store.close()
