"""The write-behind's bound holds always: while the database is merely slow (a write stuck on
a lock) as well as down, at most ``hold`` rows wait; beyond that the expendable rows (webhook
exchanges) are dropped first, oldest first, then the oldest of the others (calls, messages,
steps), and said by table. And a flush under load writes the rows handed over before it, then
returns."""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from switchboard.callbacks.exchanges import exchanges, record_exchange
from switchboard.callbacks.store import Store, StoreUnavailable
from switchboard.callbacks.store.behind import Row, WriteBehind

from .test_write_behind import FakeDatabase, dropped, make

CALL = "CA" + "b" * 32


def sids(count: int) -> list[str]:
    return [f"{CALL[:-4]}{n:04d}" for n in range(count)]


class SlowDatabase:
    """A database up but slow: each write waits until ``go`` is set (or ``pause`` passes)."""

    def __init__(self, pause: float | None = None) -> None:
        self.go = threading.Event()
        self.pause = pause
        self.writing = threading.Event()
        self.sids: list[str] = []

    def write(self, rows: Sequence[Row]) -> None:
        self.writing.set()
        if self.pause is None:
            assert self.go.wait(10), "the test never let the write go"
        else:
            time.sleep(self.pause)
        self.sids.extend(sid for _, sid, _ in rows)

    def ready(self) -> None:
        pass


def test_rows_beyond_hold_are_dropped_while_a_write_is_stuck(
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = SlowDatabase()
    behind = WriteBehind(db.write, db.ready, delay=0.01, hold=100, retry=0.01)
    names = sids(1001)
    with caplog.at_level(logging.ERROR, "switchboard.callbacks.store"):
        behind.submit("calls", names[0], 0)
        assert db.writing.wait(5)  # the thread is in its write, which does not end
        most = 0
        for n, sid in enumerate(names[1:], 1):
            behind.submit("calls", sid, n)
            most = max(most, len(behind))
        assert most == 100
        assert "webhook rows dropped" in caplog.text  # said while it happens
        db.go.set()
        behind.flush()
        behind.close()
    assert db.sids == [names[0], *names[-100:]]  # the one in flight, then the newest
    assert dropped(caplog) == 900


def test_a_flush_under_load_returns_once_its_own_rows_are_written() -> None:
    """A request that reads a call flushes the rows handed over before it; rows that keep
    coming from other threads meanwhile are the thread's, or the request never ends."""
    db = SlowDatabase(pause=0.005)
    behind = WriteBehind(db.write, db.ready, delay=0.01, batch=50, retry=0.01)
    stop = threading.Event()

    def flood() -> None:
        n, end = 0, time.monotonic() + 30  # stopped by the test as soon as the flush returns
        while not stop.is_set() and time.monotonic() < end:
            behind.submit("calls", f"CA{n}", n)
            n += 1
            if n % 20 == 0:
                time.sleep(0.001)

    behind.submit("calls", "mine", None)
    flooding = threading.Thread(target=flood, daemon=True)
    flooding.start()
    try:
        time.sleep(0.05)
        started = time.monotonic()
        behind.flush()
        took = time.monotonic() - started
        assert "mine" in db.sids
        # The flood goes on until the test stops it: a flush that wrote the others' rows too
        # would only end with the flood (30 s). The machine's speed does not matter here.
        assert flooding.is_alive(), f"the flush took {took:.1f} s, writing the others' rows too"
        assert took < 20, f"the flush took {took:.1f} s, writing the others' rows too"
    finally:
        stop.set()
        flooding.join(5)
        behind.close()


def lock_out_writers(store: Store, sid: str) -> Any:
    """Another connection holding what the store's next write of ``sid`` needs: SQLite's write
    lock (``BEGIN IMMEDIATE``), PostgreSQL's lock on the call's row; its ``rollback()`` (or
    ``commit()``) lets the write go on."""
    if store.dialect == "sqlite":
        conn = sqlite3.connect(store.url.database or "", isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        return conn
    import psycopg

    conn = psycopg.connect(store.url.set(drivername="postgresql").render_as_string(False))
    conn.execute("SELECT sid FROM calls WHERE sid = %s FOR UPDATE", (sid,))
    return conn


def store_holding(database_url: str, hold: int) -> tuple[Store, WriteBehind]:
    """A store whose write-behind holds at most ``hold`` rows, and that write-behind."""
    store = Store(database_url, record_delay=0.01)
    store.create_all()
    behind = store._behind
    assert behind is not None
    behind.hold = hold
    return store, behind


@contextlib.contextmanager
def writes_held_back(store: Store, sid: str) -> Iterator[None]:
    """The call ``sid`` written, then its next write stuck on another connection's lock
    (:func:`lock_out_writers`), so that rows handed over meanwhile wait; on leaving, the lock
    let go and what waits flushed."""
    store.record_call({"CallSid": sid, "CallStatus": "queued"})
    store.get_call(sid)  # written: the next write of it updates the locked row
    other = lock_out_writers(store, sid)
    try:
        store.record_call({"CallSid": sid, "CallStatus": "ringing"})
        time.sleep(0.3)  # the thread takes it, and waits on the lock
        yield
        other.rollback()
        store.get_call(sid)  # flushes what waits
    finally:
        other.close()


def test_the_bound_holds_while_the_database_is_slow(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store, behind = store_holding(database_url, 50)
    names = sids(301)
    with caplog.at_level(logging.ERROR, "switchboard.callbacks.store"), \
            writes_held_back(store, names[0]):
        for sid in names[1:]:
            store.record_call({"CallSid": sid, "CallStatus": "ringing"})
            assert len(behind) <= 50
        assert len(behind) == 50
    try:
        with store.engine.connect() as conn:
            written = set(conn.execute(sa.text("SELECT sid FROM calls")).scalars())
        assert written == {names[0], *names[-50:]}
        assert store.get_call(names[0])["status"] == "ringing"
        assert dropped(caplog) == 250
    finally:
        store.close()


def test_the_rows_never_written_are_counted_in_all(caplog: pytest.LogCaptureFixture) -> None:
    """Each line says the rows dropped since the last one; the total since the start (each
    one a call or message the database will never hold) is kept and said too, with the
    rows that a close could not write."""
    db = SlowDatabase()
    behind = WriteBehind(db.write, db.ready, delay=0.01, hold=10, retry=0.01)
    names = sids(62)
    with caplog.at_level(logging.ERROR, "switchboard.callbacks.store"):
        behind.submit("calls", names[0], 0)
        assert db.writing.wait(5)
        for n, sid in enumerate(names[1:31], 1):
            behind.submit("calls", sid, n)
        db.go.set()
        behind.flush()
        db.go.clear()
        db.writing.clear()
        behind.submit("calls", names[31], 31)
        assert db.writing.wait(5)
        for n, sid in enumerate(names[32:], 32):
            behind.submit("calls", sid, n)
        db.go.set()
        behind.close()
    assert behind.dropped == 40  # 20 of each burst
    assert dropped(caplog) == 40
    assert "(40 in all since the start)" in caplog.text


# -- exchanges dropped first ---------------------------------------------------------------------

EXCHANGES = exchanges.name


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


def dropped_by_table(caplog: pytest.LogCaptureFixture) -> dict[str, int]:
    """The rows the log's lines say were dropped, by table, in all."""
    counts: dict[str, int] = {}
    for record in caplog.records:
        message = record.getMessage()
        if "rows dropped" in message:
            _, tables = message.split("; by table: ")
            for table, count in re.findall(r"(\w+) (\d+) \(\d+ in all\)", tables):
                counts[table] = counts.get(table, 0) + int(count)
    return counts


def test_exchanges_are_dropped_first_oldest_first_while_the_database_is_down(
    db: FakeDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    behind = make(db, delay=30, hold=6)
    db.down = True
    with caplog.at_level(logging.ERROR, "switchboard.callbacks.store"):
        for n in range(3):
            behind.submit("calls", f"CA{n}", n)
            behind.submit(EXCHANGES, f"EX{n}", n, expendable=True)
        assert len(behind) == 6  # the bound, nothing dropped yet
        behind.submit(EXCHANGES, "EX3", 3, expendable=True)  # the oldest exchange makes room
        behind.submit("calls", "CA3", 3)  # and for a call, the oldest exchange again
        assert behind.dropped_by_table == {EXCHANGES: 2}
        for n in range(4, 6):
            behind.submit("calls", f"CA{n}", n)  # EX2, EX3 go: only calls are left
        behind.submit(EXCHANGES, "EX4", 4, expendable=True)  # no room: it is the one dropped
        assert len(behind) == 6
        assert behind.dropped_by_table == {EXCHANGES: 5}
        behind.submit("calls", "CA6", 6)  # only calls left: the oldest call goes, as always
        assert behind.dropped_by_table == {EXCHANGES: 5, "calls": 1}
        assert behind.dropped == 6
        with pytest.raises(StoreUnavailable):
            behind.flush()
        db.down = False
        behind.flush()
        behind.close()
    assert db.sids == [f"CA{n}" for n in range(1, 7)]  # each call once, in order
    assert dropped(caplog) == 6
    assert dropped_by_table(caplog) == {EXCHANGES: 5, "calls": 1}
    assert "(6 in all since the start)" in caplog.text


def test_the_rows_kept_are_written_in_the_order_they_came_whatever_their_kind(
    db: FakeDatabase,
) -> None:
    behind = make(db, delay=30, hold=8)
    db.down = True
    sent = []
    for n in range(6):
        behind.submit("calls", f"CA{n}", n)
        behind.submit(EXCHANGES, f"EX{n}", n, expendable=True)
        sent += [f"CA{n}", f"EX{n}"]
    db.down = False
    behind.flush()
    behind.close()
    kept = [sid for sid in sent if sid not in {"EX0", "EX1", "EX2", "EX3"}]
    assert db.sids == kept  # one batch, calls and exchanges as they came


class GatedDatabase(FakeDatabase):
    """A database whose writes wait for ``gate`` (then fail while it is ``down``)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.writing = threading.Event()

    def write(self, rows: Sequence[Row]) -> None:
        self.writing.set()
        assert self.gate.wait(10), "the test never let the write go"
        super().write(rows)


def test_a_batch_that_fails_goes_back_in_front_and_exchanges_still_go_first() -> None:
    """The calls of a batch the database failed come back ahead of the rows handed over
    meanwhile; with the queue full, an exchange goes rather than the oldest call."""
    db = GatedDatabase()
    db.down = True
    behind = WriteBehind(db.write, db.ready, delay=0.01, hold=4, retry=0.01)
    behind.submit("calls", "CA0", 0)
    assert db.writing.wait(5)  # CA0 is being written, and fails once the gate opens
    behind.submit(EXCHANGES, "EX0", 0, expendable=True)
    for n in range(1, 4):
        behind.submit("calls", f"CA{n}", n)
    assert (len(behind), behind.dropped) == (4, 0)
    db.gate.set()
    deadline = time.monotonic() + 5
    while behind.dropped == 0:
        assert time.monotonic() < deadline, "the failed batch never came back"
        time.sleep(0.005)
    assert behind.dropped_by_table == {EXCHANGES: 1}
    db.down = False
    behind.flush()
    behind.close()
    assert db.sids == ["CA0", "CA1", "CA2", "CA3"]


def test_a_reader_waits_for_its_call_though_newer_exchanges_were_dropped(
    db: FakeDatabase,
) -> None:
    """Rows dropped out of order (exchanges newer than a waiting call) do not make a reader
    believe its own rows are written."""
    behind = make(db, delay=30, hold=1)
    db.down = True
    behind.submit("calls", "CA0", 0)

    def exchanges_come() -> None:
        time.sleep(0.05)
        for n in range(5):
            behind.submit(EXCHANGES, f"EX{n}", n, expendable=True)

    coming = threading.Thread(target=exchanges_come)
    coming.start()
    assert behind.wait_written(0.5) is False  # CA0 still waits for the database
    coming.join(5)
    assert behind.dropped_by_table == {EXCHANGES: 5}
    with pytest.raises(StoreUnavailable):
        behind.flush()
    db.down = False
    assert behind.wait_written(5) is True
    behind.close()
    assert db.sids == ["CA0"]


def exchange(sid: str) -> dict[str, Any]:
    return {
        "created_at": datetime.now(UTC), "kind": "voice", "endpoint": "ivr.welcome",
        "path": "/voice", "sid": sid, "call_sid": sid, "parent_call_sid": None,
        "status": 200, "answer": "<Response/>", "answer_bytes": 11, "fields": {},
        "duplicate": None, "error": None, "problem": None, "duration_ms": 1.0,
    }


def test_a_store_held_back_keeps_its_calls_and_drops_its_oldest_exchanges(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Each webhook's call and its exchange, 40 of each into a bound of 50 while the database
    cannot take them: every call is written once it can, with the newest 10 exchanges."""
    store, behind = store_holding(database_url, 50)
    names = sids(41)
    with caplog.at_level(logging.ERROR, "switchboard.callbacks.store"), \
            writes_held_back(store, names[0]):
        for sid in names[1:]:
            store.record_call({"CallSid": sid, "CallStatus": "ringing"})
            record_exchange(store, exchange(sid))
            assert len(behind) <= 50
        assert len(behind) == 50
        assert store.rows_dropped_by_table == {EXCHANGES: 30}
    try:
        with store.engine.connect() as conn:
            calls = set(conn.execute(sa.text("SELECT sid FROM calls")).scalars())
            kept = set(conn.execute(sa.select(exchanges.c.sid)).scalars())
        assert calls == set(names)
        assert kept == set(names[-10:])
        assert store.rows_dropped == 30
        assert dropped_by_table(caplog) == {EXCHANGES: 30}
    finally:
        store.close()
