"""``Store.defer``: any table's rows written just after the answer with the webhooks' own, in
order, in one transaction; at once without a write-behind; a refused row dropped alone; what
waits counted; ``Store.flush`` for readers, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from switchboard.callbacks.store import Store, schema

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def opt_out(number: str) -> dict[str, object]:
    return {"number": number, "sender": "*", "created_at": NOW}


def numbers(url: str) -> list[str]:
    """The opt-outs as another process sees them."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(sa.select(schema.opt_outs.c.number)).scalars())
    finally:
        engine.dispose()


@pytest.fixture
def deferring(database_url: str) -> Iterator[Store]:
    store = Store(database_url, record_delay=5.0)  # nothing written by the thread in a test
    store.create_all()
    yield store
    store.close()


def test_deferred_rows_wait_for_the_thread_or_a_flush(deferring: Store, database_url: str
                                                       ) -> None:
    assert deferring.defers
    deferring.defer(schema.opt_outs, opt_out("+15550000001"))
    deferring.defer(schema.opt_outs, opt_out("+15550000002"))
    assert deferring.rows_waiting == 2
    assert numbers(database_url) == []
    deferring.flush()
    assert deferring.rows_waiting == 0
    assert numbers(database_url) == ["+15550000001", "+15550000002"]


def test_the_webhooks_rows_and_deferred_rows_go_in_together(deferring: Store,
                                                            database_url: str) -> None:
    deferring.record_call({"CallSid": "CA" + "1" * 32, "From": "+15550000003",
                           "To": "+15550009999", "CallStatus": "ringing"})
    deferring.defer(schema.opt_outs, opt_out("+15550000003"))
    assert deferring.rows_waiting == 2
    deferring.close()  # a graceful stop writes what waits
    assert numbers(database_url) == ["+15550000003"]
    assert deferring.get_call("CA" + "1" * 32)["from"] == "+15550000003"


def test_a_row_the_database_refuses_is_dropped_alone(
        deferring: Store, database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    deferring.defer(schema.opt_outs, opt_out("+15550000004"), label="first")
    deferring.defer(schema.opt_outs, opt_out("+15550000004"), label="again")  # the same key
    deferring.defer(schema.opt_outs, opt_out("+15550000005"))
    with caplog.at_level(logging.WARNING, logger="switchboard.callbacks.store"):
        deferring.flush()
    assert numbers(database_url) == ["+15550000004", "+15550000005"]
    assert "opt_outs row again not recorded" in caplog.text
    assert deferring.rows_dropped == 0  # refused, not dropped for want of room
    assert not deferring.rows_blocked


def test_without_a_write_behind_a_deferred_row_is_written_at_once(database_url: str) -> None:
    store = Store(database_url)
    try:
        store.create_all()
        assert not store.defers
        store.defer(schema.opt_outs, opt_out("+15550000006"))
        assert (store.rows_waiting, store.rows_dropped, store.rows_blocked) == (0, 0, False)
        store.flush()  # nothing to do
        assert numbers(database_url) == ["+15550000006"]
    finally:
        store.close()
