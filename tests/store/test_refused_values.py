"""A value the database refuses (too long, out of range, against a constraint), or one the
statement cannot be sent with (a parameter SQLAlchemy cannot convert, an integer past 64 bits
for SQLite), is said to be refused, not the database to be unavailable: a
:class:`ValueRefused`, which is still a :class:`StoreUnavailable` for its callers (the safe
answer, never a 500, one line in the log), and which leaves the database counted as up and the
pool's connections kept. An outage SQLAlchemy wraps the same way still reads as one."""

from __future__ import annotations

import errno
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

import switchboard
from switchboard.callbacks.app import get_store
from switchboard.callbacks.handlers import TwilioBlueprint
from switchboard.callbacks.store import Store, StoreUnavailable, ValueRefused
from switchboard.callbacks.store.schema import calls
from switchboard.callbacks.twilio_request import CallRequest
from switchboard.callbacks.twiml import VoiceResponse
from switchboard.emulator import Emulator
from tests.notices.conftest import call_params as ivr_call
from tests.notices.conftest import make_app as notices_app
from tests.notices.conftest import notices_of, post, recording_params, sid, texts_about
from tests.server.conftest import Twilio, call_params, make_app, twiml, verbs

CALL = "CA" + "7" * 32
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
#: Past 64 bits: sqlite3 cannot bind it, PostgreSQL's integer cannot hold it.
HUGE = 2**70
#: What each database says of ``HUGE`` (no value in either).
TOO_BIG = {"sqlite": "OverflowError: Python int too large to convert to SQLite INTEGER",
           "postgresql": "NumericValueOutOfRange: integer out of range"}
#: What SQLAlchemy's bind processor says of a string given for a datetime, on either database.
NOT_A_DATETIME = "AttributeError: 'str' object has no attribute 'tzinfo'"


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


@pytest.mark.parametrize("values", [
    {"status_rank": None}, {"duration": HUGE}, {"created_at": "yesterday"},
], ids=["missing", "past-64-bits", "not-a-datetime"])
def test_a_refused_value_keeps_the_pools_connections(
    store: Store, monkeypatch: pytest.MonkeyPatch, values: dict[str, Any]
) -> None:
    """The statement was at fault, not the connections: the pool is not thrown away."""
    disposed: list[object] = []
    monkeypatch.setattr(store.engine, "dispose", lambda *args, **kwargs: disposed.append(args))
    with pytest.raises(ValueRefused):
        store.run(insert(call_row(**values)))
    bound = store.prepare(INSERT_CALL, call_row(sid="CA" + "9" * 32, duration=HUGE))
    with pytest.raises(ValueRefused):
        store.run_prepared(lambda cursor: cursor.execute(*bound), single=True)
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


def backend(url: str) -> str:
    return sa.make_url(url).get_backend_name()


def test_an_integer_past_64_bits_is_refused(store: Store, database_url: str) -> None:
    """sqlite3 raises ``OverflowError`` before SQLite sees the statement; PostgreSQL refuses
    the value. Either way a refused value, through a ``Connection`` and a prepared statement."""
    with pytest.raises(StoreUnavailable) as raised:
        store.run(insert(call_row(duration=HUGE)))
    assert_refused(raised.value, database_url, TOO_BIG[backend(database_url)])
    assert str(HUGE) not in str(raised.value)
    bound = store.prepare(INSERT_CALL, call_row(duration=HUGE))
    with pytest.raises(StoreUnavailable) as raised:
        store.run_prepared(lambda cursor: cursor.execute(*bound), single=True)
    assert_refused(raised.value, database_url, TOO_BIG[backend(database_url)])
    assert store.get_call(CALL) is None  # nothing half-written
    assert_still_up(store)


def test_a_parameter_sqlalchemy_cannot_convert_is_refused(store: Store, database_url: str
                                                          ) -> None:
    """SQLAlchemy's ``StatementError``: the statement never reached the database."""
    with pytest.raises(StoreUnavailable) as raised:
        store.run(insert(call_row(created_at="yesterday")))
    assert isinstance(raised.value.__cause__, sa.exc.StatementError)
    assert_refused(raised.value, database_url, NOT_A_DATETIME)
    assert_still_up(store)


def test_a_parameter_a_prepared_statement_cannot_convert_is_refused(
    store: Store, database_url: str
) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        store.prepare(INSERT_CALL, call_row(created_at="yesterday"))
    assert_refused(raised.value, database_url, NOT_A_DATETIME)
    assert_still_up(store)


def test_an_outage_wrapped_in_a_statement_error_is_still_an_outage(
    store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What SQLAlchemy wraps is looked at: an I/O error is the database's, not the value's."""
    disposed: list[object] = []
    monkeypatch.setattr(store.engine, "dispose", lambda *args, **kwargs: disposed.append(args))

    def fails(conn: sa.Connection) -> None:
        raise sa.exc.StatementError("I/O error", "INSERT INTO calls", None,
                                    OSError(errno.EIO, "Input/output error"))

    with pytest.raises(StoreUnavailable) as raised:
        store.run(fails)
    assert not isinstance(raised.value, ValueRefused)
    assert " is unavailable (OSError: [Errno 5] Input/output error)" in str(raised.value)
    assert disposed  # the connections are suspect


@pytest.fixture
def deferring(database_url: str) -> Iterator[Store]:
    store = Store(database_url, record_delay=5.0)  # nothing written by the thread in a test
    store.create_all()
    yield store
    store.close()


@pytest.mark.parametrize("values", [{"duration": HUGE}, {"created_at": "yesterday"}],
                         ids=["past-64-bits", "not-a-datetime"])
def test_a_deferred_row_that_cannot_be_sent_is_dropped_alone(
    deferring: Store, values: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The rows handed over with it are written; it does not hold them back for good."""
    before, after = "CA" + "1" * 32, "CA" + "2" * 32
    deferring.defer(calls, call_row(sid=before))
    deferring.defer(calls, call_row(**values), label="refused")
    deferring.defer(calls, call_row(sid=after))
    with caplog.at_level(logging.WARNING, logger="switchboard.callbacks.store"):
        deferring.flush()
    assert deferring.get_call(before) is not None
    assert deferring.get_call(after) is not None
    assert deferring.get_call(CALL) is None
    [said] = [r.getMessage() for r in caplog.records if "not recorded" in r.getMessage()]
    assert said.startswith("calls row refused not recorded: database ")
    assert " refused a value (" in said
    assert not any(r.exc_info for r in caplog.records)
    assert deferring.rows_waiting == 0
    assert not deferring.rows_blocked


@pytest.fixture
def duration_app(database_url: str) -> Iterator[Flask]:
    """The app with a Record action that keeps the recording's length on the call's row,
    as a handler written on :class:`TwilioBlueprint` would."""
    app = make_app(database_url)
    bp = TwilioBlueprint("lengths", __name__, url_prefix="/lengths")
    update = sa.update(calls).where(calls.c.sid == sa.bindparam("call_sid"))

    @bp.voice("/saved")
    def saved(call: CallRequest) -> VoiceResponse:
        get_store().run(lambda conn: conn.execute(
            update, {"call_sid": call.sid, "duration": call.recording_duration}))
        return VoiceResponse().say("Thank you.")

    app.register_blueprint(bp)
    yield app
    app.extensions["switchboard"].store.close()


def test_a_webhooks_integer_past_64_bits_gets_the_safe_answer_and_one_line(
    duration_app: Flask, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``RecordingDuration`` as Twilio never sends it: the caller hears the apology (valid
    TwiML), the log has one line naming the refusal (not the value, no traceback), and the
    call's row is still recorded, the field among its extras."""
    call_sid = "CA" + "3" * 32
    params = call_params(call_sid, RecordingDuration=str(HUGE),
                         RecordingUrl="https://api.twilio.com/recording")
    with caplog.at_level(logging.INFO, "switchboard.callbacks"):
        response = Twilio(duration_app.test_client()).post("/lengths/saved", params)
    assert verbs(twiml(response)) == ["Say", "Hangup"]
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.startswith("voice handler ")
    assert f" failed for {call_sid}: ValueRefused: database " in line
    assert line.endswith(f" refused a value ({TOO_BIG[backend(database_url)]})")
    assert str(HUGE) not in caplog.text
    assert not any(r.exc_info for r in caplog.records)
    row = duration_app.extensions["switchboard"].store.get_call(call_sid)
    assert row is not None
    assert row["duration"] is None
    assert row["extra"]["RecordingDuration"] == str(HUGE)


def test_a_voicemail_of_a_length_no_column_holds_is_still_announced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The bundled IVR's recording status callback: the recording's row is kept without the
    length, and the voicemail's text goes out saying the length is unknown, with nothing in
    the log."""
    with Emulator() as emulator:
        emulator.state.buy_number(emulator.account_sid, "+15551230000")
        app = notices_app(emulator, f"sqlite:///{tmp_path / 'switchboard.sqlite3'}")
        notices = notices_of(app)
        client = app.test_client()
        call_sid, recording_sid = sid("CA"), sid("RE")
        with caplog.at_level(logging.WARNING, "switchboard"):
            assert post(client, emulator.auth_token, "/voice", ivr_call(call_sid)
                        ).status_code == 200
            callback = {**recording_params(call_sid, recording_sid),
                        "RecordingDuration": str(HUGE)}
            answer = post(client, emulator.auth_token, "/voice/recording-status", callback)
            assert notices.wait_idle(10)
        [text] = texts_about(emulator, recording_sid)
        store = app.extensions["switchboard"].store
        recording = store.get_recording(recording_sid)
        notices.close()
        store.close()
    assert answer.status_code == 204
    assert recording is not None
    assert recording["duration"] is None
    assert "(length unknown)" in text["body"]
    assert notices.counts == {("text", "sent"): 1}
    assert caplog.records == []


def test_value_refused_is_exported_beside_store_unavailable() -> None:
    from switchboard.callbacks import store

    assert switchboard.ValueRefused is store.ValueRefused is ValueRefused
    assert {"StoreUnavailable", "ValueRefused"} <= set(switchboard.__all__) & set(store.__all__)
