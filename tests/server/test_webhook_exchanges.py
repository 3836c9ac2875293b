"""What each webhook was answered (``webhook_exchanges``), on SQLite and PostgreSQL: one row
per webhook of every kind with the right fields, none for a bad signature, nothing secret in
it, and the row written after the answer, never in its way."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.exchanges import ANSWER_LIMIT, exchanges
from switchboard.callbacks.handlers import TwilioBlueprint
from switchboard.callbacks.store.engine import sqlite_path
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.twiml import VoiceResponse
from tests.server.conftest import (
    TOKEN,
    Twilio,
    call_params,
    clean_app,
    message_params,
    sid,
    twiml,
)

CARD = "4111111111111111"

own = TwilioBlueprint("own", __name__)


@own.voice("/own/boom")
def boom(call: Any) -> VoiceResponse:
    raise ZeroDivisionError("a bug in the handler")


@own.voice("/own/slow")
def slow(call: Any) -> VoiceResponse:
    time.sleep(2)
    return VoiceResponse().say("Too late.")


#: Set by the test below: the handler takes the database's writer away for 3 s as it answers.
LOCK_AFTER: list[str] = []


@own.voice("/own/then-locked")
def then_locked(call: Any) -> VoiceResponse:
    locked = threading.Event()

    def hold(path: str) -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(3)
        conn.rollback()
        conn.close()

    threading.Thread(target=hold, args=(LOCK_AFTER[0],), daemon=True).start()
    locked.wait(5)
    return VoiceResponse().say("Answered.")


@own.voice("/own/long")
def long(call: Any) -> VoiceResponse:
    response = VoiceResponse()
    for _ in range(200):
        response.say("A long answer to keep only the start of.")
    return response


def gather_flow() -> Flow:
    trigger = {"name": "Trigger", "type": "trigger", "properties": {"offset": {"x": 0, "y": 0}},
               "transitions": [{"event": "incomingMessage"}, {"event": "incomingCall",
                                                              "next": "menu"},
                               {"event": "incomingRequest"}, {"event": "incomingParent"}]}
    menu = {"name": "menu", "type": "gather-input-on-call",
            "properties": {"say": "Press 1.", "number_of_digits": 1,
                           "offset": {"x": 0, "y": 100}},
            "transitions": [{"event": "keypress", "next": "pressed"}, {"event": "speech"},
                            {"event": "timeout"}]}
    pressed = {"name": "pressed", "type": "say-play",
               "properties": {"say": "You pressed {{widgets.menu.Digits}}.", "loop": 1,
                              "offset": {"x": 0, "y": 200}},
               "transitions": [{"event": "audioComplete"}]}
    body = {"description": "A menu", "states": [trigger, menu, pressed],
            "initial_state": "Trigger", "flags": {"allow_concurrent_calls": True}}
    return Flow("menu", body, "menu.json")


def make(database_url: str, **config: Any) -> Flask:
    app = clean_app(database_url, STUDIO_FLOWS=False, **config)
    app.register_blueprint(own)
    app.register_blueprint(studio_blueprint({"menu": gather_flow()}))
    return app


@pytest.fixture(scope="module")
def app(module_database_url: str) -> Iterator[Flask]:
    application = make(module_database_url)
    yield application
    application.extensions["switchboard"].store.close()


def rows(store: Any, **where: str) -> list[dict[str, Any]]:
    """The exchanges whose columns have the values of ``where``, oldest first."""
    store.flush()
    stmt = sa.select(exchanges).order_by(exchanges.c.id)
    for name, value in where.items():
        stmt = stmt.where(exchanges.c[name] == value)
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


def only(store: Any, **where: str) -> dict[str, Any]:
    (row,) = rows(store, **where)
    return row


def test_a_call_through_the_ivr_leaves_a_row_per_webhook(twilio: Twilio, store: Any) -> None:
    params = call_params(CallStatus="ringing")
    twiml(twilio.post("/voice", params))
    twiml(twilio.post("/voice/menu", {**params, "CallStatus": "in-progress", "Digits": "1"}))

    first, menu = rows(store, call_sid=params["CallSid"])
    assert (first["kind"], first["endpoint"], first["path"]) == ("voice", "ivr.welcome", "/voice")
    assert (first["sid"], first["status"], first["problem"]) == (params["CallSid"], 200, None)
    assert first["fields"] == {"CallStatus": "ringing"}
    assert first["answer"].startswith("<?xml")
    assert "<Gather" in first["answer"]
    assert "/voice/menu" in first["answer"]
    assert first["answer_bytes"] == len(first["answer"].encode())
    assert first["duplicate"] is None
    assert first["error"] is None
    assert 0 < first["duration_ms"] < 5000
    assert first["created_at"] <= menu["created_at"]
    assert (menu["path"], menu["fields"]) == (
        "/voice/menu", {"CallStatus": "in-progress", "Digits": "1"})
    assert "open" in menu["answer"]


def test_a_message_leaves_its_row(twilio: Twilio, store: Any) -> None:
    params = message_params("HOURS")
    twiml(twilio.post("/sms", params))
    row = only(store, sid=params["MessageSid"])
    assert (row["kind"], row["path"], row["status"], row["call_sid"]) == (
        "sms", "/sms", 200, None)
    assert "<Message>" in row["answer"]
    assert row["fields"] == {"NumMedia": "0"}


def test_each_status_callback_kind_leaves_a_row_and_a_repeat_says_so(
    twilio: Twilio, store: Any
) -> None:
    params = call_params(CallStatus="completed", SequenceNumber="3", CallDuration="12")
    assert twilio.post("/voice/status", params).status_code == 204
    assert twilio.post("/voice/status", params).status_code == 204
    stored, repeat = rows(store, sid=params["CallSid"])
    assert (stored["kind"], stored["status"], stored["answer"], stored["answer_bytes"]) == (
        "call_status", 204, None, 0)
    assert stored["fields"] == {"CallStatus": "completed", "SequenceNumber": "3",
                                "CallDuration": "12"}
    assert (stored["duplicate"], repeat["duplicate"]) == (False, True)
    assert stored["problem"] is repeat["problem"] is None

    message = {"MessageSid": sid("SM"), "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert twilio.post("/sms/status", message).status_code == 204
    row = only(store, sid=message["MessageSid"])
    assert (row["kind"], row["fields"], row["duplicate"]) == (
        "message_status", {"MessageStatus": "undelivered", "ErrorCode": "30003"}, False)

    recording = {"CallSid": params["CallSid"], "RecordingSid": sid("RE"),
                 "RecordingStatus": "completed", "RecordingDuration": "7",
                 "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"}
    assert twilio.post("/voice/recording-status", recording).status_code == 204
    row = only(store, sid=recording["RecordingSid"])
    assert (row["kind"], row["call_sid"]) == ("recording_status", params["CallSid"])
    assert row["fields"] == {"RecordingStatus": "completed", "RecordingDuration": "7"}


def test_a_status_callback_without_its_status_is_an_error_answer(
    twilio: Twilio, store: Any
) -> None:
    params = call_params()
    del params["CallStatus"]
    assert twilio.post("/voice/status", params).status_code == 400
    row = only(store, sid=params["CallSid"])
    assert (row["status"], row["problem"], row["error"]) == (400, "http_error",
                                                              "MalformedCallback")


def test_a_fallback_keeps_twilios_error_code_and_a_redacted_error_url(
    twilio: Twilio, store: Any
) -> None:
    params = call_params(ErrorCode="11200",
                         ErrorUrl="https://ops:hunter22@example.com/voice?key=abc123")
    twiml(twilio.post("/voice/fallback", params))
    row = only(store, sid=params["CallSid"])
    assert (row["kind"], row["problem"], row["status"]) == ("voice_fallback", "fallback", 200)
    assert row["fields"]["ErrorCode"] == "11200"
    assert row["fields"]["ErrorUrl"] == "https://ops:***@example.com/voice?…"
    assert VOICE_APOLOGY in row["answer"]

    message = message_params("hi", ErrorCode="12300", ErrorUrl="https://example.com/sms")
    twiml(twilio.post("/sms/fallback", message))
    row = only(store, sid=message["MessageSid"])
    assert (row["kind"], row["problem"], row["fields"]["ErrorCode"]) == (
        "sms_fallback", "fallback", "12300")


def test_a_handler_that_fails_leaves_the_apology_as_a_problem(
    twilio: Twilio, store: Any
) -> None:
    params = call_params()
    assert VOICE_APOLOGY in twiml(twilio.post("/own/boom", params)).findtext("Say")
    row = only(store, sid=params["CallSid"])
    assert (row["problem"], row["error"], row["status"]) == ("failed", "ZeroDivisionError", 200)
    assert VOICE_APOLOGY in row["answer"]
    assert "a bug in the handler" not in str(row)  # the class only, never the message


def test_a_long_answer_is_kept_up_to_the_limit(twilio: Twilio, store: Any) -> None:
    params = call_params()
    body = twilio.post("/own/long", params).data
    row = only(store, sid=params["CallSid"])
    assert row["answer_bytes"] == len(body) > ANSWER_LIMIT
    assert row["answer"] == body[:ANSWER_LIMIT].decode()


def test_a_studio_flow_call_and_its_step_leave_their_rows(twilio: Twilio, store: Any) -> None:
    params = call_params()
    twiml(twilio.post("/flows/menu", params))
    twiml(twilio.post("/flows/menu/step/menu/gather", {**params, "Digits": "1"}))
    start, step = rows(store, call_sid=params["CallSid"])
    assert (start["kind"], start["endpoint"], start["path"]) == ("voice", "studio.flow",
                                                                 "/flows/menu")
    assert "/flows/menu/step/menu/gather" in start["answer"]
    assert (step["endpoint"], step["path"]) == ("studio.step", "/flows/menu/step/menu/gather")
    assert step["fields"]["Digits"] == "1"
    assert "You pressed 1." in step["answer"]
    assert start["problem"] is step["problem"] is None


def test_a_flow_that_cannot_run_is_an_apology(twilio: Twilio, store: Any) -> None:
    params = call_params()
    twiml(twilio.post("/flows/nowhere", params))
    assert only(store, sid=params["CallSid"])["problem"] == "apology"


def test_a_bad_signature_leaves_no_row(twilio: Twilio, store: Any) -> None:
    params = call_params()
    assert twilio.post("/voice", params, signed=False).status_code == 403
    assert Twilio(twilio.client, token="not-the-token-at-all").post(
        "/voice/status", {**params, "CallStatus": "completed"}).status_code == 403
    assert rows(store, call_sid=params["CallSid"]) == []


def test_no_secret_and_no_long_entry_is_kept(twilio: Twilio, store: Any) -> None:
    params = call_params(Digits=CARD, SpeechResult=f"my card is {CARD} thanks",
                         PaymentToken="tok_secret_value", Custom=TOKEN)
    twiml(twilio.post("/voice/menu", params))
    row = only(store, sid=params["CallSid"])
    assert row["fields"]["Digits"] == "*" * len(CARD)
    assert row["fields"]["SpeechResult"] == "my card is " + "*" * len(CARD) + " thanks"
    text = repr(row)
    for secret in (CARD, TOKEN, "tok_secret_value", "X-Twilio-Signature"):
        assert secret not in text
    short = call_params(Digits="12#")
    twiml(twilio.post("/voice/menu", short))
    assert only(store, sid=short["CallSid"])["fields"]["Digits"] == "12#"


def test_a_get_webhook_is_recorded_without_its_query(twilio: Twilio, store: Any) -> None:
    params = call_params()
    twiml(twilio.get("/voice", params))
    row = only(store, sid=params["CallSid"])
    assert row["path"] == "/voice"
    assert row["fields"] == {"CallStatus": "in-progress"}


def test_a_failure_to_hand_the_row_over_changes_nothing_in_the_answer(
    twilio: Twilio, store: Any, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no room")

    monkeypatch.setattr(store, "defer", refuse)
    params = call_params()
    assert twiml(twilio.post("/voice", params)).find("Gather") is not None
    assert "exchange of /voice" in caplog.text
    monkeypatch.undo()
    assert rows(store, sid=params["CallSid"]) == []


# -- after the answer ----------------------------------------------------------------------


@pytest.fixture
def fresh_app(database_url: str) -> Iterator[Flask]:
    application = make(database_url)
    yield application
    application.extensions["switchboard"].store.close()


def test_the_row_is_written_after_the_answer_even_with_the_table_locked(
    fresh_app: Flask,
) -> None:
    """With the database locked for the whole request, the caller is answered at once and
    nothing is inserted meanwhile; the row arrives once the lock is gone."""
    store = fresh_app.extensions["switchboard"].store
    assert store.defers
    twilio = Twilio(fresh_app.test_client())
    twiml(twilio.post("/voice", call_params()))  # the first rows: the tables are all there
    store.flush()
    params = call_params()
    release = threading.Event()
    locked = threading.Event()

    def hold_the_lock() -> None:
        if store.dialect == "sqlite":
            conn = sqlite3.connect(sqlite_path(store.url), isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
        else:
            raw = store.engine.raw_connection()
            raw.cursor().execute("LOCK TABLE webhook_exchanges IN EXCLUSIVE MODE")
            conn = raw
        locked.set()
        release.wait(10)
        conn.rollback()
        conn.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(5)
        started = time.monotonic()
        assert twiml(twilio.post("/voice", params)).find("Gather") is not None
        assert time.monotonic() - started < 1
        with store.engine.connect() as conn:  # a reader: not held by either lock
            count = conn.execute(sa.select(sa.func.count()).select_from(exchanges).where(
                exchanges.c.sid == params["CallSid"])).scalar_one()
        assert count == 0
    finally:
        release.set()
        holder.join()
    assert only(store, sid=params["CallSid"])["status"] == 200


def test_a_handler_out_of_time_leaves_a_timeout(database_url: str) -> None:
    app = make(database_url, SWITCHBOARD_HANDLER_TIMEOUT="0.5")
    store = app.extensions["switchboard"].store
    try:
        params = call_params()
        started = time.monotonic()
        twiml(Twilio(app.test_client()).post("/own/slow", params))
        assert time.monotonic() - started < 1.5
        row = only(store, sid=params["CallSid"])
        assert (row["problem"], row["error"]) == ("timeout", "HandlerTimeout")
        assert VOICE_APOLOGY in row["answer"]
        assert 400 < row["duration_ms"] < 1500
    finally:
        store.close()


def test_without_a_record_delay_the_row_is_written_at_once(sqlite_url: str) -> None:
    app = make(sqlite_url, SWITCHBOARD_RECORD_DELAY="0")
    store = app.extensions["switchboard"].store
    try:
        assert not store.defers
        params = call_params()
        twiml(Twilio(app.test_client()).post("/voice", params))
        with store.engine.connect() as conn:
            found = conn.execute(sa.select(exchanges.c.sid)).scalars().all()
        assert found == [params["CallSid"]]
    finally:
        store.close()


def test_without_a_record_delay_a_locked_database_delays_no_answer_past_its_deadline(
        sqlite_url: str) -> None:
    """Written before the answer, the row waits for the writer no longer than what is left
    of the handler's time (not the store's 10 s busy timeout): the caller is answered in
    time, the row is lost with a line in the log."""
    app = make(sqlite_url, SWITCHBOARD_RECORD_DELAY="0", SWITCHBOARD_HANDLER_TIMEOUT="1")
    store = app.extensions["switchboard"].store
    LOCK_AFTER[:] = [sqlite_path(store.url)]
    twilio = Twilio(app.test_client())
    try:
        twiml(twilio.post("/voice", call_params()))  # the tables are all there
        started = time.monotonic()
        answer = twiml(twilio.post("/own/then-locked", call_params()))
        took = time.monotonic() - started
        assert "Answered." in answer.findtext("Say")
        assert took < 1.5, f"answered after {took:.2f} s"
    finally:
        time.sleep(3)  # the lock's holder is gone
        store.close()
