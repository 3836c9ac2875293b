"""A TwilioBlueprint on a Flask app Switchboard did not make: registering it gives the app
Switchboard's settings, store and error policy (``init_app``), so its routes check signatures
and answer TwiML, and the app's own routes keep their own answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from switchboard import TwilioBlueprint, VoiceResponse, get_store, init_app
from tests.server.conftest import TOKEN, Twilio, call_params, sid, spoken, twiml


@pytest.fixture
def own_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{tmp_path / 'own.sqlite3'}")
    monkeypatch.setenv("SWITCHBOARD_RECORD_DELAY", "0")
    app = Flask(__name__)
    bp = TwilioBlueprint("hello", __name__)

    @bp.voice("/hello")
    def hello(call):
        call.session["greeted"] = True
        return VoiceResponse().say(f"Hello {call.from_}.")

    @bp.voice("/broken")
    def broken(call):
        raise RuntimeError("a bug in the handler")

    @bp.voice("/greet/<lang>/<int:times>")
    def greet(call, lang, times):
        return VoiceResponse().say(f"{lang} {times + 1}")

    @bp.call_status("/status/<team>")
    def status(callback, team):
        app.config.setdefault("STATUSES", []).append((team, callback.status))

    @app.get("/about")
    def about():
        return "the user's own page"

    app.register_blueprint(bp)
    yield app
    app.extensions["switchboard"].store.close()


def test_its_webhooks_are_checked_and_answered(own_app: Flask) -> None:
    twilio = Twilio(own_app.test_client())
    call_sid = sid("CA")
    root = twiml(twilio.post("/hello", call_params(call_sid)))
    assert spoken(root).startswith("Hello +")
    with own_app.app_context():
        assert get_store().get_call(call_sid) is not None
        assert get_store().load_voice_session(call_sid) == {"greeted": True}
    assert twilio.post("/hello", call_params(), signed=False).status_code == 403


def test_a_failing_handler_gets_the_apology_not_a_500(own_app: Flask) -> None:
    root = twiml(Twilio(own_app.test_client()).post("/broken", call_params()))
    assert "sorry" in spoken(root).lower()


def test_the_apps_own_routes_keep_their_answers(own_app: Flask) -> None:
    client = own_app.test_client()
    assert client.get("/about").text == "the user's own page"
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.mimetype == "text/html"


def test_init_app_is_done_once(own_app: Flask) -> None:
    switchboard = own_app.extensions["switchboard"]
    assert init_app(own_app) is switchboard
    other = TwilioBlueprint("other", __name__)
    own_app.register_blueprint(other)
    assert own_app.extensions["switchboard"] is switchboard


def test_a_rules_variables_are_the_handlers_keyword_arguments(own_app: Flask) -> None:
    twilio = Twilio(own_app.test_client())
    assert spoken(twiml(twilio.post("/greet/fr/2", call_params()))) == "fr 3"
    callback = call_params(CallStatus="completed", SequenceNumber="0")
    assert twilio.post("/status/sales", callback).status_code == 204
    assert own_app.config["STATUSES"] == [("sales", "completed")]
    assert twilio.post("/greet/fr/x", call_params()).status_code == 404
