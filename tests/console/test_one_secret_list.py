"""One list of secrets for the console and the logs: with every setting marked secret holding
a value of its own, and webhooks, messages and a flow's context that carry those values (as
they are, as a URL's password, in a ``token=`` pair, in a SIP URI), no console page, error or
log line shows any of them, whether the console's password and key are settings or come from
``app.config``; on SQLite and PostgreSQL (whose URL then has a password too)."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.security import generate_password_hash

from switchboard.callbacks import create_app
from switchboard.callbacks.console import register_console
from switchboard.callbacks.handlers import TwilioBlueprint
from switchboard.callbacks.logs import OneLine, secrets_of
from switchboard.callbacks.secrets import hide_credentials, secret_values
from switchboard.callbacks.twiml import VoiceResponse
from switchboard.config import load_settings
from switchboard.config.fields import FIELDS
from tests.console.conftest import ACCOUNT_SID, CALLER, NUMBER, add_voicemail, log_in, sid
from tests.console.test_executions import Clock, run_execution
from tests.server.conftest import Twilio

AUTH_TOKEN = "auth-token-7f3a9c2e51d04b86"
API_KEY_SECRET = "api-key-secret-5b1e0c9d"
SMTP_PASSWORD = "smtp-pass/w@rd-8d2c"  # percent-encoded in its URL
METRICS_TOKEN = "metrics-token-4c9e0a7b"
CONSOLE_PASSWORD = "console-password-2e7f"
SECRET_KEY = "secret-key-6a1d9f0c3b8e4d2a"
DATABASE_PASSWORD = "database-pass-58f1"
#: Credentials no setting holds, only the text that carries them.
URL_PASSWORD = "url-pass-3e9b7c"
SIP_PASSWORD = "sip-pin-71c4d2"
QUERY_TOKEN = "query-token-90ab1c"
CARRIED = {"a URL's password": URL_PASSWORD, "a SIP URI's password": SIP_PASSWORD,
           "a token= pair's value": QUERY_TOKEN}

#: How the console is given its password and key.
KINDS = ("password setting", "password hash setting", "app.config")


def settings_config(kind: str, database_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """The settings of ``create_app`` (every secret field set) and the secret values they
    hold, by name."""
    secrets = {"auth token": AUTH_TOKEN, "API key secret": API_KEY_SECRET,
               "SMTP password": SMTP_PASSWORD, "metrics token": METRICS_TOKEN,
               "console password": CONSOLE_PASSWORD, "secret key": SECRET_KEY}
    config = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_KEY_SID": "SK" + "5" * 32, "TWILIO_API_KEY_SECRET": API_KEY_SECRET,
        "SWITCHBOARD_SMTP_URL": f"smtp://mailer:{quote(SMTP_PASSWORD, safe='')}"
                                "@mail.example.com:587",
        "SWITCHBOARD_SMTP_FROM": "voicemail@example.com",
        "SWITCHBOARD_METRICS_TOKEN": METRICS_TOKEN,
        "SWITCHBOARD_DATABASE_URL": database_url,
    }
    if kind == "password setting":
        config.update(SWITCHBOARD_CONSOLE_PASSWORD=CONSOLE_PASSWORD,
                      SWITCHBOARD_SECRET_KEY=SECRET_KEY)
    elif kind == "password hash setting":
        secrets["console password hash"] = generate_password_hash(CONSOLE_PASSWORD)
        config.update(SWITCHBOARD_CONSOLE_PASSWORD_HASH=secrets["console password hash"],
                      SWITCHBOARD_SECRET_KEY=SECRET_KEY)
    password = sa.make_url(database_url).password
    if database_url.startswith("postgresql"):
        if password is None:  # a server that asks for none takes any
            password = DATABASE_PASSWORD
            config["SWITCHBOARD_DATABASE_URL"] = sa.make_url(database_url).set(
                password=password).render_as_string(hide_password=False)
        secrets["database password"] = password
    return config, secrets


leaky = TwilioBlueprint("leaky", __name__)


@leaky.voice("/leaky/answer")
def answer(call: Any) -> VoiceResponse:
    """An answer that carries every secret: said, in URLs, in a SIP URI."""
    response = VoiceResponse()
    response.say(f"Say {call.params.get('Note')}")
    response.play(f"https://media:{URL_PASSWORD}@cdn.example.com/hold.mp3?token={QUERY_TOKEN}")
    with response.dial(action=f"/leaky/next?token={QUERY_TOKEN}") as dial:
        dial.sip(f"sip:desk:{SIP_PASSWORD}@pbx.example.com")
        dial.sip("sip:desk@pbx.example.com", username="desk", password=SIP_PASSWORD)
    response.redirect(f"https://hooks.example/next?sig={QUERY_TOKEN}", method="POST")
    return response


@pytest.fixture(params=KINDS)
def leaky_app(request: pytest.FixtureRequest,
              database_url: str) -> Iterator[tuple[Flask, dict[str, str]]]:
    """The app with every secret setting set, its console on, and the values to look for."""
    config, secrets = settings_config(request.param, database_url)
    app = create_app({"TESTING": True, "STUDIO_FLOWS": False, "SWITCHBOARD_RECORD_DELAY": "0",
                      **config})
    app.register_blueprint(leaky)
    if request.param == "app.config":
        app.config.update(SWITCHBOARD_CONSOLE_PASSWORD=CONSOLE_PASSWORD,
                          SWITCHBOARD_SECRET_KEY=SECRET_KEY)
    assert register_console(app) is not None
    try:
        yield app, secrets
    finally:
        app.extensions["switchboard"].store.close()


def carrying(secrets: dict[str, str]) -> str:
    """Text that holds every secret of ``secrets`` (the settings'), and the credentials of
    :data:`CARRIED` as text carries them."""
    named = " ".join(f"{name}: {value}" for name, value in secrets.items())
    return (f"{named}; hook https://owner:{URL_PASSWORD}@hooks.example/cb?token={QUERY_TOKEN}"
            f" and postgresql://app:{URL_PASSWORD}@db.example/app, desk "
            f"sip:desk:{SIP_PASSWORD}@pbx.example.com, api_key={QUERY_TOKEN}")


def fill(app: Flask, secrets: dict[str, str]) -> dict[str, str]:
    """Webhooks, a message, a voicemail and a flow execution that carry the settings'
    ``secrets`` and :data:`CARRIED`; the SIDs made."""
    twilio = Twilio(app.test_client(), token=AUTH_TOKEN)
    store = app.extensions["switchboard"].store
    note = carrying(secrets)
    call_sid = sid("CA")
    call = {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": CALLER, "To": NUMBER,
            "CallStatus": "ringing", "Direction": "inbound", "Note": note,
            "Hook": f"https://owner:{URL_PASSWORD}@hooks.example/cb?token={QUERY_TOKEN}"}
    assert twilio.post("/voice", call).status_code == 200
    assert twilio.post("/leaky/answer", {**call, "CallStatus": "in-progress"}).status_code == 200
    fallback = {**call, "ErrorCode": "11200",
                "ErrorUrl": f"https://owner:{URL_PASSWORD}@hooks.example/voice?token={QUERY_TOKEN}"}
    assert twilio.post("/voice/fallback", fallback).status_code == 200
    message = {"MessageSid": sid("SM"), "AccountSid": ACCOUNT_SID, "From": CALLER, "To": NUMBER,
               "Body": note, "NumMedia": "0"}
    assert twilio.post("/sms", message).status_code == 200
    as_keys = {value: name for name, value in secrets.items()}
    context = {"flow": {"data": {"note": note, **as_keys}}, "trigger": {"hook": call["Hook"]}}
    execution = run_execution(store, Clock(), channel="voice", call_sid=call_sid,
                              context=context)
    return {"call": call_sid, "recording": add_voicemail(store, call_sid),
            "execution": execution}


def pages(made: dict[str, str]) -> list[str]:
    """Every kind of console page, and errors that name what the request asked for."""
    return [
        "/console/", "/console/overview.json", "/console/calls",
        f"/console/calls?number={CALLER}", f"/console/calls/{made['call']}",
        "/console/voicemails", "/console/voicemails?show=unheard",
        f"/console/voicemails/{made['recording']}",
        "/console/conversations", f"/console/conversations/{CALLER}",
        f"/console/conversation?contact={CALLER}",
        "/console/executions", f"/console/executions/{made['execution']}",
        "/console/login", "/console/calls/CA-none", "/console/not/a/page",
    ]


def asking_for(secrets: dict[str, str]) -> list[str]:
    """Console addresses that name a secret: their error pages must not repeat it."""
    urls = []
    for value in secrets.values():
        name = quote(value, safe="")
        urls += [f"/console/calls/{name}", f"/console/executions/{name}",
                 f"/console/recordings/{name}/audio", f"/console/voicemails/{name}"]
    return urls


def assert_nothing_shown(text: str, secrets: dict[str, str], where: str) -> None:
    """Neither the settings' ``secrets`` nor :data:`CARRIED` is in ``text``, as they are or
    percent-encoded."""
    for name, value in {**secrets, **CARRIED}.items():
        for form in {value, quote(value, safe=""), quote(value)}:
            assert form not in text, f"{where} shows the {name}"


def test_no_page_or_error_shows_a_secret(leaky_app: tuple[Flask, dict[str, str]]) -> None:
    app, secrets = leaky_app
    made = fill(app, secrets)
    anonymous = app.test_client()
    for page in pages(made):
        response = anonymous.get(page)
        assert_nothing_shown(response.get_data(as_text=True), secrets, f"{page} (logged out)")
    client = app.test_client()
    assert log_in(client, CONSOLE_PASSWORD).status_code == 303
    for page in [*pages(made), *asking_for(secrets)]:
        response = client.get(page)
        assert response.status_code in (200, 302, 303, 404), page
        text = response.get_data(as_text=True)
        assert_nothing_shown(text, secrets, page)
        assert_nothing_shown(" ".join(f"{k}: {v}" for k, v in response.headers.items()),
                             secrets, f"{page}'s headers")
    call_page = client.get(f"/console/calls/{made['call']}").text
    assert "********" in call_page  # masked, not dropped
    assert "https://owner:***@hooks.example/" in call_page
    assert "sip:desk:***@pbx.example.com" in call_page
    assert "api_key=***" in call_page
    conversation = client.get(f"/console/conversations/{CALLER}").text
    assert "postgresql://app:***@db.example/app" in conversation


def test_no_log_line_shows_a_secret(leaky_app: tuple[Flask, dict[str, str]],
                                    caplog: pytest.LogCaptureFixture) -> None:
    app, secrets = leaky_app
    with caplog.at_level(logging.INFO):
        made = fill(app, secrets)
        client = app.test_client()
        assert log_in(client, CONSOLE_PASSWORD).status_code == 303
        for page in [*pages(made), *asking_for(secrets)]:
            client.get(page)
    assert_nothing_shown(caplog.text, secrets, "the app's log")

    note = carrying(secrets)
    line = shown_by_one_line("webhook failed: %s", note)
    assert_nothing_shown(line, secrets, "a log line")
    assert "sip:desk:***@pbx.example.com" in line
    try:
        raise OSError(f"cannot post: {note}")
    except OSError:
        traceback = shown_by_one_line("handler failed", exc_info=sys.exc_info())
    assert_nothing_shown(traceback, secrets, "a traceback")


def test_a_console_password_and_key_given_in_app_config_are_hidden_in_log_lines(
    sqlite_url: str,
) -> None:
    password, key = "app-config-password-6c1f", "app-config-secret-key-0e8b7d2a"
    app = create_app({"TESTING": True, "SWITCHBOARD_DATABASE_URL": sqlite_url,
                      "TWILIO_AUTH_TOKEN": AUTH_TOKEN})
    try:
        app.config.update(SWITCHBOARD_CONSOLE_PASSWORD=password, SWITCHBOARD_SECRET_KEY=key)
        assert register_console(app) is not None
        line = shown_by_one_line("login failed with %s and %s", password, key)
    finally:
        app.extensions["switchboard"].store.close()
    assert password not in line
    assert key not in line
    assert line == "login failed with *** and ***\n"


def shown_by_one_line(message: str, *args: object, exc_info: Any = None) -> str:
    """What a handler with :class:`OneLine` writes for a record."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(OneLine())
    handler.handle(logging.LogRecord("switchboard.callbacks", logging.WARNING, __file__, 1,
                                     message, args or None, exc_info))
    return stream.getvalue()


def test_the_logs_and_the_console_hide_the_same_setting_values(sqlite_url: str) -> None:
    config, secrets = settings_config("password setting", sqlite_url)
    config["SWITCHBOARD_DATABASE_URL"] = (
        f"postgresql://app:{quote(DATABASE_PASSWORD)}@db.example/app?sslpassword=ssl-pass-77a1")
    settings = load_settings(overrides=config)
    listed = secret_values(settings)
    assert secrets_of(settings) == list(listed)
    for value in [*secrets.values(), DATABASE_PASSWORD, "ssl-pass-77a1"]:
        assert value in listed, value
    for field in FIELDS.values():  # every field marked secret is on the list
        if field.secret and field.name != "console_password_hash":
            value = getattr(settings, field.name)
            assert value is not None, field.name
            held = getattr(value, "password", value).reveal()
            assert held in listed, field.name
    assert listed == tuple(sorted(listed, key=len, reverse=True))  # one holding another: whole


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("postgresql://switchboard:db-pa55word@db.example/sb", "db-pa55word"),
        ("see https://user:hunter2-pass@api.example/v1 now", "hunter2-pass"),
        ("https://user:pa ss-word@api.example/v1", "ss-word"),
        ("https://user:pa/ss-word@api.example/v1", "ss-word"),
        ("https://u:p?ss-word@h.example/a", "ss-word"),
        ("<Sip>sips:desk:pin-5512@pbx</Sip>", "pin-5512"),
        ("call SIP:desk:pin-5512@pbx now", "pin-5512"),
        ("https://api.example/hook?x=1&api_key=ak-value-99", "ak-value-99"),
        ("<Say>token=tk-value-42</Say>", "tk-value-42"),
        ("token=tk-value</cd-rest", "</cd-rest"),
        ("<Say>token=tk-value</cd more</Say>", "tk-value</cd"),
        ('<Sip username="desk" password="pin-5512">sip:desk@pbx</Sip>', "pin-5512"),
    ],
)
def test_credentials_in_text_are_hidden(text: str, secret: str) -> None:
    assert secret not in hide_credentials(text)
    assert "***" in hide_credentials(text)


def test_twiml_keeps_all_but_its_credentials() -> None:
    assert hide_credentials("<Say>token=tk-value-42</Say><Pause/>") == (
        "<Say>token=***</Say><Pause/>")
    assert hide_credentials("<Say>token=ab</cd more</Say>") == "<Say>token=*** more</Say>"
    gather = '<Gather finishOnKey="#" action="/voice/menu"><Say>Hello</Say></Gather>'
    assert hide_credentials(gather) == gather



def test_a_secret_is_listed_as_text_a_url_and_a_form_write_it() -> None:
    listed = secret_values(None, "correct horse battery")
    assert set(listed) == {"correct horse battery", "correct%20horse%20battery",
                           "correct+horse+battery"}
