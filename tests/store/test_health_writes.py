"""``/healthz`` says 503 when the store cannot write: a full disk, or rows that wait for the
database. A delete of no row needs no room, so a full disk would pass such a check and a load
balancer would keep sending webhooks whose rows cannot be written: the check writes a row."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from switchboard.callbacks.store import Store, StoreUnavailable
from tests.conftest import IN_CI
from tests.server.conftest import Twilio, call_params, make_app

from .test_waiting_rows import disk_full


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs of its own, so that it can be filled (mounting one takes root)."""
    where = tmp_path / "tiny"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root (CI runs as root, where this runs)")
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(where)],
            capture_output=True, text=True, timeout=30, check=False,
        )
        failure = done.stderr.strip() if done.returncode else ""
    except OSError as error:  # no mount(8)
        failure = str(error)
    if failure:
        reason = f"cannot mount a tmpfs as root: {failure}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30, check=False)


def fill(folder: Path) -> Path:
    """Fill the filesystem of ``folder`` to its last byte; the file that does it."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0")
    finally:
        os.close(fd)
    return filler


def health(app: Flask) -> tuple[int, dict[str, str]]:
    response = app.test_client().get("/healthz")
    return response.status_code, response.get_json()


def wait_for_health(app: Flask, status: int, timeout: float = 10.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        code, body = health(app)
        if code == status:
            return body
        assert time.monotonic() < deadline, (code, body)
        time.sleep(0.05)


@pytest.fixture
def closing() -> Iterator[list[Flask]]:
    apps: list[Flask] = []
    yield apps
    for app in apps:
        app.extensions["switchboard"].store.close()


def test_a_full_filesystem_fails_healthz(tiny_filesystem: Path, closing: list[Flask]) -> None:
    """SQLite on a real filesystem with no byte left: 503 with the reason, 200 once freed; the
    webhook's row answered meanwhile waits, and goes in."""
    app = make_app(f"sqlite:///{tiny_filesystem / 'switchboard.sqlite3'}")
    closing.append(app)
    store: Store = app.extensions["switchboard"].store
    filler = fill(tiny_filesystem)
    with pytest.raises(StoreUnavailable, match="full"):
        store.check()
    code, body = health(app)
    assert (code, body["status"]) == (503, "unavailable"), body
    assert body["reason"] == "OperationalError: database or disk is full"
    assert str(tiny_filesystem) not in body["reason"]  # the log names the database, not this

    params = call_params()
    assert Twilio(app.test_client()).post("/voice", params).status_code == 200
    filler.unlink()
    wait_for_health(app, 200)
    assert store.get_call(params["CallSid"]) is not None


def test_a_postgresql_server_out_of_space_fails_healthz(
    postgresql_url: str, closing: list[Flask]
) -> None:
    """Every insert and update fails with ``disk_full`` (SQLSTATE 53100), as on a server whose
    disk is full; a delete of nothing still passes."""
    app = make_app(postgresql_url)
    closing.append(app)
    assert health(app)[0] == 200
    admin = sa.create_engine(postgresql_url)
    with admin.begin() as conn:
        tables = sa.inspect(conn).get_table_names()
        conn.exec_driver_sql(
            "CREATE FUNCTION no_space() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'could not extend file: No space left on device' "
            "USING ERRCODE = 'disk_full'; END $$"
        )
        for table in tables:
            conn.exec_driver_sql(f'CREATE TRIGGER no_space BEFORE INSERT OR UPDATE ON "{table}" '
                                 "FOR EACH ROW EXECUTE FUNCTION no_space()")
    try:
        code, body = health(app)
        assert code == 503, body
        assert body["reason"] == "DiskFull: could not extend file: No space left on device"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql("DROP FUNCTION no_space() CASCADE")
        admin.dispose()
    assert health(app)[0] == 200


def test_rows_waiting_for_the_database_fail_healthz(
    database_url: str, closing: list[Flask]
) -> None:
    """A write of one row passes, but the webhooks' rows cannot go in (a table that must grow
    on a full disk): 503 while they wait, 200 once they are written."""
    app = make_app(database_url)
    closing.append(app)
    store: Store = app.extensions["switchboard"].store
    twilio = Twilio(app.test_client())
    params = call_params(FromCity="x" * 50_000)  # a row that needs room
    with disk_full(store):
        assert twilio.post("/voice", params).status_code == 200
        body = wait_for_health(app, 503)
        # the call's row and the exchange's (what /voice was answered)
        assert body["reason"].startswith("2 webhook rows wait to be written: "), body
        assert "full" in body["reason"] or "space" in body["reason"]
        assert store.rows_waiting == 2
    wait_for_health(app, 200)
    assert store.get_call(params["CallSid"])["from"] == params["From"]
