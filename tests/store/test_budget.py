"""Under a handler's deadline, every wait of the store ends before the deadline does: the
writer lock, SQLite's busy handler, a pooled connection, a new PostgreSQL connection, a
statement, a connection to a server that hung. Outside a handler, the store's own limits."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from switchboard.callbacks.deadline import Deadline, HandlerTimeout
from switchboard.callbacks.store import Store, StoreUnavailable, budget
from switchboard.callbacks.store.engine import BudgetSpent
from switchboard.callbacks.store.watchdog import WATCHDOG
from tests.conftest import free_port
from tests.load.servers import HangingServer

CALL = "CA" + "b" * 32


def status(sid: str = CALL, value: str = "completed") -> dict[str, str]:
    return {"CallSid": sid, "CallStatus": value, "SequenceNumber": "0", "From": "+15551230001"}


def timed(seconds: float, work: Callable[[], Any]) -> tuple[BaseException | None, float]:
    """Run ``work`` under a ``seconds`` handler deadline (the main thread's timer, as in a
    gunicorn worker): what it raised, and how long it took."""
    started = time.monotonic()
    try:
        Deadline(seconds).run(work)
    except Exception as error:
        return error, time.monotonic() - started
    return None, time.monotonic() - started


def test_outside_a_handler_the_limits_are_the_stores_own() -> None:
    assert budget.ends() is None
    assert budget.wait(10.0) == 10.0


def test_under_a_deadline_a_wait_gets_what_is_left_less_the_reserve() -> None:
    def measure() -> tuple[float, float, float]:
        return budget.wait(10.0), budget.wait(0.5), budget.ends() - time.monotonic()

    waited, short, left = Deadline(2.0).run(measure)
    assert 2.0 - budget.RESERVE - 0.1 < waited <= 2.0 - budget.RESERVE
    assert short == 0.5
    assert left == pytest.approx(waited, abs=0.01)
    late = Deadline(budget.RESERVE).run(lambda: budget.wait(10.0))
    assert late == budget.FLOOR


def test_milliseconds_repeat_from_one_request_to_the_next() -> None:
    assert budget.milliseconds(9.74) == budget.milliseconds(9.70) == 9000
    assert budget.milliseconds(1.234) == 1200
    assert budget.milliseconds(0.001) == int(budget.FLOOR * 1000)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.create_all()
    yield store
    store.close()


def hold_sqlite_lock(store: Store) -> sqlite3.Connection:
    """Another connection takes SQLite's write lock (``BEGIN EXCLUSIVE``) and keeps it."""
    other = sqlite3.connect(store.url.database or "", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


def test_a_held_sqlite_lock_is_waited_for_until_the_budget_ends(sqlite_store: Store) -> None:
    other = hold_sqlite_lock(sqlite_store)
    try:
        error, took = timed(1.5, lambda: sqlite_store.record_call_status(status()))
        assert isinstance(error, StoreUnavailable), error
        assert "database is locked" in str(error)
        assert 1.5 - budget.RESERVE - 0.2 < took < 1.5, took
        # reads go on (WAL) while the writer is locked out
        error, took = timed(1.5, lambda: sqlite_store.load_voice_session(CALL))
        assert error is None
        assert took < 0.2
    finally:
        other.close()
    assert sqlite_store.record_call_status(status()) is True


def test_outside_a_handler_sqlite_waits_its_busy_timeout(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}", busy_timeout=0.3)
    store.create_all()
    other = hold_sqlite_lock(store)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="locked"):
            store.record_call_status(status())
        assert 0.3 <= time.monotonic() - started < 1.0
    finally:
        other.close()
        store.close()


def test_the_writer_lock_is_waited_for_until_the_budget_ends(sqlite_store: Store) -> None:
    fd = os.open(str(sqlite_store.url.database) + "-writer", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another worker process holding it would
        error, took = timed(1.0, lambda: sqlite_store.record_call_status(status()))
        assert isinstance(error, StoreUnavailable), error
        assert "another process is writing" in str(error)
        assert 1.0 - budget.RESERVE - 0.2 < took < 1.0, took
    finally:
        os.close(fd)


def test_a_pooled_connection_is_waited_for_until_the_budget_ends(database_url: str) -> None:
    store = Store(database_url, pool_size=1, max_overflow=0, pool_timeout=30)
    store.create_all()
    taken = store.engine.raw_connection()  # another thread's, say
    try:
        error, took = timed(1.0, lambda: store.get_call(CALL))
        assert isinstance(error, StoreUnavailable), error
        assert took < 1.0, took
    finally:
        taken.close()
        store.close()


def test_the_deadline_is_never_passed_by_the_store_itself(sqlite_store: Store) -> None:
    """The store's waits end first: the handler hears StoreUnavailable, not HandlerTimeout."""
    other = hold_sqlite_lock(sqlite_store)
    try:
        errors = [timed(0.5, lambda n=n: sqlite_store.save_voice_session(CALL, {"n": n}))[0]
                  for n in range(3)]
    finally:
        other.close()
    assert all(isinstance(error, StoreUnavailable) for error in errors), errors
    assert not any(isinstance(error, HandlerTimeout) for error in errors)


# -- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
def hanging_proxy(postgresql_url: str) -> Iterator[tuple[HangingServer, str]]:
    """A proxy to the test database that can hang; the database's URL through it."""
    target = sa.make_url(postgresql_url)
    proxy = HangingServer((target.host or "127.0.0.1", target.port or 5432)).start()
    url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield proxy, url
    proxy.close()


def test_a_postgresql_connection_that_hangs_is_cut_at_the_end_of_the_budget(
    hanging_proxy: tuple[HangingServer, str],
) -> None:
    proxy, url = hanging_proxy
    store = Store(url, retry_after=0)
    try:
        store.create_all()
        store.record_call_status(status())  # a pooled connection, open through the proxy
        proxy.hang()
        cut = WATCHDOG.cut
        error, took = timed(1.5, lambda: store.get_call(CALL))
        assert isinstance(error, StoreUnavailable), error
        assert took < 1.5, took
        assert WATCHDOG.cut > cut
    finally:
        proxy.resume()
        store.close()


def test_a_postgresql_statement_ends_with_the_budget(postgresql_url: str) -> None:
    """A row locked by another transaction: the server's ``statement_timeout``, set from the
    budget, ends the statement cleanly (the connection stays usable, nothing is cut)."""
    store = Store(postgresql_url, retry_after=0)
    store.create_all()
    store.record_call_status(status(value="ringing"))
    other = sa.create_engine(postgresql_url)
    try:
        with other.connect() as conn, conn.begin():
            conn.execute(sa.text("SELECT * FROM calls WHERE sid = :sid FOR UPDATE"), {"sid": CALL})
            cut = WATCHDOG.cut
            error, took = timed(2.0, lambda: store.record_call_status(status()))
            assert isinstance(error, StoreUnavailable), error
            assert "statement timeout" in str(error)
            assert took < 2.0, took
            assert WATCHDOG.cut == cut
        assert store.record_call_status(status()) is True  # the lock is gone
    finally:
        other.dispose()
        store.close()


def test_postgresql_connects_within_the_budget(tmp_path: Path) -> None:
    hole = HangingServer().start()  # accepts, never answers
    store = Store(f"postgresql+psycopg://switchboard@127.0.0.1:{hole.port}/x", retry_after=0)
    try:
        error, took = timed(3.0, lambda: store.get_call(CALL))
        assert isinstance(error, StoreUnavailable), error
        assert 1.9 < took < 3.0, took  # psycopg's shortest connect timeout: 2 s
        error, took = timed(budget.RESERVE + 0.01, lambda: store.get_call(CALL))
        assert isinstance(error, StoreUnavailable), error
        assert isinstance(error.__cause__, BudgetSpent), error.__cause__
        assert took < 0.1
    finally:
        hole.close()
        store.close()


def test_a_refused_postgresql_connection_is_not_waited_for() -> None:
    store = Store(f"postgresql+psycopg://switchboard@127.0.0.1:{free_port()}/x", retry_after=0)
    try:
        error, took = timed(2.0, lambda: store.get_call(CALL))
        assert isinstance(error, StoreUnavailable), error
        assert took < 0.5
    finally:
        store.close()
