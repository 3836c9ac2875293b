"""create_app: settings, the store, signature modes, proxies, the public helpers."""

from __future__ import annotations

import logging
from pathlib import Path

import flask
import pytest

from switchboard.callbacks import create_app, get_settings, get_store
from switchboard.callbacks.handlers import TwilioBlueprint
from switchboard.callbacks.security import signed_headers
from switchboard.callbacks.twiml import VoiceResponse
from tests.server.conftest import TOKEN, Twilio, call_params, make_app, twiml


def test_nothing_configured_serves_on_sqlite_in_the_instance_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(flask.Flask, "auto_find_instance_path", lambda self: str(tmp_path / "i"))
    with caplog.at_level(logging.WARNING):
        app = create_app()
    try:
        assert (tmp_path / "i" / "switchboard.sqlite3").exists()
        assert app.test_client().get("/healthz").status_code == 200
        warnings = [r for r in caplog.records if "TWILIO_AUTH_TOKEN is not set" in r.message]
        assert len(warnings) == 1
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            response = app.test_client().post("/voice", data=call_params())
        assert response.status_code == 403
        assert "TWILIO_AUTH_TOKEN is not set" in caplog.text
    finally:
        app.extensions["switchboard"].store.close()


def test_checks_switched_off_accept_unsigned_requests_and_warn_each_time(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(sqlite_url, SWITCHBOARD_VALIDATE_SIGNATURES="false")
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            twiml(client.post("/voice", data=call_params()))
    assert sum("signature checks are OFF" in r.message for r in caplog.records) == 2
    app.extensions["switchboard"].store.close()


def test_public_url_is_the_url_that_is_signed(sqlite_url: str) -> None:
    app = make_app(sqlite_url, SWITCHBOARD_PUBLIC_URL="https://abc.tunnel.example")
    client = app.test_client()
    params = call_params()
    good = signed_headers(TOKEN, "https://abc.tunnel.example/voice", params)
    assert client.post("/voice", data=params, headers=good).status_code == 200
    local = signed_headers(TOKEN, "http://localhost/voice", params)
    assert client.post("/voice", data=params, headers=local).status_code == 403
    record = twiml(client.post("/voice/menu", data=dict(params, Digits="2"),
                               headers=signed_headers(TOKEN, "https://abc.tunnel.example"
                                                      "/voice/menu", dict(params, Digits="2"))))
    callback = record.find("Record").get("recordingStatusCallback")
    assert callback == "https://abc.tunnel.example/voice/recording-status"
    assert record.find("Record").get("action") == "https://abc.tunnel.example/voice/voicemail/saved"


def test_public_url_with_a_prefix_the_proxy_strips(sqlite_url: str) -> None:
    public = "https://example.com/switchboard"
    app = make_app(sqlite_url, SWITCHBOARD_PUBLIC_URL=public)
    params = call_params()
    headers = signed_headers(TOKEN, public + "/voice", params)
    root = twiml(app.test_client().post("/voice", data=params, headers=headers))
    assert root.find("Gather").get("action") == public + "/voice/menu"
    app.extensions["switchboard"].store.close()


def test_forwarded_prefix_from_a_trusted_proxy(sqlite_url: str) -> None:
    app = make_app(sqlite_url, SWITCHBOARD_TRUSTED_PROXIES="1")
    params = call_params()
    headers = signed_headers(TOKEN, "https://example.com/sb/voice", params)
    headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.com",
                    "X-Forwarded-Prefix": "/sb", "X-Forwarded-For": "203.0.113.9"})
    root = twiml(app.test_client().post("/voice", data=params, headers=headers))
    assert root.find("Gather").get("action") == "https://example.com/sb/voice/menu"
    app.extensions["switchboard"].store.close()
    app.extensions["switchboard"].store.close()


def test_a_forwarded_scheme_in_capitals_is_the_same_scheme(sqlite_url: str) -> None:
    app = make_app(sqlite_url, SWITCHBOARD_TRUSTED_PROXIES="1")
    params = call_params()
    headers = signed_headers(TOKEN, "https://example.com/voice", params)
    headers.update({"X-Forwarded-Proto": "HTTPS", "X-Forwarded-Host": "example.com"})
    root = twiml(app.test_client().post("/voice", data=params, headers=headers))
    assert root.find("Gather").get("action") == "https://example.com/voice/menu"
    app.extensions["switchboard"].store.close()


@pytest.mark.parametrize("trusted", [0, 1])
def test_forwarded_headers_count_only_from_trusted_proxies(sqlite_url: str, trusted: int) -> None:
    app = make_app(sqlite_url, SWITCHBOARD_TRUSTED_PROXIES=str(trusted))
    params = call_params()
    headers = signed_headers(TOKEN, "https://public.example/voice", params)
    headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example",
                    "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Port": "443"})
    response = app.test_client().post("/voice", data=params, headers=headers)
    assert response.status_code == (200 if trusted else 403)
    app.extensions["switchboard"].store.close()


def test_store_and_settings_helpers(sqlite_url: str) -> None:
    app = make_app(sqlite_url, SWITCHBOARD_BUSINESS_NAME="Acme")
    with app.app_context():
        assert get_settings().business_name == "Acme"
        assert get_store() is app.extensions["switchboard"].store
        assert TOKEN not in repr(get_settings())
    app.extensions["switchboard"].store.close()


def test_a_custom_handler_without_the_bundled_flows(sqlite_url: str) -> None:
    bp = TwilioBlueprint("mine", __name__)

    @bp.voice("/voice")
    def hello(call):  # type: ignore[no-untyped-def]
        visits = call.session.get("visits", 0) + 1
        call.session["visits"] = visits
        return VoiceResponse().say(f"Hello {call.from_}, visit {visits}")

    app = make_app(sqlite_url, BUNDLED_FLOWS=False)
    app.register_blueprint(bp)
    twilio = Twilio(app.test_client())
    params = call_params()
    assert "visit 1" in "".join(twiml(twilio.post("/voice", params)).itertext())
    assert "visit 2" in "".join(twiml(twilio.post("/voice", params)).itertext())
    assert len(twiml(twilio.post("/sms", {"Body": "x"}))) == 0  # not mounted: no reply
    app.extensions["switchboard"].store.close()


def test_a_handler_finds_its_own_call_in_the_store(sqlite_url: str) -> None:
    """The call's row is written after the answer, but the handler's process reads it at once."""
    bp = TwilioBlueprint("mine", __name__)

    @bp.voice("/voice")
    def whoami(call):  # type: ignore[no-untyped-def]
        row = get_store().get_call(call.call_sid)
        return VoiceResponse().say(f"You are calling from {row['from']}")

    app = make_app(sqlite_url, BUNDLED_FLOWS=False)
    assert app.extensions["switchboard"].store.defers
    app.register_blueprint(bp)
    params = call_params(From="+15551239876")
    spoken = "".join(twiml(Twilio(app.test_client()).post("/voice", params)).itertext())
    assert spoken == "You are calling from +15551239876"
    app.extensions["switchboard"].store.close()


def test_handlers_stay_plain_functions() -> None:
    """The decorators return the function itself: it can be called, and tested, directly."""
    from switchboard.callbacks.flows import ivr
    from switchboard.callbacks.flows.ivr import welcome
    from switchboard.callbacks.twilio_request import CallRequest
    from switchboard.config import load_settings

    settings = load_settings(environ={})
    bare = flask.Flask("callbacks")
    bare.register_blueprint(ivr.bp)
    with bare.test_request_context("/voice"):
        response = welcome(CallRequest({"CallSid": "CA1"}, settings))
    assert isinstance(response, VoiceResponse)
    assert b"Gather" in response.to_bytes()
