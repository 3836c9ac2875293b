"""The write-behind queue on its own: batches, order, outages, bad rows, exit, fork."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from switchboard.callbacks.store import Store, StoreUnavailable
from switchboard.callbacks.store.behind import Row, WriteBehind
from tests.forking import child_report

from .conftest import TCPProxy


class FakeDatabase:
    """Records the batches written; can be down, or refuse rows whose data is "bad"."""

    def __init__(self) -> None:
        self.batches: list[list[Row]] = []
        self.down = False
        self.written = threading.Event()
        self.threads: set[str] = set()

    def write(self, rows: Sequence[Row]) -> None:
        self.threads.add(threading.current_thread().name)
        if self.down:
            raise StoreUnavailable("database test is unavailable (down)")
        if any(data == "bad" for _, _, data in rows):
            raise StoreUnavailable("database test is unavailable (refused: bad)")
        self.batches.append(list(rows))
        self.written.set()

    def ready(self) -> None:
        if self.down:
            raise StoreUnavailable("database test is unavailable (down)")

    @property
    def sids(self) -> list[str]:
        return [sid for batch in self.batches for _, sid, _ in batch]

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.sids) < count:
            assert time.monotonic() < deadline, f"only {self.sids} written"
            time.sleep(0.005)


def dropped(caplog: pytest.LogCaptureFixture) -> int:
    """The rows the log says were dropped, in all."""
    said = [r.getMessage() for r in caplog.records if "rows dropped" in r.getMessage()]
    return sum(int(message.split()[0]) for message in said)


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


def make(db: FakeDatabase, **options: float) -> WriteBehind:
    options.setdefault("delay", 0.05)
    options.setdefault("retry", 0.02)
    return WriteBehind(db.write, db.ready, **options)  # type: ignore[arg-type]


def test_rows_handed_over_together_are_written_in_one_batch_in_order(db: FakeDatabase) -> None:
    behind = make(db, delay=0.5)
    for n in range(10):
        behind.submit("calls", f"CA{n}", n)
    assert db.batches == []  # nothing yet: the rows wait for the others of their delay
    db.wait_for(10)
    assert len(db.batches) == 1
    assert db.sids == [f"CA{n}" for n in range(10)]
    assert db.threads == {"switchboard-write-behind"}
    assert len(behind) == 0
    behind.close()


def test_a_full_batch_is_written_at_once(db: FakeDatabase) -> None:
    behind = make(db, delay=30, batch=4)
    for n in range(4):
        behind.submit("calls", f"CA{n}", n)
    db.wait_for(4, timeout=5)  # long before the 30 s delay
    behind.close()


def test_flush_writes_in_the_calling_thread(db: FakeDatabase) -> None:
    behind = make(db, delay=30)
    behind.submit("messages", "SM1", 1)
    behind.flush()
    assert db.sids == ["SM1"]
    assert threading.current_thread().name in db.threads
    behind.close()


def test_an_outage_keeps_the_rows_until_the_database_is_back(
    db: FakeDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    behind = make(db, delay=0.01)
    db.down = True
    with caplog.at_level(logging.WARNING, "switchboard.callbacks.store"):
        for n in range(5):
            behind.submit("calls", f"CA{n}", n)
        time.sleep(0.2)  # several retries
        with pytest.raises(StoreUnavailable):
            behind.flush()
        behind.submit("calls", "CA5", 5)
        assert len(behind) == 6
        db.down = False
        db.wait_for(6)
    assert db.sids == [f"CA{n}" for n in range(6)]  # in the order they came
    waits = [r for r in caplog.records if "wait for the database" in r.getMessage()]
    assert len(waits) == 1, "one warning per outage, not one per retry"
    assert "rows are written again" in caplog.text
    behind.close()


def test_rows_beyond_hold_are_dropped_oldest_first_and_said(
    db: FakeDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    behind = make(db, delay=30, hold=3)
    db.down = True
    with caplog.at_level(logging.ERROR, "switchboard.callbacks.store"):
        for n in range(5):
            behind.submit("calls", f"CA{n}", n)
        assert len(behind) == 3  # as they come, not only once a write has failed
        with pytest.raises(StoreUnavailable):
            behind.flush()
        db.down = False
        behind.flush()
        behind.close()
    assert db.sids == ["CA2", "CA3", "CA4"]
    assert dropped(caplog) == 2


def test_a_row_the_database_refuses_is_dropped_alone(
    db: FakeDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    behind = make(db, delay=30)
    for n, data in enumerate([1, "bad", 3]):
        behind.submit("calls", f"CA{n}", data)
    with caplog.at_level(logging.WARNING, "switchboard.callbacks.store"):
        behind.flush()
    assert db.sids == ["CA0", "CA2"]
    assert "calls row CA1 not recorded" in caplog.text
    assert len(behind) == 0
    behind.close()


def test_close_writes_what_waits_and_the_queue_stays_usable(db: FakeDatabase) -> None:
    behind = make(db, delay=30)
    behind.submit("calls", "CA1", 1)
    behind.close()
    assert db.sids == ["CA1"]
    behind.submit("calls", "CA2", 2)  # a new thread after close
    behind.close()
    assert db.sids == ["CA1", "CA2"]


def test_close_with_the_database_down_says_how_many_rows_are_lost(
    db: FakeDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    behind = make(db, delay=30)
    db.down = True
    behind.submit("calls", "CA1", 1)
    behind.submit("calls", "CA2", 2)
    with caplog.at_level(logging.ERROR, "switchboard.callbacks.store"):
        behind.close()
    assert "2 webhook rows lost" in caplog.text
    assert len(behind) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_does_not_write_its_parents_rows(db: FakeDatabase) -> None:
    behind = make(db, delay=30)
    behind.submit("calls", "CA-parent", 1)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nothing of the parent's, and a queue of its own that works
        try:
            try:
                child = FakeDatabase()
                behind._write = child.write  # type: ignore[method-assign]
                pending = len(behind)
                behind.submit("calls", "CA-child", 2)
                behind.flush()
                report = f"{pending} {child.sids}"
            except BaseException as error:
                report = repr(error)
            os.write(write, report.encode())
        finally:
            os._exit(0)
    os.close(write)
    answer, _ = child_report(pid, read)
    assert answer.decode() == "0 ['CA-child']"
    assert len(behind) == 1
    behind.close()
    assert db.sids == ["CA-parent"]


# -- the store with a record_delay, on SQLite and PostgreSQL -----------------------------------

CALL = "CA" + "7" * 32
MESSAGE = "SM" + "7" * 32


def test_rows_are_written_within_the_delay_and_read_back_at_once(database_url: str) -> None:
    store = Store(database_url, record_delay=0.05)
    store.create_all()
    other = Store(database_url)  # another process would see what this one sees
    try:
        store.record_call({"CallSid": CALL, "CallStatus": "ringing", "From": "+15551230001"})
        store.record_message({"MessageSid": MESSAGE, "Body": "hello", "From": "+15551230001"})
        deadline = time.monotonic() + 5
        while other.get_call(CALL) is None or other.get_message(MESSAGE) is None:
            assert time.monotonic() < deadline, "the rows were never written"
            time.sleep(0.01)
        assert other.get_call(CALL)["from"] == "+15551230001"
        assert other.get_message(MESSAGE)["direction"] == "inbound"

        store.record_call({"CallSid": CALL, "CallStatus": "in-progress", "CallerName": "Ann"})
        row = store.get_call(CALL)  # this process reads its own rows at once
        assert (row["status"], row["caller_name"]) == ("in-progress", "Ann")
    finally:
        other.close()
        store.close()


def test_a_row_written_after_a_later_status_callback_moves_nothing_back(
    database_url: str, clock: Any
) -> None:
    store = Store(database_url, record_delay=30, clock=clock)
    store.create_all()
    try:
        webhook_time = clock.now
        store.record_call({"CallSid": CALL, "CallStatus": "ringing", "From": "+15551230001"})
        clock.advance(seconds=40)
        completed = {"CallSid": CALL, "CallStatus": "completed", "SequenceNumber": "3",
                     "CallDuration": "31"}
        assert store.record_call_status(completed, "tok-1")  # stored before the webhook's row
        row = store.get_call(CALL)  # flushes the webhook's row, which lands second
        assert row["status"] == "completed"
        assert row["duration"] == 31
        assert row["from"] == "+15551230001"
        assert row["created_at"] == webhook_time
        assert row["updated_at"] == clock.now
    finally:
        store.close()


def test_close_writes_the_rows_still_waiting(database_url: str) -> None:
    store = Store(database_url, record_delay=30)
    store.create_all()
    store.record_call({"CallSid": CALL, "CallStatus": "ringing"})
    store.close()
    other = Store(database_url)
    assert other.get_call(CALL)["status"] == "ringing"
    other.close()


def test_rows_wait_out_a_postgresql_outage(postgresql_url: str) -> None:
    target = sa.make_url(postgresql_url)
    proxy = TCPProxy((target.host or "127.0.0.1", target.port or 5432))
    proxy.start()
    store = Store(target.set(port=proxy.port), connect_timeout=1, record_delay=0.02)
    try:
        store.create_all()
        proxy.stop()
        for n in range(20):  # answered at once, while the database is away
            store.record_call({"CallSid": f"{CALL[:-2]}{n:02d}", "CallStatus": "ringing"})
        time.sleep(0.3)
        assert len(store._behind) == 20  # type: ignore[arg-type]
        proxy.start()
        other = Store(postgresql_url)
        deadline = time.monotonic() + 10
        while other.get_call(f"{CALL[:-2]}19") is None:
            assert time.monotonic() < deadline, "the rows were not written after the outage"
            time.sleep(0.05)
        assert all(other.get_call(f"{CALL[:-2]}{n:02d}") for n in range(20))
        other.close()
    finally:
        store.close()
        proxy.stop()


def test_a_program_that_exits_writes_its_rows_first(sqlite_url: str) -> None:
    program = (
        "import sys; from switchboard.callbacks.store import Store\n"
        "store = Store(sys.argv[1], record_delay=30); store.create_all()\n"
        f"store.record_call({{'CallSid': '{CALL}', 'CallStatus': 'ringing'}})\n"
    )
    subprocess.run([sys.executable, "-c", program, sqlite_url], check=True, timeout=60,
                   cwd=Path(__file__).resolve().parents[2])
    store = Store(sqlite_url)
    assert store.get_call(CALL)["status"] == "ringing"
    store.close()


def test_rows_go_back_in_front_whatever_interrupts_the_write(db: FakeDatabase) -> None:
    behind = make(db, delay=30)
    behind.submit("calls", "CA1", 1)
    behind.submit("calls", "CA2", 2)

    def interrupted(rows: Sequence[Row]) -> None:
        raise TimeoutError("the handler's deadline passed")

    behind._write = interrupted  # type: ignore[method-assign]
    with pytest.raises(TimeoutError):
        behind.flush()
    assert len(behind) == 2
    behind._write = db.write  # type: ignore[method-assign]
    behind.flush()
    assert db.sids == ["CA1", "CA2"]
    behind.close()


def test_an_outage_in_the_middle_of_one_by_one_keeps_the_rest(db: FakeDatabase) -> None:
    behind = make(db, delay=30)
    for n, data in enumerate([1, "bad", 3, 4]):
        behind.submit("calls", f"CA{n}", data)
    calls = []

    def write(rows: Sequence[Row]) -> None:
        calls.append([sid for _, sid, _ in rows])
        if len(calls) == 3:  # the batch, CA0 alone, then the database goes away
            db.down = True
        db.write(rows)

    behind._write = write  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailable):
        behind.flush()
    assert db.sids == ["CA0"]
    assert len(behind) == 3  # CA1 (not known to be bad: the database was down), CA2, CA3
    db.down = False
    behind.flush()
    assert db.sids == ["CA0", "CA2", "CA3"]  # CA1 refused alone, once the database was up
    behind.close()


def test_without_a_thread_to_spare_rows_are_written_as_they_come(
    db: FakeDatabase, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    behind = make(db, delay=30)
    monkeypatch.setattr(threading.Thread, "start", refuse)
    with caplog.at_level(logging.WARNING, "switchboard.callbacks.store"):
        behind.submit("calls", "CA1", 1)
        behind.submit("calls", "CA2", 2)
    assert db.sids == ["CA1", "CA2"]
    assert caplog.text.count("no write-behind thread") == 1
    monkeypatch.undo()
    behind.close()


def test_the_row_is_what_the_fields_were_when_handed_over(sqlite_url: str) -> None:
    store = Store(sqlite_url, record_delay=30)
    store.create_all()
    fields = {"CallSid": CALL, "CallStatus": "ringing", "CallerName": "Ann"}
    store.record_call(fields)
    fields["CallerName"] = "changed by a handler afterwards"
    assert store.get_call(CALL)["caller_name"] == "Ann"
    store.close()


def test_flush_waits_for_the_batch_the_thread_is_writing(db: FakeDatabase) -> None:
    """A reader's flush finds nothing left to take while the thread writes the last batch: it
    must still return only once that batch is committed."""
    writing, proceed = threading.Event(), threading.Event()

    def slow_write(rows: Sequence[Row]) -> None:
        writing.set()
        proceed.wait(5)
        db.write(rows)

    behind = WriteBehind(slow_write, db.ready, delay=0.001)
    behind.submit("messages", "SM1", 1)
    assert writing.wait(5)  # the thread has taken SM1 and is writing it
    assert len(behind) == 0
    threading.Timer(0.2, proceed.set).start()
    behind.flush()
    assert db.sids == ["SM1"]
    behind.close()


def test_wait_written_has_the_thread_write_at_once(db: FakeDatabase) -> None:
    behind = make(db, delay=30)
    for n in range(3):
        behind.submit("calls", f"CA{n}", n)
    assert behind.wait_written(5)  # long before the 30 s delay
    assert db.sids == ["CA0", "CA1", "CA2"]
    assert db.threads == {"switchboard-write-behind"}
    assert behind.wait_written(0)  # nothing left to wait for
    behind.close()


def test_wait_written_gives_up_on_a_write_that_waits_and_writes_nothing_itself(
    db: FakeDatabase,
) -> None:
    """The thread's write waits for a lock: the reader stops waiting after its timeout, the
    rows still queued for the thread, which writes them once it can."""
    proceed = threading.Event()

    def locked(rows: Sequence[Row]) -> None:
        proceed.wait(10)
        db.write(rows)

    behind = WriteBehind(locked, db.ready, delay=30)
    behind.submit("calls", "CA1", 1)
    started = time.monotonic()
    assert not behind.wait_written(0.3)
    assert 0.3 <= time.monotonic() - started < 2
    assert db.sids == []
    proceed.set()
    assert behind.wait_written(5)
    assert db.sids == ["CA1"]
    assert db.threads == {"switchboard-write-behind"}
    behind.close()


def test_wait_written_while_the_database_is_down(db: FakeDatabase) -> None:
    behind = make(db, delay=30, retry=0.05)
    db.down = True
    behind.submit("calls", "CA1", 1)
    assert not behind.wait_written(0.3)
    assert len(behind) == 1  # still queued
    db.down = False
    assert behind.wait_written(5)
    assert db.sids == ["CA1"]
    behind.close()
