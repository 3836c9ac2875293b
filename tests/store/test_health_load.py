"""``Store.check()`` (``/healthz``) under load: a load balancer polls it every second in every
worker. It runs ``create_all`` at the first check only: at every check it would be a
transaction of its own before the probe's, on SQLite a second hold of the writer lock, on
PostgreSQL a wait on the advisory lock that serialises ``create_all`` across processes, which
a process starting up holds while it builds an index on a large table, so that every worker's
check would hang behind it."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from switchboard.callbacks.store import Store, schema
from switchboard.callbacks.store.store import _PG_CREATE_LOCK


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_check_does_not_wait_for_another_process_creating_the_schema(
    store: Store,
) -> None:
    errors: list[BaseException] = []

    def check() -> None:
        try:
            store.check()
        except BaseException as error:  # reported below
            errors.append(error)

    checking = threading.Thread(target=check)
    starting = sa.create_engine(store.url)  # a process starting up, building an index
    try:
        with starting.connect() as conn, conn.begin():
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_CREATE_LOCK)))
            checking.start()
            checking.join(5)
            assert not checking.is_alive(), "the check waited for another process's create_all"
            assert errors == []
    finally:
        starting.dispose()
        if checking.ident is not None:
            checking.join(15)


def test_a_table_dropped_is_still_created_again_by_the_check(store: Store) -> None:
    store.check()
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE write_probe"))
        conn.execute(sa.text("DROP TABLE opt_outs"))
    store.check()
    with store.engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {schema.write_probe.name, schema.opt_outs.name} <= tables


def test_checks_of_several_workers_at_once_with_webhooks(database_url: str) -> None:
    """Four workers checking back to back (a balancer polls once a second) while two write:
    no check fails, no write fails."""
    stores = [Store(database_url) for _ in range(6)]
    stores[0].create_all()
    errors: list[BaseException] = []

    def run(store: Store, n: int) -> None:
        try:
            for i in range(40):
                if n < 4:
                    store.check()
                else:
                    sid = f"CA{n}{i:030d}"
                    store.record_call({"CallSid": sid, "CallStatus": "ringing"})
                    store.save_voice_session(sid, {"i": i})
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(s, n)) for n, s in enumerate(stores)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        with stores[0].engine.connect() as conn:
            calls = conn.execute(sa.select(sa.func.count()).select_from(schema.calls))
            assert calls.scalar_one() == 80
    finally:
        for store in stores:
            store.close()
