"""``Store.check``: the database answers, holds every table and takes writes; and a table
that goes missing under a running store is created again by the first write that misses it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from switchboard.callbacks.store import Store, StoreUnavailable, schema
from tests.conftest import read_only

CALL = "CA" + "7" * 32


def drop(store: Store, *tables: sa.Table) -> None:
    store.close()
    with store.engine.begin() as conn:
        for table in tables:
            table.drop(conn)


def table_names(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def test_check_passes_and_changes_nothing(store: Store) -> None:
    store.record_call({"CallSid": CALL, "CallStatus": "ringing"})
    store.opt_out("+15550001111")
    store.check()
    assert store.get_call(CALL)["status"] == "ringing"
    assert store.is_opted_out("+15550001111")


def test_check_creates_the_missing_tables(store: Store) -> None:
    drop(store, schema.status_callbacks, schema.opt_outs)
    assert "opt_outs" not in table_names(store)
    store.check()
    assert {table.name for table in schema.metadata.sorted_tables} <= table_names(store)


def test_a_database_that_refuses_writes_fails_the_check(store: Store) -> None:
    with read_only(store):
        store.ping()  # it answers reads
        assert not store.is_opted_out("+15550001111")
        with pytest.raises(StoreUnavailable, match=r"read-only|readonly"):
            store.check()
    store.check()


@pytest.mark.parametrize("record", ["status", "call", "opt-out"])
def test_a_missing_table_is_created_again_by_the_write_that_misses_it(
    store: Store, record: str
) -> None:
    drop(store, schema.status_callbacks, schema.calls, schema.opt_outs)
    if record == "status":
        assert store.record_call_status({"CallSid": CALL, "CallStatus": "completed"}) is True
        assert store.get_call(CALL)["status"] == "completed"
    elif record == "call":
        store.record_call({"CallSid": CALL, "CallStatus": "ringing"})
        assert store.get_call(CALL)["status"] == "ringing"
    else:
        store.opt_out("+15550001111")
        assert store.is_opted_out("+15550001111")
    assert {"calls", "status_callbacks", "opt_outs"} <= table_names(store)
