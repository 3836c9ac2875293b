"""The ``webhook_exchanges`` table in the store, on SQLite and PostgreSQL: made by
``create_all``, written through ``Store.defer``, and its old rows deleted in bounded batches,
the recent ones left, from a thread now and then; its retention setting."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from switchboard.callbacks.exchanges import (
    PURGE_BATCH,
    Purger,
    exchanges,
    purge_exchanges,
    record_exchange,
)
from switchboard.callbacks.store import Store
from switchboard.config import ConfigError, load_settings
from tests.server.conftest import Twilio, call_params, make_app

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def row(created_at: datetime, sid: str = "CA" + "0" * 32, **extra: Any) -> dict[str, Any]:
    return {
        "created_at": created_at, "kind": "voice", "endpoint": "ivr.menu",
        "path": "/voice/menu", "sid": sid, "call_sid": sid, "parent_call_sid": None,
        "status": 200, "answer": "<Response/>", "answer_bytes": 11,
        "fields": {"Digits": "1"}, "duplicate": None, "error": None, "problem": None,
        "duration_ms": 1.5, **extra,
    }


def insert(store: Store, rows: list[dict[str, Any]]) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.insert(exchanges), rows)


def count(store: Store, *where: Any) -> int:
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(exchanges).where(*where)).scalar_one()


def test_create_all_makes_the_table_with_its_indexes(store: Store) -> None:
    with store.engine.connect() as conn:
        indexes = {index["name"] for index in sa.inspect(conn).get_indexes(exchanges.name)}
    assert {"ix_webhook_exchanges_call_sid_created_at", "ix_webhook_exchanges_created_at",
            "ix_webhook_exchanges_problems"} <= indexes


def test_a_deferred_row_is_written_after_and_read_back_as_handed_over(
    database_url: str,
) -> None:
    store = Store(database_url, record_delay=5)
    try:
        store.create_all()
        handed = row(NOW, problem="fallback", fields={"ErrorCode": "11200", "Digits": "é"})
        record_exchange(store, handed)
        assert count(store) == 0  # waiting in the write-behind, for up to 5 s
        store.flush()
        with store.engine.connect() as conn:
            (stored,) = conn.execute(sa.select(exchanges)).mappings()
        assert {key: stored[key] for key in handed} == handed
    finally:
        store.close()


def test_the_purge_deletes_only_old_rows_in_bounded_batches(store: Store) -> None:
    old = [row(NOW - timedelta(days=31, seconds=i)) for i in range(PURGE_BATCH * 2 + 200)]
    recent = [row(NOW - timedelta(days=29, hours=23)), row(NOW)]
    insert(store, old + recent)
    deleted_per_statement: list[int] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM WEBHOOK_EXCHANGES"):
            deleted_per_statement.append(cursor.rowcount)

    event.listen(store.engine, "after_cursor_execute", note)
    try:
        assert purge_exchanges(store, timedelta(days=30), now=NOW, batches=1) == PURGE_BATCH
        assert count(store) == len(old) + len(recent) - PURGE_BATCH
        assert purge_exchanges(store, timedelta(days=30), now=NOW) == len(old) - PURGE_BATCH
    finally:
        event.remove(store.engine, "after_cursor_execute", note)
    assert deleted_per_statement == [PURGE_BATCH, PURGE_BATCH, 200]
    assert count(store) == len(recent)
    assert count(store, exchanges.c.created_at < NOW - timedelta(days=30)) == 0
    assert purge_exchanges(store, timedelta(days=30), now=NOW) == 0


def test_the_purger_runs_in_its_own_thread_once_per_interval(store: Store) -> None:
    insert(store, [row(datetime.now(UTC) - timedelta(days=40)), row(datetime.now(UTC))])
    purger = Purger(timedelta(days=30), every=3600)
    caller = threading.current_thread()
    threads: list[str] = []

    def watch(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            threads.append(threading.current_thread().name)
            assert threading.current_thread() is not caller

    event.listen(store.engine, "after_cursor_execute", watch)
    try:
        purger(store)
        deadline = time.monotonic() + 5
        while count(store) != 1:
            assert time.monotonic() < deadline, "the old row was never purged"
            time.sleep(0.02)
        while not purger._lock.acquire(blocking=False):  # its round is over
            time.sleep(0.01)
        purger._lock.release()
        insert(store, [row(datetime.now(UTC) - timedelta(days=40))])
        purger(store)  # within the interval: nothing starts
        time.sleep(0.2)
    finally:
        event.remove(store.engine, "after_cursor_execute", watch)
    assert threads == ["switchboard-exchanges-purge"]
    assert count(store) == 2


def test_a_purge_that_fails_is_logged_and_changes_nothing(
    caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the database folder should be")
    store = Store(f"sqlite:///{blocker / 'db.sqlite3'}")
    purger = Purger(timedelta(days=1))
    purger(store)
    deadline = time.monotonic() + 5
    while "old webhook exchanges not purged" not in caplog.text:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    store.close()


def test_the_retention_setting(sqlite_url: str) -> None:
    assert load_settings(environ={}).exchanges_retention_days == 30
    settings = load_settings(environ={"SWITCHBOARD_EXCHANGES_RETENTION_DAYS": "7.5"})
    assert settings.exchanges_retention_days == 7.5
    for bad in ("-1", "3651", "soon"):
        with pytest.raises(ConfigError, match="SWITCHBOARD_EXCHANGES_RETENTION_DAYS"):
            load_settings(environ={"SWITCHBOARD_EXCHANGES_RETENTION_DAYS": bad})
    app = make_app(sqlite_url, SWITCHBOARD_EXCHANGES_RETENTION_DAYS="7")
    try:
        assert app.extensions["switchboard"].exchange_purger.retention == timedelta(days=7)
    finally:
        app.extensions["switchboard"].store.close()


def test_a_retention_of_0_records_no_exchange_and_deletes_those_kept(sqlite_url: str) -> None:
    app = make_app(sqlite_url, SWITCHBOARD_EXCHANGES_RETENTION_DAYS="0")
    store = app.extensions["switchboard"].store
    try:
        insert(store, [row(datetime.now(UTC) - timedelta(minutes=1))])  # an earlier setting's
        params = call_params()
        assert Twilio(app.test_client()).post("/voice", params).status_code == 200
        store.flush()
        assert store.get_call(params["CallSid"]) is not None  # the call's own row still goes
        deadline = time.monotonic() + 5
        while count(store):
            assert time.monotonic() < deadline, "the exchange kept before was never deleted"
            time.sleep(0.02)
    finally:
        store.close()
