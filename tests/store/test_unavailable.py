"""A database that cannot be reached, opened or written: StoreUnavailable, then recovery."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from switchboard.callbacks.store import Store, StoreUnavailable
from tests.conftest import free_port

from .conftest import TCPProxy

CALL = "CA" + "9" * 32


def ringing(sequence: int = 1) -> dict[str, str]:
    return {"CallSid": CALL, "CallStatus": "ringing", "SequenceNumber": str(sequence)}


def assert_unavailable(store: Store) -> StoreUnavailable:
    """Every kind of method fails the same way while the database is away."""
    failures = []
    for attempt in (
        store.ping,
        lambda: store.record_call(ringing()),
        lambda: store.record_call_status(ringing(2), "tok-down"),
        lambda: store.get_call(CALL),
        lambda: store.load_sms_session("+1500", "+1600"),
        lambda: store.is_opted_out("+1500"),
    ):
        with pytest.raises(StoreUnavailable) as info:
            attempt()
        failures.append(info.value)
    for failure in failures:
        assert "\n" not in str(failure)
        assert isinstance(failure, RuntimeError)
    return failures[0]


def test_sqlite_file_and_folder_are_created_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "instance" / "deep" / "switchboard.sqlite3"
    store = Store(f"sqlite:///{path}")
    assert not path.parent.exists()
    store.create_all()
    assert path.exists()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    store.close()


def test_sqlite_folder_that_cannot_exist_then_can(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder should be")
    path = blocker / "instance" / "switchboard.sqlite3"
    store = Store(f"sqlite:///{path}")
    with pytest.raises(StoreUnavailable, match="blocker"):
        store.create_all()
    assert_unavailable(store)
    blocker.unlink()
    store.create_all()
    assert store.record_call_status(ringing(2), "tok-down")
    assert store.get_call(CALL)["status"] == "ringing"
    store.close()


def test_sqlite_file_replaced_by_a_folder_then_restored(tmp_path: Path) -> None:
    path = tmp_path / "switchboard.sqlite3"
    store = Store(f"sqlite:///{path}")
    store.create_all()
    store.record_call({"CallSid": CALL, "CallStatus": "queued"})
    moved = tmp_path / "moved"
    moved.mkdir()
    names = [p.name for p in tmp_path.glob("switchboard.sqlite3*")]
    for name in names:
        os.rename(tmp_path / name, moved / name)
    path.mkdir()

    assert_unavailable(store)

    path.rmdir()
    for name in names:
        os.rename(moved / name, tmp_path / name)
    assert store.get_call(CALL)["status"] == "queued"
    assert store.record_call_status(ringing(2), "tok-down"), "the failed callback was not stored"
    assert store.record_call_status(ringing(2), "tok-down") is False
    assert store.get_call(CALL)["status"] == "ringing"
    store.close()


def test_postgresql_on_a_closed_port_hides_the_password() -> None:
    url = f"postgresql+psycopg://switchboard:s3cret-pw@127.0.0.1:{free_port()}/nowhere"
    store = Store(url, connect_timeout=2)
    failure = assert_unavailable(store)
    assert "s3cret-pw" not in str(failure)
    assert "***" in str(failure)
    assert "s3cret-pw" not in repr(store)
    store.close()


def test_a_password_given_in_the_query_is_hidden_too() -> None:
    """A Store made from a URL with ``?password=`` (config moves it before the ``@``; a Store
    made directly does not) hides it in every 'unavailable' message and log line too."""
    url = f"postgresql+psycopg://switchboard@127.0.0.1:{free_port()}/nowhere?password=s3cret-pw"
    store = Store(url, connect_timeout=2)
    failure = assert_unavailable(store)
    assert "s3cret-pw" not in str(failure)
    assert "password=***" in str(failure)
    assert "s3cret-pw" not in repr(store)
    store.close()


def test_postgresql_goes_away_and_comes_back(postgresql_url: str) -> None:
    target = sa.make_url(postgresql_url)
    proxy = TCPProxy((target.host or "127.0.0.1", target.port or 5432))
    proxy.start()
    try:
        store = Store(target.set(port=proxy.port), connect_timeout=2)
        store.create_all()
        store.record_call({"CallSid": CALL, "CallStatus": "queued"})

        proxy.stop()
        assert_unavailable(store)

        proxy.start()
        assert store.get_call(CALL)["status"] == "queued"
        assert store.record_call_status(ringing(2), "tok-down")
        assert store.get_call(CALL)["status"] == "ringing"
        store.close()
    finally:
        proxy.stop()


def test_postgresql_connections_killed_by_the_server_are_replaced(postgresql_url: str) -> None:
    store = Store(postgresql_url)
    store.create_all()
    store.record_call({"CallSid": CALL, "CallStatus": "queued"})
    admin = sa.create_engine(postgresql_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    admin.dispose()
    assert killed >= 1
    assert store.record_call_status(ringing(2))
    assert store.get_call(CALL)["status"] == "ringing"
    store.close()


@pytest.mark.parametrize("url", ["not a url", "mysql://user:pw@127.0.0.1/db", "oracle+cx://u@h/x"])
def test_bad_or_unsupported_urls(url: str) -> None:
    with pytest.raises(StoreUnavailable) as info:
        Store(url)
    assert "pw" not in str(info.value)


def test_sqlite_writer_waits_for_a_lock_and_gives_up_in_bounded_time(tmp_path: Path) -> None:
    import sqlite3
    import threading
    import time

    path = tmp_path / "switchboard.sqlite3"
    store = Store(f"sqlite:///{path}", busy_timeout=0.3)
    store.create_all()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="locked"):
        store.record_call({"CallSid": CALL, "CallStatus": "queued"})
    assert time.monotonic() - started < 3
    assert store.get_call(CALL) is None, "readers are not blocked by a writer (WAL)"

    threading.Timer(0.1, other.rollback).start()
    store.record_call({"CallSid": CALL, "CallStatus": "queued"})
    assert store.get_call(CALL)["status"] == "queued"
    other.close()
    store.close()


def test_sqlite_writers_of_other_processes_queue_on_the_writer_file(tmp_path: Path) -> None:
    import fcntl
    import threading

    path = tmp_path / "switchboard.sqlite3"
    store = Store(f"sqlite:///{path}", busy_timeout=0.3)
    store.create_all()
    other = os.open(f"{path}-writer", os.O_RDWR)  # as another process would hold it
    fcntl.flock(other, fcntl.LOCK_EX)
    with pytest.raises(StoreUnavailable, match="another process is writing"):
        store.record_call({"CallSid": CALL, "CallStatus": "queued"})
    assert store.get_call(CALL) is None
    threading.Timer(0.05, fcntl.flock, (other, fcntl.LOCK_UN)).start()
    store.record_call({"CallSid": CALL, "CallStatus": "queued"})
    assert store.get_call(CALL)["status"] == "queued"
    os.close(other)
    store.close()


def test_a_postgresql_connection_left_unusable_is_dropped_not_reset(
    postgresql_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """psycopg's own failures, such as ``cannot exit pipeline mode while busy`` when the server
    ends the connection in the middle of an ``executemany``, are not disconnects to the
    dialect: back in the pool, the connection would fail its rollback and the pool would log a
    traceback (as under the database outage load test). It is dropped instead."""
    import psycopg

    store = Store(postgresql_url, attempts=1)
    store.create_all()
    invalidated: list[BaseException | None] = []
    sa.event.listen(store.engine, "invalidate", lambda conn, rec, error: invalidated.append(error))

    def broken_pipeline(cursor: object) -> None:
        raise psycopg.OperationalError("cannot exit pipeline mode while busy")

    with pytest.raises(StoreUnavailable), caplog.at_level("ERROR", logger="sqlalchemy.pool"):
        store._run_sql(broken_pipeline)
    assert len(invalidated) == 1
    assert "Exception during reset" not in caplog.text

    def serialization_failure(cursor: object) -> None:  # a statement's failure, not the link's
        raise psycopg.errors.SerializationFailure("could not serialize access")

    with pytest.raises(StoreUnavailable):
        store._run_sql(serialization_failure)
    assert len(invalidated) == 1  # the connection is kept
    store.record_call({"CallSid": CALL, "CallStatus": "queued"})
    assert store.get_call(CALL)["status"] == "queued"
    store.close()
