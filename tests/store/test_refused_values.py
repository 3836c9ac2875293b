"""A value the database refuses (too long, out of range, against a constraint) is said to be
refused, not the database to be unavailable: a :class:`ValueRefused`, which is still a
:class:`StoreUnavailable` for its callers (the safe answer, never a 500), and which leaves the
database counted as up."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from switchboard.callbacks.app import get_store
from switchboard.callbacks.handlers import TwilioBlueprint
from switchboard.callbacks.store import Store, StoreUnavailable
from switchboard.callbacks.store.errors import ValueRefused
from switchboard.callbacks.store.schema import calls
from switchboard.callbacks.twilio_request import CallRequest
from switchboard.callbacks.twiml import VoiceResponse
from tests.server.conftest import Twilio, call_params, make_app, twiml, verbs

CALL = "CA" + "7" * 32
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def call_row(**values: Any) -> dict[str, Any]:
    """A whole ``calls`` row, valid unless ``values`` say otherwise."""
    row: dict[str, Any] = {column.name: None for column in calls.columns}
    row.update(sid=CALL, status="ringing", status_rank=1, created_at=NOW, updated_at=NOW)
    row.update(values)
    return row


#: A module-level statement, as :meth:`Store.prepare` wants (it keys the store's cache).
INSERT_CALL = sa.insert(calls)


def insert(row: dict[str, Any]) -> Any:
    return lambda conn: conn.execute(INSERT_CALL, row)


def assert_refused(error: StoreUnavailable, url: str, driver_reason: str) -> None:
    assert isinstance(error, ValueRefused)
    assert isinstance(error, StoreUnavailable)
    message = str(error)
    assert message.endswith(f"({error.reason})")
    assert message.startswith(f"database {sa.make_url(url).render_as_string()} refused a value (")
    assert "is unavailable" not in message
    assert driver_reason in message
    assert driver_reason in error.reason
    assert "\n" not in message


def assert_still_up(store: Store) -> None:
    """The refusal is the statement's: the breaker stays closed and the store works."""
    assert store.breaker is None or not store.breaker.tripped
    store.check()
    store.run(insert(call_row(sid="CA" + "8" * 32)))


def test_a_missing_value_is_refused(store: Store, database_url: str) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        store.run(insert(call_row(status_rank=None)))
    reason = ("NOT NULL constraint failed: calls.status_rank" if database_url.startswith("sqlite")
              else 'NotNullViolation: null value in column "status_rank"')
    assert_refused(raised.value, database_url, reason)
    assert_still_up(store)


def test_a_refused_value_keeps_the_pools_connections(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statement was at fault, not the connections: the pool is not thrown away."""
    disposed: list[object] = []
    monkeypatch.setattr(store.engine, "dispose", lambda *args, **kwargs: disposed.append(args))
    with pytest.raises(ValueRefused):
        store.run(insert(call_row(status_rank=None)))
    assert disposed == []


def test_a_value_out_of_range_in_a_prepared_statement_is_refused(postgresql_url: str) -> None:
    store = Store(postgresql_url)
    store.create_all()
    try:
        bound = store.prepare(INSERT_CALL, call_row(duration=2**40))
        with pytest.raises(StoreUnavailable) as raised:
            store.run_prepared(lambda cursor: cursor.execute(*bound), single=True)
        assert_refused(raised.value, postgresql_url,
                       "NumericValueOutOfRange: integer out of range")
        assert_still_up(store)
    finally:
        store.close()


def test_a_value_too_long_is_refused(sqlite_url: str) -> None:
    """SQLite takes a string of any declared length, up to its length limit (a billion bytes,
    lowered here on the connection)."""
    store = Store(sqlite_url)
    store.create_all()

    def too_long(conn: sa.Connection) -> None:
        connection = conn.connection.dbapi_connection
        before = connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 100)
        try:
            conn.execute(INSERT_CALL, call_row(caller_name="x" * 200))
        finally:  # the connection goes back to the pool
            connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, before)

    try:
        with pytest.raises(StoreUnavailable) as raised:
            store.run(too_long)
        assert_refused(raised.value, sqlite_url, "DataError: string or blob too big")
        assert_still_up(store)
    finally:
        store.close()


@pytest.fixture
def refusing_app(database_url: str) -> Iterator[Flask]:
    """The app with a voice handler whose write the database refuses."""
    app = make_app(database_url)
    bp = TwilioBlueprint("refused", __name__, url_prefix="/refused")

    @bp.voice("/write")
    def write(call: CallRequest) -> VoiceResponse:
        get_store().run(insert(call_row(sid=call.sid, status_rank=None)))
        return VoiceResponse().say("written")

    app.register_blueprint(bp)
    yield app
    app.extensions["switchboard"].store.close()


def test_a_handler_whose_value_is_refused_gets_the_safe_answer(
    refusing_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "switchboard.callbacks"):
        response = Twilio(refusing_app.test_client()).post("/refused/write", call_params())
    assert response.status_code == 200
    assert verbs(twiml(response)) == ["Say", "Hangup"]
    failed = [r.getMessage() for r in caplog.records if "handler" in r.getMessage()]
    assert len(failed) == 1
    assert ": ValueRefused: database " in failed[0]
    assert " refused a value (" in failed[0]
    assert not any(r.exc_info for r in caplog.records)  # the store's failure: no traceback
