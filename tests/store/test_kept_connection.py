"""SQLite: the main thread's connection is kept between transactions, and given up whenever it
could be wrong (another file, a fork, an error); single-statement writes autocommit."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from switchboard.callbacks.store import Store, StoreUnavailable
from tests.forking import child_report


def call(n: int, status: str = "ringing") -> dict[str, str]:
    return {"CallSid": f"CA{n:032d}", "CallStatus": status, "From": "+15551230001"}


@pytest.fixture
def store(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'kept.sqlite3'}")
    store.create_all()
    yield store
    store.close()


def kept_connection(store: Store):
    fairy = store._kept._fairy  # type: ignore[union-attr]
    return None if fairy is None else fairy.dbapi_connection


def test_the_main_thread_writes_on_one_kept_connection(store: Store) -> None:
    store.record_call(call(1))
    first = kept_connection(store)
    assert first is not None
    for n in range(2, 6):
        store.record_call(call(n))
        store.record_call_status(call(n, "completed"))
        store.save_voice_session(f"CA{n:032d}", {"step": n})
    assert kept_connection(store) is first
    purger = store._purger  # the first session saved started a purge in a thread of its own
    if purger is not None:
        purger.join(10)
    assert store.engine.pool.checkedout() == 1
    assert not first.in_transaction, "a single-statement write left a transaction open"
    assert store.get_call(f"CA{5:032d}")["status"] == "completed"


def test_other_threads_check_out_and_back_in(store: Store) -> None:
    store.record_call(call(1))
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            store.record_call(call(n))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2, 10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.engine.pool.checkedout() == 1  # only the main thread's
    assert all(store.get_call(f"CA{n:032d}") is not None for n in range(1, 10))


def test_a_replaced_file_is_noticed(store: Store, tmp_path: Path) -> None:
    store.record_call(call(1))
    old = kept_connection(store)
    for path in tmp_path.glob("kept.sqlite3*"):
        path.unlink()
    fresh = Store(f"sqlite:///{tmp_path / 'kept.sqlite3'}")
    fresh.create_all()
    fresh.close()

    store.record_call(call(2))
    assert kept_connection(store) is not old
    assert store.get_call(f"CA{2:032d}") is not None  # written to the new file
    assert store.get_call(f"CA{1:032d}") is None


def test_an_error_gives_the_connection_back(store: Store, tmp_path: Path) -> None:
    store.record_call(call(1))
    moved = tmp_path / "moved"
    moved.mkdir()
    names = [p.name for p in tmp_path.glob("kept.sqlite3*")]
    for name in names:
        os.rename(tmp_path / name, moved / name)
    (tmp_path / "kept.sqlite3").mkdir()
    with pytest.raises(StoreUnavailable):
        store.record_call(call(2))
    assert kept_connection(store) is None
    assert store.engine.pool.checkedout() == 0

    (tmp_path / "kept.sqlite3").rmdir()
    for name in names:
        os.rename(moved / name, tmp_path / name)
    store.record_call(call(3))
    assert kept_connection(store) is not None
    assert store.get_call(f"CA{3:032d}") is not None


def test_a_failed_statement_returns_the_connection_to_the_pool(store: Store) -> None:
    store.record_call(call(1))
    with pytest.raises(StoreUnavailable, match="no such table"):
        store._run_sql(lambda cursor: cursor.execute("INSERT INTO missing VALUES (1)"))
    assert kept_connection(store) is None
    assert store.engine.pool.checkedout() == 0
    store.record_call(call(2))
    assert kept_connection(store) is not None
    assert store.engine.pool.checkedout() == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_uses_its_parents_connection(store: Store) -> None:
    store.record_call(call(1))
    parents = kept_connection(store)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            status = b"ok"
            try:
                store.record_call(call(2))
                if kept_connection(store) is parents:
                    status = b"the child wrote on its parent's connection"
            except BaseException as error:
                status = repr(error).encode()
            os.write(write, status)
        finally:
            os._exit(0)
    os.close(write)
    # a child stuck on a lock a thread of this process held at the fork fails the test, not
    # the run: it is killed after 30 s
    report, _ = child_report(pid, read)
    assert report == b"ok"
    store.record_call(call(3))  # the parent's connection still works
    assert kept_connection(store) is parents
    assert store.get_call(f"CA{2:032d}") is not None
    assert store.get_call(f"CA{3:032d}") is not None


def test_close_returns_it(store: Store) -> None:
    store.record_call(call(1))
    store.close()
    assert store.engine.pool.checkedout() == 0
    store.record_call(call(2))  # usable again, as every store is after close()
    assert store.get_call(f"CA{2:032d}") is not None


def test_a_pool_of_one_keeps_nothing(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'one.sqlite3'}", pool_size=1, max_overflow=0,
                  pool_timeout=1)
    try:
        store.create_all()
        store.record_call(call(1))
        assert store.get_call(f"CA{1:032d}") is not None  # a read still finds a connection
        assert store.engine.pool.checkedout() == 0
    finally:
        store.close()
