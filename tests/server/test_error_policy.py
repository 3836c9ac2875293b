"""The error policy: a failing handler never reaches Twilio as a 500."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from switchboard.callbacks.errors import VOICE_APOLOGY
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

TIMEOUT = 0.3
#: What this module's hanging handlers wait for.
release = threading.Event()


@pytest.fixture(scope="module", params=["alarm", "threads"])
def broken_app(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Flask]:
    """The app with the broken handlers, its deadline kept by a SIGALRM timer (the test
    client runs in the main thread, as gunicorn's sync workers do) or by worker threads."""
    path = tmp_path_factory.mktemp("broken") / "switchboard.sqlite3"
    app = clean_app(f"sqlite:///{path}", SWITCHBOARD_HANDLER_TIMEOUT=str(TIMEOUT),
                    SWITCHBOARD_VOICE="alice")
    app.extensions["switchboard"].deadline.use_alarm = request.param == "alarm"
    app.register_blueprint(broken_blueprint(release=release))
    release.clear()
    yield app
    release.set()
    app.extensions["switchboard"].store.close()


@pytest.fixture
def broken(broken_app: Flask) -> Twilio:
    return Twilio(broken_app.test_client())


def assert_apology(response: Any) -> None:
    root = twiml(response)
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert spoken(root) == VOICE_APOLOGY
    assert root.find("Say").get("voice") == "alice"


def assert_no_reply(response: Any) -> None:
    root = twiml(response)
    assert len(root) == 0


@pytest.mark.parametrize(
    "path", ["raise", "garbage", "bad-xml", "messaging", "messaging-xml", "too-long"]
)
def test_a_failing_voice_handler_gets_the_apology(
    broken: Twilio, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    params = call_params()
    with caplog.at_level(logging.ERROR, logger="switchboard.callbacks"):
        assert_apology(broken.post(f"/broken/{path}", params))
    assert params["CallSid"] in caplog.text
    assert TOKEN not in caplog.text


def test_a_hanging_voice_handler_is_cut_off_at_the_deadline(broken: Twilio) -> None:
    started = time.monotonic()
    assert_apology(broken.post("/broken/hang", call_params()))
    assert time.monotonic() - started < TIMEOUT + 2


def test_raw_twiml_strings_are_accepted_when_valid(broken: Twilio) -> None:
    assert spoken(twiml(broken.post("/broken/raw-xml", call_params()))) == "raw"


def test_a_string_declaring_another_encoding_is_sent_as_the_utf8_it_is(broken: Twilio) -> None:
    response = broken.post("/broken/utf16-declared", call_params())
    assert response.data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert spoken(twiml(response)) == "Zo\u00eb"
    assert "Zo\u00eb".encode() in response.data


def test_an_sms_answer_twilio_would_refuse_for_its_length_sends_no_reply(
    broken: Twilio,
) -> None:
    assert_no_reply(broken.post("/broken/sms-too-long", message_params()))


def test_error_redirect_sends_the_caller_on(broken: Twilio) -> None:
    root = twiml(broken.post("/broken/redirect-on-error", call_params()))
    assert [child.tag for child in root] == ["Say", "Redirect"]
    assert root.find("Redirect").text == "/voice"


def test_a_failed_handler_does_not_save_its_session(broken: Twilio, broken_app: Flask) -> None:
    params = call_params()
    assert_apology(broken.post("/broken/session-then-raise", params))
    store = broken_app.extensions["switchboard"].store
    assert store.load_voice_session(params["CallSid"]) == {}


def test_a_handler_past_its_deadline_does_not_save_its_session(
    broken: Twilio, broken_app: Flask
) -> None:
    params = call_params()
    assert_apology(broken.post("/broken/session-then-hang", params))
    switchboard = broken_app.extensions["switchboard"]
    release.set()  # let the late handler finish now
    try:
        slots = switchboard.deadline._pool().slots
        deadline = time.monotonic() + 5
        while slots._value < switchboard.deadline.max_workers and time.monotonic() < deadline:
            time.sleep(0.01)  # the late handler returns, then would save its session
        assert slots._value == switchboard.deadline.max_workers
    finally:
        release.clear()
    assert switchboard.store.load_voice_session(params["CallSid"]) == {}


@pytest.mark.parametrize("path", ["sms-raise", "sms-hang", "sms-garbage"])
def test_a_failing_sms_handler_sends_no_reply(broken: Twilio, path: str) -> None:
    assert_no_reply(broken.post(f"/broken/{path}", message_params()))


@pytest.mark.parametrize("path", ["status-raise", "status-hang"])
def test_a_failing_status_handler_answers_503(broken: Twilio, path: str) -> None:
    params = call_params(CallStatus="completed")
    response = broken.post(f"/broken/{path}", params)
    assert response.status_code == 503
    assert response.data == b""


def test_a_failing_fallback_still_apologises(broken: Twilio) -> None:
    assert_apology(broken.post("/broken/fallback-raise", call_params(ErrorCode="11200")))


def test_fallback_logs_error_code_and_url(
    broken: Twilio, caplog: pytest.LogCaptureFixture
) -> None:
    params = call_params(ErrorCode="11205", ErrorUrl="https://example.com/voice")
    with caplog.at_level(logging.WARNING, logger="switchboard.callbacks"):
        root = twiml(broken.post("/voice/fallback", params))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert "11205" in caplog.text
    assert "https://example.com/voice" in caplog.text
    params = message_params(ErrorCode="12300", ErrorUrl="https://example.com/sms")
    with caplog.at_level(logging.WARNING, logger="switchboard.callbacks"):
        assert_no_reply(broken.post("/sms/fallback", params))
    assert "12300" in caplog.text


def test_fallback_logs_no_password_or_query_of_the_error_url(
    broken: Twilio, caplog: pytest.LogCaptureFixture
) -> None:
    """Twilio's ErrorUrl is the owner's URL as configured: its password and its query (which
    may carry a token) stay out of the log, under ``flask run`` too."""
    url = "https://bob:pw-secret@sb.example.com/voice?token=query-secret"
    params = call_params(ErrorCode="11200", ErrorUrl=url)
    with caplog.at_level(logging.WARNING, logger="switchboard.callbacks"):
        twiml(broken.post("/voice/fallback", params))
    assert "https://bob:***@sb.example.com/voice?…" in caplog.text
    assert "pw-secret" not in caplog.text
    assert "query-secret" not in caplog.text


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/voice/nothing-here", "voice"), ("/sms/nothing-here", "sms"), ("/voice", "voice")],
)
def test_unknown_twilio_paths_and_bad_requests_get_safe_twiml(
    broken: Twilio, path: str, kind: str
) -> None:
    if path == "/voice":  # a body over the size limit: 413 from werkzeug
        response = broken.client.post(path, data={"Body": "x" * (2 * 1024 * 1024)},
                                      headers={"X-Twilio-Signature": "c2lnbmF0dXJl"})
    else:
        response = broken.client.post(path, data={"CallSid": sid("CA")})
    if kind == "voice":
        assert_apology(response)
    else:
        assert_no_reply(response)


def test_an_unknown_status_path_keeps_its_404(broken: Twilio) -> None:
    assert broken.client.post("/voice/other-status").status_code == 404
    assert broken.client.get("/nowhere").status_code == 404


def test_all_threads_busy_fails_fast() -> None:
    """With every worker thread hung, a request gets the safe answer at once."""
    from switchboard.callbacks.deadline import Deadline, HandlerTimeout

    gate = threading.Event()
    hung = Deadline(0.05, max_workers=1, use_alarm=False)
    try:
        with pytest.raises(HandlerTimeout):
            hung.run(lambda: gate.wait(10))
        hung.timeout = 5  # a queued request would now wait 5 s; a refused one returns at once
        started = time.monotonic()
        with pytest.raises(HandlerTimeout, match="busy"):
            hung.run(lambda: None)
        assert time.monotonic() - started < 1
    finally:
        gate.set()
    assert Deadline(5, use_alarm=False).run(lambda: 7) == 7
