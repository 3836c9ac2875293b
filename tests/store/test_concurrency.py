"""Many writers at once, threads and processes: exact final statuses, each callback once; and
writers, readers, session saves and health checks all at once.

The shape of the status-callback load test (``tests/load/test_status_load.py``: gunicorn
workers writing shuffled, duplicated callbacks), smaller, on an SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from switchboard.callbacks.store import Store, schema

from .workload import (
    Workload,
    create_tables_in_process,
    make_workload,
    send,
    send_in_process,
)


def check(store: Store, work: Workload, new: int) -> None:
    assert new == sum(work.distinct.values())
    for sid, final in work.final_calls.items():
        call = store.get_call(sid)
        assert call is not None
        assert call["status"] == final, sid
        if final == "completed":
            assert call["duration"] == int(sid[2:], 16)
    for sid, final in work.final_messages.items():
        message = store.get_message(sid)
        assert message is not None
        assert message["status"] == final, sid
    for sid, count in work.distinct.items():
        callbacks = store.status_callbacks(sid)
        assert len(callbacks) == count, sid
        assert len({(c["status"], c["sequence_number"]) for c in callbacks}) == count


def test_threads_writing_at_once(store: Store) -> None:
    work = make_workload(1, calls=40, messages=40)
    with ThreadPoolExecutor(8) as pool:
        new = sum(pool.map(lambda chunk: send(store, chunk), work.chunks(8)))
    check(store, work, new)


def test_processes_writing_at_once(database_url: str) -> None:
    Store(database_url).create_all()
    work = make_workload(2, calls=40, messages=40)
    # spawned, not forked: a fork copies whatever locks this test process's threads hold
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        counts = pool.starmap(send_in_process, [(database_url, c) for c in work.chunks(4)])
    store = Store(database_url)
    check(store, work, sum(counts))
    store.close()


def test_processes_creating_the_schema_at_once(database_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")  # as above: no lock of a thread copied
    # each one waits until all four have started, and this test too: then they go at once
    go, results = ctx.Barrier(5), ctx.Queue()
    workers = [
        ctx.Process(target=create_tables_in_process, args=(database_url, go, results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    try:
        go.wait(60)
        outcomes = [results.get(timeout=30) for _ in workers]
    finally:
        for worker in workers:  # one stuck fails the test; it does not hold the run's exit
            worker.join(10)
            if worker.is_alive():
                worker.kill()
    assert outcomes == ["ok"] * 4


def test_writers_readers_and_health_checks_at_once(database_url: str) -> None:
    """Threads handing rows to the write-behind, reading their own back, saving sessions
    (and so purging now and then) and running the health check: every row in, no error."""
    store = Store(database_url, record_delay=0.005)
    store.create_all()
    store.session_purge_every = 0.01
    errors: list[BaseException] = []
    per_thread, threads = 60, 6

    def work(n: int) -> None:
        try:
            for i in range(per_thread):
                sid = f"CA{n:02d}{i:030d}"
                store.record_call({"CallSid": sid, "CallStatus": "ringing"})
                if i % 10 == 0:
                    assert store.get_call(sid) is not None
                    store.save_voice_session(sid, {"i": i})
                if i % 20 == 0:
                    store.check()
        except BaseException as error:  # reported below
            errors.append(error)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert errors == []
        store.check()
        assert store._behind is not None
        store._behind.flush()  # the last rows handed over, still within their delay
        with store.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(schema.calls))
            assert total.scalar_one() == per_thread * threads
    finally:
        store.close()
