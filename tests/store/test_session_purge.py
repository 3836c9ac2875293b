"""Idle sessions are purged now and then: voice sessions a day after their last save (the call
ended long ago), SMS conversations past their 4-hour expiry, so that neither table grows
forever. A session save starts the purge, in a thread of its own, every few minutes per
process, a few hundred rows at a time; a session saved again while the purge runs is kept."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from switchboard.callbacks.store import Store, schema
from switchboard.callbacks.store.statements import PURGE_LIMIT

from .conftest import FakeClock
from .test_purge_off_request import wait_for_purge


def count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


@pytest.fixture
def deletes(store: Store) -> Iterator[list[str]]:
    """The DELETE statements the store runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    yield seen
    event.remove(store.engine, "before_cursor_execute", record)


def test_a_save_purges_the_sessions_idle_too_long(store: Store, clock: FakeClock) -> None:
    store.save_voice_session("CA-old", {"step": 1})
    store.save_sms_session("+1500", "+1600", {"step": 1})
    wait_for_purge(store)  # the first save's, which finds nothing idle yet
    clock.advance(hours=5)
    store.save_voice_session("CA-recent", {"step": 1})  # the call goes on: kept
    clock.advance(hours=19, seconds=1)  # CA-old: a day and a second; the SMS: 24 h
    store.session_purge_every = 0  # it is time for the next purge
    store.save_voice_session("CA-new", {"step": 1})
    wait_for_purge(store)
    with store.engine.connect() as conn:
        left = set(conn.execute(sa.select(schema.voice_sessions.c.call_sid)).scalars())
    assert left == {"CA-recent", "CA-new"}
    assert count(store, schema.sms_sessions) == 0


def test_an_idle_voice_session_is_not_read_back(store: Store, clock: FakeClock) -> None:
    """Whether or not the purge has come by yet."""
    store.save_voice_session("CA1", {"step": 1})
    clock.advance(hours=23, minutes=59)
    assert store.load_voice_session("CA1") == {"step": 1}
    clock.advance(minutes=2)
    assert store.load_voice_session("CA1") == {}


def test_the_purge_runs_now_and_then_not_at_every_save(
    store: Store, clock: FakeClock, deletes: list[str]
) -> None:
    for n in range(30):
        store.save_voice_session(f"CA{n}", {"n": n})
        store.save_sms_session("+1500", f"+1{n}", {"n": n})
        wait_for_purge(store)
        clock.advance(hours=2)
    # The first save of the process purged (voice, SMS); none of the 59 others.
    assert len(deletes) == 2, deletes
    assert count(store, schema.voice_sessions) == 30


def test_a_backlog_goes_a_bounded_batch_at_a_time(
    store: Store, clock: FakeClock, deletes: list[str]
) -> None:
    with store.engine.begin() as conn:
        conn.execute(schema.voice_sessions.insert(), [
            {"call_sid": f"CA{n}", "data": "{}", "updated_at": clock.now}
            for n in range(PURGE_LIMIT * 2 + 10)
        ])
    clock.advance(days=2)
    store.save_voice_session("CA-live", {})  # one batch now...
    wait_for_purge(store)
    assert count(store, schema.voice_sessions) == PURGE_LIMIT + 10 + 1
    store.save_voice_session("CA-live", {})
    wait_for_purge(store)
    assert count(store, schema.voice_sessions) == PURGE_LIMIT + 10 + 1
    time.sleep(1.1)  # ...the next a second later, not minutes, while batches come back full
    store.save_voice_session("CA-live", {})
    wait_for_purge(store)
    assert count(store, schema.voice_sessions) == 10 + 1
    assert store.purge_voice_sessions() == 10  # the rest on demand
    assert count(store, schema.voice_sessions) == 1


def test_purge_idle_sessions_says_how_many(store: Store, clock: FakeClock) -> None:
    store.save_voice_session("CA1", {})
    store.save_sms_session("+1500", "+1600", {})
    wait_for_purge(store)  # the first save's, which finds nothing idle yet
    clock.advance(hours=5)
    store.save_sms_session("+1500", "+1700", {})
    assert store.purge_idle_sessions() == 1  # the first conversation
    clock.advance(days=1)
    assert store.purge_idle_sessions() == 2
    assert count(store, schema.voice_sessions) + count(store, schema.sms_sessions) == 0


def test_the_index_the_purge_uses_is_added_to_an_older_database(database_url: str) -> None:
    """``create_all`` makes a table with its indexes, but adds none to a table that exists:
    a database made before ``voice_sessions.updated_at`` had one gets it at start-up."""
    old = sa.MetaData()
    sa.Table("voice_sessions", old, sa.Column("call_sid", sa.String, primary_key=True),
             sa.Column("data", sa.Text, nullable=False),
             sa.Column("updated_at", schema.UTCDateTime, nullable=False))
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        old.create_all(conn)
    engine.dispose()
    store = Store(database_url)
    try:
        store.create_all()
        with store.engine.connect() as conn:
            indexes = sa.inspect(conn).get_indexes("voice_sessions")
        assert [index["column_names"] for index in indexes] == [["updated_at"]]
        store.save_voice_session("CA1", {"a": 1})
        assert store.load_voice_session("CA1") == {"a": 1}
    finally:
        store.close()


def test_a_session_saved_while_the_purge_waits_for_it_is_kept(
    database_url: str, clock: FakeClock
) -> None:
    """The purge picks the idle sessions, then deletes them: one saved again in between (its
    transaction still open when the purge starts) must survive. On SQLite the purge waits for
    the writer lock; on PostgreSQL it skips the row the save holds (``SKIP LOCKED``), and
    the outer idle test would still keep it if it waited."""
    store = Store(database_url, clock=clock)
    store.create_all()
    try:
        store.save_voice_session("CA1", {"step": 1})
        clock.advance(days=2)
        now = clock.now.replace(tzinfo=None)
        if store.dialect == "sqlite":
            other: Any = sqlite3.connect(store.url.database or "", isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE voice_sessions SET data = ?, updated_at = ? "
                          "WHERE call_sid = 'CA1'", ('{"step": 2}', now.isoformat(" ")))
        else:
            import psycopg

            other = psycopg.connect(store.url.set(drivername="postgresql")
                                    .render_as_string(False))
            other.execute("UPDATE voice_sessions SET data = %s, updated_at = %s "
                          "WHERE call_sid = 'CA1'", ('{"step": 2}', now))
        purged: list[int] = []
        purge = threading.Thread(target=lambda: purged.append(store.purge_voice_sessions()))
        purge.start()
        time.sleep(0.3)  # the purge waits for the save's transaction (SQLite) or skips it
        other.commit() if store.dialect != "sqlite" else other.execute("COMMIT")
        other.close()
        purge.join(15)
        assert purged == [0]
        assert store.load_voice_session("CA1") == {"step": 2}
    finally:
        store.close()
