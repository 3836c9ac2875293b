"""SQLite's log copied back into the database off the request path, and started over."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from switchboard.callbacks.store import Store
from switchboard.callbacks.store.checkpoint import _Job
from switchboard.callbacks.store.engine import sqlite_path

CALL = "CA" + "5" * 30


def write(store: Store, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        store.record_call({"CallSid": f"{CALL}{n:02d}", "CallStatus": "ringing"})


def log_frames(path: str) -> int:
    """Pages in the log, from a connection of its own (a PASSIVE checkpoint's report)."""
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def checkpointed_calls(path: str) -> int:
    """Calls in the database file itself, ignoring the log."""
    uri = f"file:{path}?immutable=1"
    with sqlite3.connect(uri, uri=True) as conn:
        return conn.execute("SELECT count(*) FROM calls").fetchone()[0]


def hold_writer_lock(store: Store, seconds: float) -> threading.Thread:
    """Another thread of the process holds the writer lock for ``seconds`` (a long write)."""
    held = threading.Event()

    def writer() -> None:
        assert store._writer_lock is not None
        with store._writer_lock.hold():
            held.set()
            time.sleep(seconds)

    thread = threading.Thread(target=writer)
    thread.start()
    held.wait(5)
    return thread


def test_a_small_log_is_copied_without_waiting_for_the_writers(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.create_all()
    path = sqlite_path(store.url)
    assert path is not None
    write(store, 20)
    job = _Job(lambda: store.engine, store._writer_lock, restart=10_000)  # type: ignore[arg-type]
    writer = hold_writer_lock(store, 3)
    started = time.monotonic()
    job.checkpoint(store.engine)
    waited = time.monotonic() - started
    writer.join()
    assert waited < 1.5, "the checkpoint waited for the writer lock"
    assert checkpointed_calls(path) == 20
    store.close()


def test_a_log_past_the_threshold_is_completed_under_the_writer_lock_and_starts_over(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.create_all()
    path = sqlite_path(store.url)
    assert path is not None
    job = _Job(lambda: store.engine, store._writer_lock, restart=30)  # type: ignore[arg-type]
    write(store, 40)
    writer = hold_writer_lock(store, 0.5)
    started = time.monotonic()
    job.checkpoint(store.engine)
    waited = time.monotonic() - started
    writer.join()
    assert waited >= 0.3, "a log past the threshold must be completed under the writer lock"
    assert checkpointed_calls(path) == 40
    grown = log_frames(path)
    write(store, 1, start=40)  # the next writer starts the log over
    assert log_frames(path) < grown / 4
    store.close()
