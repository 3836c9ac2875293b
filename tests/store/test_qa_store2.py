"""A second QA pass over the store, on SQLite and PostgreSQL: the purge racing a save,
writers, readers and health checks all at once."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import sqlalchemy as sa

from switchboard.callbacks.store import Store, schema

from .conftest import FakeClock


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
