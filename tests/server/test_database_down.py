"""The database made unavailable: callers still get valid TwiML, callbacks get 503."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.store import schema
from tests.conftest import free_port, read_only
from tests.server.conftest import Twilio, call_params, make_app, message_params, spoken, twiml


@pytest.fixture(params=["sqlite", "postgresql"])
def unreachable_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        blocker = tmp_path / "blocked"
        blocker.write_text("a file where the database folder should be")
        return f"sqlite:///{blocker / 'switchboard.sqlite3'}"
    return f"postgresql+psycopg://switchboard@127.0.0.1:{free_port()}/nowhere"


@pytest.fixture
def down_app(unreachable_url: str) -> Iterator[Flask]:
    app = make_app(unreachable_url)
    yield app
    app.extensions["switchboard"].store.close()


def test_the_app_starts_and_says_the_database_is_down(
    unreachable_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        app = make_app(unreachable_url)
    assert "database is unavailable" in caplog.text
    assert app.test_client().get("/healthz").status_code == 503


def test_callers_still_get_valid_twiml(down_app: Flask) -> None:
    twilio = Twilio(down_app.test_client())
    welcome = twiml(twilio.post("/voice", call_params()))  # needs no database: the menu
    assert welcome.find("Gather") is not None
    menu = twiml(twilio.post("/voice/menu", call_params(Digits="9")))  # needs the session
    assert spoken(menu) == VOICE_APOLOGY
    assert [child.tag for child in menu] == ["Say", "Hangup"]
    help_reply = twiml(twilio.post("/sms", message_params("HELP")))
    assert len(help_reply) == 1
    twiml(twilio.post("/sms", message_params("hello")))  # opt-out unknown: no reply
    twiml(twilio.post("/sms", message_params("STOP")))


def test_status_callbacks_answer_503_so_twilio_retries(down_app: Flask) -> None:
    twilio = Twilio(down_app.test_client())
    assert twilio.post("/voice/status", call_params(CallStatus="completed")).status_code == 503
    message = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered"}
    assert twilio.post("/sms/status", message).status_code == 503
    recording = {"CallSid": "CA" + "1" * 32, "RecordingSid": "RE" + "1" * 32,
                 "RecordingStatus": "completed"}
    assert twilio.post("/voice/recording-status", recording).status_code == 503


def test_the_server_recovers_when_the_database_returns(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.write_text("in the way")
    app = make_app(f"sqlite:///{folder / 'switchboard.sqlite3'}")
    twilio = Twilio(app.test_client())
    params: dict[str, Any] = call_params(CallStatus="completed", SequenceNumber="0")
    try:
        assert twilio.post("/voice/status", params).status_code == 503
        folder.unlink()
        folder.mkdir()
        assert app.test_client().get("/healthz").status_code == 200
        assert twilio.post("/voice/status", params).status_code == 204
        assert app.extensions["switchboard"].store.get_call(params["CallSid"]) is not None
    finally:
        app.extensions["switchboard"].store.close()


def test_calls_and_messages_answered_in_an_outage_are_recorded_when_it_ends(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the database folder should be")
    url = f"sqlite:///{blocker / 'switchboard.sqlite3'}"
    app = make_app(url)
    store = app.extensions["switchboard"].store
    twilio = Twilio(app.test_client())
    calls = [call_params() for _ in range(3)]
    try:
        for params in calls:
            assert twiml(twilio.post("/voice", params)).find("Gather") is not None
        message = message_params("HELP")
        twiml(twilio.post("/sms", message))
        blocker.unlink()  # the database can be created again
        deadline = time.monotonic() + 10
        while store.rows_waiting:
            assert time.monotonic() < deadline, "the rows waiting were never written"
            time.sleep(0.05)
        assert all(store.get_call(params["CallSid"]) for params in calls)
        assert store.get_message(message["MessageSid"])["body"] == "HELP"
    finally:
        store.close()


def test_with_no_record_delay_rows_are_written_before_the_answer(sqlite_url: str) -> None:
    app = make_app(sqlite_url, SWITCHBOARD_RECORD_DELAY="0")
    store = app.extensions["switchboard"].store
    assert not store.defers
    params = call_params()
    twiml(Twilio(app.test_client()).post("/voice", params))
    with store.engine.connect() as conn:  # read without the store's own flush
        sids = conn.exec_driver_sql("SELECT sid FROM calls").scalars().all()
    assert sids == [params["CallSid"]]
    store.close()


@pytest.fixture
def db_app(database_url: str) -> Iterator[Flask]:
    app = make_app(database_url)
    yield app
    app.extensions["switchboard"].store.close()


def test_healthz_says_unavailable_while_the_database_refuses_writes(db_app: Flask) -> None:
    """A read-only file or a standby server answers ``SELECT 1``, and fails every write."""
    client, store = db_app.test_client(), db_app.extensions["switchboard"].store
    assert client.get("/healthz").status_code == 200
    with read_only(store):
        assert client.get("/healthz").status_code == 503
        assert Twilio(client).post("/voice/status", call_params(
            CallStatus="completed")).status_code == 503
    assert client.get("/healthz").status_code == 200


def test_rows_wait_while_the_database_refuses_writes(db_app: Flask) -> None:
    """Not dropped as rows the database refused one by one: it refuses them all."""
    store = db_app.extensions["switchboard"].store
    twilio = Twilio(db_app.test_client())
    calls = [call_params() for _ in range(3)]
    with read_only(store):
        for params in calls:
            twiml(twilio.post("/voice", params))
        time.sleep(0.3)  # the write-behind tried, and found the database refusing writes
        assert store.rows_waiting == 2 * len(calls)  # each call's row and its exchange's
    deadline = time.monotonic() + 10
    while store.rows_waiting:
        assert time.monotonic() < deadline, "the rows waiting were never written"
        time.sleep(0.05)
    assert all(store.get_call(params["CallSid"]) for params in calls)


def test_tables_dropped_under_the_server_are_created_again(db_app: Flask) -> None:
    """By the status callback that misses its table, and by /healthz."""
    store = db_app.extensions["switchboard"].store
    twilio = Twilio(db_app.test_client())
    store.close()
    with store.engine.begin() as conn:
        schema.metadata.drop_all(conn)
    params = call_params(CallStatus="completed", SequenceNumber="0")
    assert twilio.post("/voice/status", params).status_code == 204
    assert store.get_call(params["CallSid"])["status"] == "completed"
    store.close()  # the callback's exchange written: no write of the store's meets the drop
    with store.engine.begin() as conn:
        schema.metadata.drop_all(conn)
    # A check that outlives /healthz's wait (0.7 s) goes on in its thread and creates them:
    # a busy machine may take a second call to see it done.
    client = db_app.test_client()
    end = time.monotonic() + 10
    while (status := client.get("/healthz").status_code) != 200 and time.monotonic() < end:
        time.sleep(0.2)
    assert status == 200
    with store.engine.connect() as conn:
        assert "voice_sessions" in sa.inspect(conn).get_table_names()


def test_tables_slower_to_create_than_healthz_waits_are_created_by_its_check(
    database_url: str,
) -> None:
    """A busy machine or a slow disk: creating every table takes longer than /healthz waits.
    The check goes on in its thread and creates them, rather than being cut and rolled back
    at each call (only the breaker's probe, 30 s later here, would create them then)."""
    app = make_app(database_url, SWITCHBOARD_DATABASE_RETRY_AFTER="30")
    store = app.extensions["switchboard"].store
    store.close()
    with store.engine.begin() as conn:
        schema.metadata.drop_all(conn)

    def slow_create(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith("CREATE"):
            time.sleep(0.03)  # twenty tables and their indexes: over a second

    event.listen(store.engine, "before_cursor_execute", slow_create)
    client = app.test_client()
    try:
        first = client.get("/healthz")
        assert first.status_code == 503  # answered within its wait all the same
        end = time.monotonic() + 10
        while (status := client.get("/healthz").status_code) != 200 and time.monotonic() < end:
            time.sleep(0.2)
        assert status == 200
        assert store.breaker is not None
        assert store.breaker.open is None  # no connection of the check's was cut
    finally:
        event.remove(store.engine, "before_cursor_execute", slow_create)
        store.close()
