"""Rows waiting in the write-behind, on SQLite and PostgreSQL: they wait out a full disk, a
webhook's fields are kept whichever of its call's rows is written first, and a row that cannot
be made is dropped alone."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from switchboard.callbacks.store import Store, StoreUnavailable

from .conftest import FakeClock

CALL = "CA" + "5" * 32
MESSAGE = "SM" + "5" * 32


@contextlib.contextmanager
def disk_full(store: Store) -> Iterator[None]:
    """Every write that needs room fails as on a full disk; a write of nothing still passes.

    SQLite: ``max_page_count`` at the file's size (``SQLITE_FULL``). PostgreSQL: a trigger
    on ``calls`` raising ``disk_full`` (SQLSTATE 53100), as a server out of space does.
    """
    if store.dialect == "sqlite":
        full = [True]

        def limit(dbapi_connection: Any, record: Any, proxy: Any) -> None:
            pages = 1 if full[0] else 1073741823
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

        store.close()
        event.listen(store.engine, "checkout", limit)
        try:
            yield
        finally:
            full[0] = False
        return
    admin = sa.create_engine(store.url)
    with admin.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'could not extend file: No space left on device' "
            "USING ERRCODE = 'disk_full'; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON calls "
            "FOR EACH ROW EXECUTE FUNCTION disk_full()"
        )
    try:
        yield
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER disk_full ON calls")
        admin.dispose()


def test_rows_wait_while_the_disk_is_full(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk fails every write that needs room, but not ``Store.check()``: the
    write-behind takes it for an outage and keeps the rows waiting, not for rows the database
    refuses, which it would drop."""
    store = Store(database_url, record_delay=30)
    store.create_all()
    sids = [f"{CALL[:-1]}{n}" for n in range(3)]
    try:
        with disk_full(store):
            for sid in sids:
                big = {"CallSid": sid, "CallStatus": "ringing", "FromCity": "x" * 50_000}
                store.record_call(big)
            store.check()  # the database looks up...
            with caplog.at_level(logging.WARNING, "switchboard.callbacks.store"), pytest.raises(
                StoreUnavailable, match=r"full|space"
            ):
                store.get_call(sids[0])  # ...but the rows cannot be written
            assert len(store._behind) == 3  # type: ignore[arg-type]
            assert "not recorded" not in caplog.text
        assert [store.get_call(sid)["status"] for sid in sids] == ["ringing"] * 3
    finally:
        store.close()


@pytest.mark.parametrize("first", ["webhook", "status callback"])
def test_the_webhooks_extra_is_kept_whichever_row_is_written_first(
    database_url: str, clock: FakeClock, first: str
) -> None:
    """The webhook's row waits in the write-behind; the status callback that follows may be
    stored first. ``extra`` keeps that of the earliest row *received*, not of the first
    written, or the webhook's fields (FromCity, CallToken...) would be lost whenever the
    callback wins the race."""
    store = Store(database_url, record_delay=30, clock=clock)
    store.create_all()
    try:
        store.record_call({"CallSid": CALL, "CallStatus": "ringing", "FromCity": "ZURICH"})
        if first == "webhook":
            store.get_call(CALL)  # writes the waiting row
        clock.advance(seconds=5)
        completed = {"CallSid": CALL, "CallStatus": "completed", "SequenceNumber": "3",
                     "SipResponseCode": "200"}
        assert store.record_call_status(completed, "tok-extra")
        call = store.get_call(CALL)
        assert call["extra"] == {"FromCity": "ZURICH"}
        assert call["status"] == "completed"
    finally:
        store.close()


def test_a_row_that_cannot_be_made_does_not_hold_back_the_others(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A field JSON cannot hold (a dict with a tuple key, from a handler's own code) makes the
    row fail with TypeError: it is logged and dropped, not retried for ever, which would hold
    back every later row and make ``Store.close()`` raise."""
    store = Store(database_url, record_delay=30)
    store.create_all()
    try:
        store.record_call({"CallSid": CALL, "CallStatus": "ringing", "Odd": {(1, 2): 3}})
        store.record_message({"MessageSid": MESSAGE, "Body": "hello"})
        with caplog.at_level(logging.WARNING, "switchboard.callbacks.store"):
            assert store.get_message(MESSAGE)["body"] == "hello"
        assert f"calls row {CALL} not recorded" in caplog.text
        assert len(store._behind) == 0  # type: ignore[arg-type]
    finally:
        store.close()
