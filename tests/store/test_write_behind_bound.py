"""The write-behind's bound holds always: while the database is merely slow (a write stuck on
a lock) as well as down, at most ``hold`` rows wait; the oldest beyond that are dropped and
said. And a flush under load writes the rows handed over before it, then returns."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from switchboard.callbacks.store import Store
from switchboard.callbacks.store.behind import Row, WriteBehind

from .test_write_behind import dropped

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


def test_the_bound_holds_while_the_database_is_slow(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(database_url, record_delay=0.01)
    store.create_all()
    behind = store._behind
    assert behind is not None
    behind.hold = 50
    names = sids(301)
    store.record_call({"CallSid": names[0], "CallStatus": "queued"})
    store.get_call(names[0])  # written: the next write of it updates the locked row
    other = lock_out_writers(store, names[0])
    try:
        with caplog.at_level(logging.ERROR, "switchboard.callbacks.store"):
            store.record_call({"CallSid": names[0], "CallStatus": "ringing"})
            time.sleep(0.3)  # the thread takes it, and waits on the lock
            for sid in names[1:]:
                store.record_call({"CallSid": sid, "CallStatus": "ringing"})
                assert len(behind) <= 50
            assert len(behind) == 50
            other.rollback()
            store.get_call(names[0])  # flushes what waits
    finally:
        other.close()
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
