"""The writer lock: one SQLite writer at a time across threads and processes."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from switchboard.callbacks.store.writelock import WriterBusy, WriterLock


def test_a_writer_elsewhere_makes_it_wait_then_give_up(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "db.sqlite3"), timeout=0.2)
    other = os.open(tmp_path / "db.sqlite3-writer", os.O_RDWR | os.O_CREAT)  # another "process"
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        with pytest.raises(WriterBusy, match="another process"), lock.hold():
            pass  # pragma: no cover - never entered
        fcntl.flock(other, fcntl.LOCK_UN)
        # The failed attempt released what it had taken: this one gets the file lock.
        with lock.hold(), pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again after the block
    finally:
        os.close(other)
        lock.close()


def test_an_error_inside_releases_it(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "db.sqlite3"), timeout=0.2)
    with pytest.raises(ZeroDivisionError), lock.hold():
        1 / 0  # noqa: B018
    got: list[bool] = []
    thread = threading.Thread(target=lambda: got.append(lock._thread_lock.acquire(timeout=1)))
    thread.start()
    thread.join()
    assert got == [True]
    lock.close()


def test_threads_take_turns(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "db.sqlite3"), timeout=5)
    inside = 0
    most = 0
    guard = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(50):
            with lock.hold():
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0002)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    lock.close()
