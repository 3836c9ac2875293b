"""The store's circuit breaker: once the database failed a webhook's operation, the next ones
fail at once for a while instead of each waiting for the same dead database; a thread finds
out when it is back, off the request path; a lock stops writes only."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from switchboard.callbacks.deadline import Deadline
from switchboard.callbacks.store import Store, StoreUnavailable
from switchboard.callbacks.store.breaker import Breaker
from tests.conftest import free_port
from tests.load.servers import HangingServer

CALL = "CA" + "c" * 32


def status(value: str = "completed") -> dict[str, str]:
    return {"CallSid": CALL, "CallStatus": value, "SequenceNumber": "0"}


def in_handler(work: Callable[[], Any], seconds: float = 2.0) -> tuple[Any, float]:
    """``work()`` under a handler's deadline: its result or exception, and its time."""
    started = time.monotonic()
    try:
        result: Any = Deadline(seconds).run(work)
    except Exception as error:
        result = error
    return result, time.monotonic() - started


def connects(store: Store) -> list[float]:
    """The times at which the store asks its engine for a connection, from now on."""
    attempts: list[float] = []
    engine = store.engine
    checkout = engine.raw_connection

    def counted() -> Any:
        attempts.append(time.monotonic())
        return checkout()

    engine.raw_connection = counted  # type: ignore[method-assign]
    return attempts


@pytest.fixture(params=["sqlite", "postgresql"])
def down_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that cannot be reached: an SQLite file under a plain file, a PostgreSQL
    port nothing listens on."""
    if request.param == "sqlite":
        blocker = tmp_path / "blocked"
        blocker.write_text("where the folder should be")
        return f"sqlite:///{blocker / 'db.sqlite3'}"
    return f"postgresql+psycopg://switchboard@127.0.0.1:{free_port()}/nowhere"


def test_after_a_failure_webhooks_fail_at_once_without_trying(down_url: str) -> None:
    store = Store(down_url, retry_after=30)
    try:
        first, _ = in_handler(lambda: store.get_call(CALL))
        assert isinstance(first, StoreUnavailable)
        assert store.breaker is not None
        assert store.breaker.open is not None
        attempts = connects(store)
        for work in (lambda: store.get_call(CALL), lambda: store.record_call_status(status()),
                     lambda: store.load_voice_session(CALL), store.ensure_schema):
            error, took = in_handler(work)
            assert isinstance(error, StoreUnavailable), error
            assert "tried again in" in str(error)
            assert error.reason.startswith(first.reason)
            assert took < 0.05
        assert attempts == []
        # Outside a handler (a script, the write-behind) the store still tries.
        with pytest.raises(StoreUnavailable):
            store.get_call(CALL)
        assert attempts
    finally:
        store.close()


def test_the_breaker_closes_by_itself_when_the_database_returns(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("where the folder should be")
    store = Store(f"sqlite:///{blocker / 'db.sqlite3'}", retry_after=0.3)
    try:
        error, _ = in_handler(lambda: store.record_call_status(status()))
        assert isinstance(error, StoreUnavailable)
        assert not store.schema_ready
        blocker.unlink()  # the database can be made again
        deadline = time.monotonic() + 5
        while store.breaker.open is not None and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.02)
        assert store.breaker.open is None  # type: ignore[union-attr]
        assert store.breaker.probes >= 1  # type: ignore[union-attr]
        assert store.schema_ready, "the probe creates the tables"
        result, _ = in_handler(lambda: store.record_call_status(status()))
        assert result is True
    finally:
        store.close()


def test_a_held_lock_stops_writes_only(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}", retry_after=30)
    store.create_all()
    store.save_voice_session(CALL, {"step": 1})
    other = sqlite3.connect(str(tmp_path / "db.sqlite3"), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        error, took = in_handler(lambda: store.save_voice_session(CALL, {"step": 2}), 0.8)
        assert isinstance(error, StoreUnavailable)
        assert took > 0.4  # it waited for the lock, within the deadline
        error, took = in_handler(lambda: store.record_call_status(status()))
        assert isinstance(error, StoreUnavailable)
        assert took < 0.05  # it did not
        session, took = in_handler(lambda: store.load_voice_session(CALL))
        assert session == {"step": 1}  # reads go on
    finally:
        other.close()
        store.close()


def test_the_health_check_looks_past_the_breaker_and_closes_it(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("where the folder should be")
    store = Store(f"sqlite:///{blocker / 'db.sqlite3'}", retry_after=30)
    try:
        in_handler(lambda: store.get_call(CALL))
        assert store.breaker.open is not None  # type: ignore[union-attr]
        error, _ = in_handler(store.check)
        assert isinstance(error, StoreUnavailable)
        assert "tried again" not in str(error)  # it looked
        blocker.unlink()
        result, _ = in_handler(store.check)
        assert result is None
        assert store.breaker.open is None  # type: ignore[union-attr]
        assert in_handler(lambda: store.record_call_status(status()))[0] is True
    finally:
        store.close()


def test_a_failure_of_the_statement_does_not_open_it(database_url: str) -> None:
    store = Store(database_url, retry_after=30)
    store.create_all()
    try:
        error, _ = in_handler(lambda: store._run(
            lambda conn: conn.exec_driver_sql("SELECT no_such_column FROM calls")))
        assert isinstance(error, StoreUnavailable)
        assert store.breaker.open is None  # type: ignore[union-attr]
        assert in_handler(lambda: store.record_call_status(status()))[0] is True
    finally:
        store.close()


def test_retry_after_zero_turns_it_off(down_url: str) -> None:
    store = Store(down_url, retry_after=0)
    try:
        assert store.breaker is None
        attempts = connects(store)
        for _ in range(3):
            assert isinstance(in_handler(lambda: store.get_call(CALL))[0], StoreUnavailable)
        assert len(attempts) >= 3
    finally:
        store.close()


def test_closing_the_store_forgets_the_failure_and_stops_probing(down_url: str) -> None:
    store = Store(down_url, retry_after=0.1)
    in_handler(lambda: store.get_call(CALL))
    breaker = store.breaker
    assert breaker is not None
    assert breaker.open is not None
    store.close()
    assert breaker.open is None
    time.sleep(0.3)
    assert breaker._prober is None


def test_a_failure_that_began_before_it_closed_does_not_open_it_again() -> None:
    breaker = Breaker(lambda: None, interval=30)
    error = StoreUnavailable("database x is unavailable (test)", reason="test")
    began = time.monotonic()
    breaker.failed(error, everything=True, request=False)
    breaker.succeeded(write=True)
    assert breaker.open is None
    breaker.failed(error, everything=True, request=False, started=began)
    assert breaker.open is None
    breaker.failed(error, everything=True, request=False, started=time.monotonic())
    assert breaker.open is error


def test_an_operation_stuck_on_the_frozen_host_fails_late_without_reopening_it(
    postgresql_url: str,
) -> None:
    """A connection being opened while the database host was frozen stays dead after it comes
    back: the operation waiting on it fails seconds later (its ``connect_timeout``), after the
    breaker closed. That stale
    failure leaves the breaker closed; webhooks go on using the database."""
    target = sa.make_url(postgresql_url)
    proxy = HangingServer((target.host or "127.0.0.1", target.port or 5432)).start()
    url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    store = Store(url, retry_after=30, busy_timeout=2.0, connect_timeout=2.0)
    try:
        store.create_all()
        store.engine.dispose()  # the next operations connect while the host is frozen
        proxy.hang()
        stuck: list[BaseException] = []

        def off_request_path() -> None:  # a script's read, say: no handler's deadline
            try:
                store.get_call(CALL)
            except StoreUnavailable as failure:
                stuck.append(failure)

        waiting = threading.Thread(target=off_request_path)
        waiting.start()
        time.sleep(0.2)
        error, _ = in_handler(lambda: store.get_call(CALL), 0.3)
        assert isinstance(error, StoreUnavailable)
        assert store.breaker is not None
        assert store.breaker.open is not None
        proxy.resume()
        assert in_handler(store.check, 5)[0] is None
        assert store.breaker.open is None
        waiting.join(15)
        assert stuck, "the operation on the frozen connection did not fail"  # after the close
        assert store.breaker.open is None
        assert in_handler(lambda: store.record_call_status(status()))[0] is True
    finally:
        store.close()
        proxy.close()
