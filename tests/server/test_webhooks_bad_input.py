"""Bad or unusual requests at every webhook, the Studio flows' included: each gets a 4xx, a 204
or TwiML that parses, never a 5xx; bad input leaves no traceback at ERROR and no secret in the
answer or the log; and a request never holds the server past the handler's deadline, reading
its body included.

The module's app runs on SQLite, then on PostgreSQL (which, unlike SQLite, refuses a NUL in
any text, a query's parameters included).
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.exchanges import exchanges
from switchboard.callbacks.security import FORM_TYPE, signed_headers
from switchboard.callbacks.studio import executions
from switchboard.callbacks.twiml import parse_twiml
from tests.server.broken import broken_blueprint
from tests.server.conftest import (
    TOKEN,
    Twilio,
    call_params,
    clean_app,
    message_params,
    sid,
    spoken,
    twiml,
)
from tests.studio import widget

#: A call's menu and a text conversation, each waiting for Twilio to come back.
DESK = {
    "description": "Front desk",
    "initial_state": "Trigger",
    "states": [
        widget("Trigger", "trigger", {}, incomingMessage="ask", incomingCall="menu",
               incomingRequest=None),
        widget("menu", "gather-input-on-call",
               {"say": "Press a key.", "number_of_digits": 1, "timeout": 5},
               keypress="pressed", speech="pressed", timeout=None),
        widget("pressed", "say-play", {"say": "You pressed {{widgets.menu.Digits}}.", "loop": 1},
               audioComplete=None),
        widget("ask", "send-and-wait-for-reply",
               {"from": "{{flow.channel.address}}", "body": "Your name?", "timeout": "3600"},
               incomingMessage="greet", timeout=None, deliveryFailure=None),
        widget("greet", "send-message",
               {"from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}",
                "body": "Hello {{widgets.ask.inbound.Body}}."},
               sent=None, failed=None),
    ],
    "flags": {"allow_concurrent_calls": True},
}

VOICE = ["/voice", "/voice/menu", "/voice/voicemail", "/voice/voicemail/saved",
         "/voice/dial-result", "/voice/fallback", "/flows/desk", "/flows/desk/step/menu/gather",
         "/flows/nowhere", "/flows/desk/outgoing-call/FN0/menu"]
SMS = ["/sms", "/sms/fallback", "/flows/desk/step/ask/return"]
STATUS = ["/voice/status", "/sms/status", "/voice/recording-status", "/flows/desk/call-status",
          "/flows/desk/message-status/FN0/ask", "/flows/desk/outgoing-call/FN0/menu/status",
          "/flows/desk/recording-status/record"]


@pytest.fixture(scope="module")
def app(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app with the bundled flows and the Studio flow ``desk``, on SQLite then PostgreSQL."""
    folder = tmp_path_factory.mktemp("flows")
    (folder / "desk.json").write_text(json.dumps(DESK))
    application = clean_app(module_database_url, SWITCHBOARD_FLOWS_DIR=str(folder))
    yield application
    application.extensions["switchboard"].store.close()


def assert_well_answered(response: Any, records: list[logging.LogRecord]) -> None:
    """A 4xx, a 204 or TwiML that parses; no traceback at ERROR, no auth token anywhere."""
    status = response.status_code
    assert status in (200, 204) or 400 <= status < 500, (status, response.data[:300])
    if status == 200 and response.mimetype == "text/xml":
        parse_twiml(response.data)
    for record in records:
        assert not (record.levelno >= logging.ERROR and record.exc_info), record.getMessage()
        assert TOKEN not in record.getMessage()
    assert TOKEN.encode() not in response.data


# Form fields survive the trip as UTF-8: anything but lone surrogates, NUL included.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30) | st.sampled_from(
    ["", "\x00", "a\x00b", "%00", " " * 3, "9" * 40, "-1", "NaN", "CA" + "0" * 32])
NAMES = st.sampled_from([
    "CallSid", "MessageSid", "SmsSid", "AccountSid", "From", "To", "Body", "Digits",
    "SpeechResult", "Confidence", "CallStatus", "MessageStatus", "SmsStatus", "RecordingSid",
    "RecordingStatus", "RecordingUrl", "RecordingDuration", "SequenceNumber", "CallDuration",
    "DialCallStatus", "NumMedia", "MediaUrl0", "ErrorCode", "ErrorUrl", "Direction",
    "ParentCallSid", "FlowEvent", "\x00", "Name With Spaces[]",
])
#: A path segment as Flask's default converter takes it: anything but a slash.
SEGMENT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="/"),
                  min_size=1, max_size=12)
PATHS = st.sampled_from(VOICE + SMS + STATUS) | st.builds(
    "/flows/{}/step/{}/{}".format, st.sampled_from(["desk", "nowhere"]), SEGMENT, SEGMENT
) | st.builds("/flows/desk/message-status/{}/{}".format, SEGMENT, SEGMENT)

CHECKS = settings(max_examples=150, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])


@CHECKS
@given(path=PATHS, fields=st.dictionaries(NAMES, TEXT, max_size=8), use_get=st.booleans(),
       base=st.sampled_from([None, "call", "message"]),
       token=st.sampled_from([None, "retried-1", "retried-2"]))
def test_any_signed_form_at_any_webhook_is_answered_well(
    app: Flask, caplog: pytest.LogCaptureFixture, path: str, fields: dict[str, str],
    use_get: bool, base: str | None, token: str | None,
) -> None:
    params = {"call": call_params, "message": message_params}[base]() if base else {}
    params.update(fields)
    headers = {"I-Twilio-Idempotency-Token": token} if token else None
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        response = Twilio(app.test_client()).request(
            quote(path, safe="/"), params, method="GET" if use_get else "POST",
            headers=headers)
    assert response.status_code != 403, "the signature covers every field and the path"
    assert_well_answered(response, caplog.records)


@CHECKS
@given(path=PATHS, body=st.binary(max_size=200),
       content_type=st.sampled_from([FORM_TYPE, "multipart/form-data", "application/json",
                                     "text/plain", None]),
       signature=st.sampled_from([None, "", "not base64", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="]))
def test_unsigned_garbage_at_any_webhook_is_refused_without_detail(
    app: Flask, caplog: pytest.LogCaptureFixture, path: str, body: bytes,
    content_type: str | None, signature: str | None,
) -> None:
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        response = app.test_client().post(quote(path, safe="/"), data=body,
                                          content_type=content_type, headers=headers)
    assert_well_answered(response, caplog.records)
    assert response.status_code in (403, 404, 405), response.status_code


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", VOICE + SMS + STATUS)
def test_methods_twilio_never_uses_are_refused(twilio: Twilio, path: str, method: str) -> None:
    response = twilio.client.open(path, method=method, data=call_params())
    assert response.status_code == 405


# -- NUL ---------------------------------------------------------------------------------------


def test_a_nul_in_a_status_callback_is_stored_not_a_503(twilio: Twilio) -> None:
    """PostgreSQL refuses a NUL even in a query's parameter: Twilio would get a 503 and send
    the same callback again, for nothing."""
    for path in ["/voice/status", "/flows/desk/call-status",
                 "/flows/desk/outgoing-call/FN0/menu/status"]:
        response = twilio.post(path, {"CallSid": "CA\x00" + sid("")[:30],
                                      "CallStatus": "completed", "Weird\x00": "x\x00"})
        assert response.status_code == 204, (path, response.data)
    response = twilio.post("/sms/status", {"MessageSid": sid("SM") + "\x00",
                                           "MessageStatus": "delivered"})
    assert response.status_code == 204


def test_a_nul_in_a_url_variable_is_not_a_503(twilio: Twilio) -> None:
    status = {"MessageSid": sid("SM"), "MessageStatus": "failed"}
    assert twilio.post("/flows/desk/message-status/FN%00/ask", status).status_code == 204
    assert twilio.post("/flows/desk/message-status/FN0/a%00", status).status_code == 204
    call = call_params()
    answered = twilio.post("/flows/desk/outgoing-call/FN%00/menu", call)
    assert spoken(twiml(answered)) == VOICE_APOLOGY  # no such execution, said politely
    answered = twilio.post("/flows/desk/step/me%00nu/gather", call)
    assert spoken(twiml(answered)) == VOICE_APOLOGY


def test_a_nul_in_the_path_leaves_its_exchange(app: Flask, twilio: Twilio) -> None:
    message_sid = sid("SM")
    status = {"MessageSid": message_sid, "MessageStatus": "failed"}
    assert twilio.post("/flows/desk/message-status/FN%00/ask", status).status_code == 204
    store = app.extensions["switchboard"].store
    store.flush()
    with store.engine.connect() as conn:
        paths = conn.execute(sa.select(exchanges.c.path).where(
            exchanges.c.sid == message_sid)).scalars().all()
    assert paths == ["/flows/desk/message-status/FN\ufffd/ask"]


def test_a_nul_in_a_message_to_a_flow_starts_the_conversation(
    twilio: Twilio, caller: str
) -> None:
    first = twiml(twilio.post("/flows/desk", message_params("hi\x00", From=caller + "\x00")))
    assert [m.text for m in first.iter("Message")] == ["Your name?"]
    reply = twiml(twilio.post("/flows/desk", message_params("Zoë\x00", From=caller + "\x00")))
    assert [m.text for m in reply.iter("Message")] == ["Hello Zoë\ufffd."]


def test_a_nul_reads_as_u_fffd_after_the_signature_check(twilio: Twilio) -> None:
    """The signature covers the value as sent, NUL and all; the handler reads U+FFFD."""
    url = "http://localhost/sms"
    params = message_params("a\x00b")
    headers = signed_headers(TOKEN, url, dict(params, Body="a\ufffdb"))
    assert twilio.post("/sms", params, signed=False, headers=headers).status_code == 403
    answer = twiml(twilio.post("/sms", params))
    assert 'We got "a\ufffdb"' in answer.find("Message").text


# -- missing fields ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_flow_request_without_a_call_or_message_sid_starts_nothing(
    app: Flask, twilio: Twilio, caller: str, method: str
) -> None:
    store = app.extensions["switchboard"].store
    before = len(executions.list_executions(store))
    params = call_params(From=caller)
    del params["CallSid"]
    response = twilio.request("/flows/desk", params, method=method)
    assert spoken(twiml(response)) == VOICE_APOLOGY
    assert len(executions.list_executions(store)) == before
    # the caller's next real call is not refused as a second one
    assert twiml(twilio.post("/flows/desk", call_params(From=caller))).find("Gather") is not None


# -- the body's time counts against the deadline ----------------------------------------------

DEADLINE = 1.0


class SlowBody(io.RawIOBase):
    """A request body that arrives after ``delay`` seconds (never, for a long one)."""

    def __init__(self, data: bytes, delay: float) -> None:
        self.data, self.delay, self.sent = data, delay, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.sent:
            return 0
        time.sleep(self.delay)
        self.sent = True
        buffer[: len(self.data)] = self.data
        return len(self.data)


@pytest.fixture(scope="module")
def slow_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app with the hanging handlers, a deadline of DEADLINE, in the main thread (where
    the alarm cuts a blocking read short, as in gunicorn's sync workers)."""
    path = tmp_path_factory.mktemp("slow") / "switchboard.sqlite3"
    application = clean_app(f"sqlite:///{path}", SWITCHBOARD_HANDLER_TIMEOUT=str(DEADLINE))
    release = threading.Event()
    application.register_blueprint(broken_blueprint(hang_for=5, release=release))
    yield application
    release.set()
    application.extensions["switchboard"].store.close()


def slow_post(app: Flask, path: str, params: dict[str, str], delay: float) -> tuple[Any, float]:
    body = urlencode(params).encode()
    url = "http://localhost" + path
    started = time.monotonic()
    response = app.test_client().post(
        url, content_type=FORM_TYPE, headers=signed_headers(TOKEN, url, params),
        environ_overrides={"wsgi.input": SlowBody(body, delay),
                           "CONTENT_LENGTH": str(len(body))})
    return response, time.monotonic() - started


@pytest.mark.parametrize("path", ["/voice", "/sms", "/voice/status", "/flows/desk",
                                  "/flows/desk/call-status"])
def test_a_body_still_arriving_at_the_deadline_is_not_waited_for(
    slow_app: Flask, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    params = message_params() if path == "/sms" else call_params(CallStatus="completed")
    with caplog.at_level(logging.WARNING):
        response, took = slow_post(slow_app, path, params, delay=30)
    assert took < DEADLINE + 0.5
    if path.endswith("status"):
        assert response.status_code == 408
    elif path == "/sms":
        assert len(twiml(response)) == 0
    else:
        assert spoken(twiml(response)) == VOICE_APOLOGY
    assert f"POST {path}: the body did not arrive within the 1 s deadline" in caplog.text
    assert_well_answered(response, caplog.records)


def test_the_handler_gets_what_the_body_left_of_the_deadline(slow_app: Flask) -> None:
    response, took = slow_post(slow_app, "/broken/hang", call_params(), delay=0.7 * DEADLINE)
    assert spoken(twiml(response)) == VOICE_APOLOGY
    assert took < 1.3 * DEADLINE  # not the body's 0.7 and then a whole deadline more


def test_a_body_in_time_is_answered_as_usual(slow_app: Flask) -> None:
    response, _ = slow_post(slow_app, "/voice/menu", call_params(Digits="1"), delay=0.1)
    assert "open Monday" in spoken(twiml(response))
